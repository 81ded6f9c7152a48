package sqlstore

// PostgreSQL goes through pgx's database/sql driver, so that both engines
// share one implementation; only the dialect table differs.
import _ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
