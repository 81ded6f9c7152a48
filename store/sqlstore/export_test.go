package sqlstore

// LatestSchema is the schema version Open brings a database to.
var LatestSchema = len(migrations)
