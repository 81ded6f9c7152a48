package sqlstore

// LatestSchema is the schema version Open brings a database to.
var LatestSchema = migrations[len(migrations)-1].version

// MigrationSteps is the number of migrations (versions may skip numbers).
var MigrationSteps = len(migrations)
