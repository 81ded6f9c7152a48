package sqlstore

// LatestSchema is the schema version Open brings a database to.
var LatestSchema = schemaVersion

// Migrations is the number of migrations Open applies to a new database.
var Migrations = len(migrations)
