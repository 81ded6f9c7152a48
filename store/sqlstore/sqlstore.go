// Package sqlstore is the SQL [store.Store]: embedded SQLite by default
// (modernc.org/sqlite, pure Go, no cgo) and PostgreSQL for several replicas
// (pgx), behind database/sql with one schema and a small dialect table.
//
// [Open] runs the migrations in code, one transaction per step, recorded in
// a schema_migrations table, and is safe when two processes open the same
// database at once. On SQLite the database is in WAL mode with a busy
// timeout and every write transaction starts with BEGIN IMMEDIATE, so
// writers from several processes queue instead of failing; within one
// process writes are also serialized by a lock so they do not spin on the
// busy handler. On PostgreSQL, migrations and key-set updates take
// transaction-scoped advisory locks and read-modify-write updates lock
// their row (SELECT … FOR UPDATE), so concurrent replicas never lose an
// update. Every call is bounded by [DefaultTimeout] (or the caller's
// shorter deadline).
//
// Times are stored as Unix nanoseconds in BIGINT columns (0 for the zero
// time), durations as nanoseconds, lists and maps as JSON text: exact and
// identical on both engines.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers "sqlite"

	"github.com/m2mkit/m2m/internal/redact"
	"github.com/m2mkit/m2m/store"
)

// Bounds on the time a call may take.
const (
	// DefaultTimeout bounds every store call that has no shorter deadline.
	DefaultTimeout = 10 * time.Second
	// BusyTimeout is how long a SQLite writer waits for another process's
	// write transaction before failing.
	BusyTimeout = 5 * time.Second
	// ConnectTimeout is the PostgreSQL connect_timeout set when the URL
	// has none.
	ConnectTimeout = 5 * time.Second
	// pruneEvery is how often RevokeToken deletes expired revocations.
	pruneEvery = time.Minute
)

// Store is a [store.Store] on a SQL database. It is safe for concurrent
// use, including by several processes sharing the database.
type Store struct {
	// Now returns the current time, used to expire revocations (nil:
	// time.Now). Set it before first use.
	Now func() time.Time

	db *sql.DB
	d  *dialect
	// wsem serializes write transactions (SQLite): a one-slot semaphore
	// rather than a mutex, so that a writer waiting for it gives up when
	// its context ends.
	wsem chan struct{}

	lastPrune atomic.Int64
	warnings  []string

	// revokedStmt is the prepared lookup of IsRevoked, which an
	// introspection endpoint or a revocation-checking API runs for
	// every request: prepared once instead of parsed every time.
	stmtMu      sync.Mutex
	revokedStmt atomic.Pointer[sql.Stmt]
}

var _ store.Store = (*Store)(nil)

// dialect holds what differs between the engines.
type dialect struct {
	name   string
	driver string
	blob   string // binary column type
	max    string // two-argument maximum function
	serial string // auto-increment integer primary key column type
	// dollar rewrites ? placeholders to $1, $2, …
	dollar bool
	// maxConns bounds the connection pool.
	maxConns int
	// serialize takes Store.wsem around write transactions.
	serialize bool
	// forUpdate is appended to the SELECT of a read-modify-write.
	forUpdate string
	// lock returns the statement that takes the advisory lock id for the
	// rest of the transaction ("" when the engine needs none).
	lock func(id int64) string
}

var (
	sqliteDialect = &dialect{
		name: "sqlite", driver: "sqlite", blob: "BLOB", max: "MAX", serial: "INTEGER PRIMARY KEY AUTOINCREMENT",
		maxConns: 4, serialize: true,
		lock: func(int64) string { return "" },
	}
	postgresDialect = &dialect{
		name: "postgres", driver: "pgx", blob: "BYTEA", max: "GREATEST", serial: "BIGSERIAL PRIMARY KEY",
		maxConns: 8, dollar: true, forUpdate: " FOR UPDATE",
		lock: func(id int64) string { return "SELECT pg_advisory_xact_lock(" + strconv.FormatInt(id, 10) + ")" },
	}
)

// Advisory lock ids (PostgreSQL): "m2m" and a number.
const (
	lockMigrate int64 = 0x6d326d_01
	lockKeys    int64 = 0x6d326d_02
	// lockSettings serializes UpdateSetting (settings.go), which may
	// insert a row that SELECT … FOR UPDATE could not lock.
	lockSettings int64 = 0x6d326d_03
)

// q rewrites a query written with ? placeholders for the dialect.
func (d *dialect) q(query string) string {
	if !d.dollar {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// Open opens (creating if needed) the database named by url and brings its
// schema up to date:
//
//   - "sqlite:///abs/path/m2m.db", "sqlite:relative/m2m.db" or a plain file
//     path: SQLite. A new database file is created with mode 0600; an
//     existing one that group or others may access is opened all the
//     same (existing installs keep working) and reported by
//     [Store.Warnings].
//   - "postgres://user@host:5432/db?sslmode=disable" (or "postgresql://"):
//     PostgreSQL; the URL is passed to pgx, with connect_timeout added if
//     absent. Tables are created in the connection's search_path.
//
// Open is OpenWith with the zero [Options].
func Open(ctx context.Context, url string) (*Store, error) {
	return OpenWith(ctx, url, Options{})
}

// ErrNoDatabase is the error (wrapped) of [OpenWith] with
// [Options.MustExist] when url names no m2m database yet.
var ErrNoDatabase = errors.New("sqlstore: no m2m database there")

// Options adjust [OpenWith]. The zero Options is what [Open] does: create
// the database when it does not exist.
type Options struct {
	// MustExist refuses, with an error wrapping [ErrNoDatabase], a
	// database that m2m has not created yet: a SQLite file that does not
	// exist (none is created) or that has no m2m schema, or a PostgreSQL
	// database without m2m's tables (none are created). Tools that
	// administer an existing server use it, so that a mistyped path or
	// URL fails instead of creating an empty database. An m2m database of
	// an older schema is brought up to date as by Open.
	MustExist bool
}

// OpenWith is [Open] with options.
func OpenWith(ctx context.Context, url string, opts Options) (*Store, error) {
	var d *dialect
	var dsn string
	var warnings []string
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		if masked := redact.URL(url); strings.HasSuffix(masked, redact.Withheld) {
			// Neither the URL nor pgx's parse error (which echoes it) is
			// shown: it may hold a password.
			return nil, errors.New("sqlstore: cannot parse the PostgreSQL URL (not shown: it may hold a password)")
		}
		d, dsn = postgresDialect, url
		if !strings.Contains(url, "connect_timeout=") {
			sep := "?"
			if strings.Contains(url, "?") {
				sep = "&"
			}
			dsn += sep + "connect_timeout=" + strconv.Itoa(int(ConnectTimeout/time.Second))
		}
	default:
		path := url
		if p, ok := strings.CutPrefix(url, "sqlite://"); ok {
			path = p
		} else if p, ok := strings.CutPrefix(url, "sqlite:"); ok {
			path = p
		} else if strings.Contains(url, "://") {
			// Only the scheme: the rest may hold a password, in the user
			// info or in a query parameter.
			scheme, _, _ := strings.Cut(url, "://")
			if !urlScheme.MatchString(scheme) {
				// Not a scheme: "user:password@host://..." mistyped.
				return nil, errors.New("sqlstore: unsupported database URL (want sqlite:// or postgres://)")
			}
			return nil, fmt.Errorf("sqlstore: unsupported database URL scheme %q (want sqlite:// or postgres://)", scheme)
		}
		if keywordDSN.MatchString(path) {
			// Not a file name: a PostgreSQL keyword/value string, which
			// would otherwise become a file named after its password.
			return nil, fmt.Errorf("sqlstore: %q is a keyword/value connection string; give PostgreSQL as a postgres:// URL", redact.URL(path))
		}
		if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
			return nil, fmt.Errorf("sqlstore: bad SQLite path %q", redact.URL(path))
		}
		if opts.MustExist {
			fi, err := os.Stat(path)
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%w: SQLite file %s does not exist", ErrNoDatabase, path)
			}
			if err != nil {
				return nil, fmt.Errorf("sqlstore: %w", err)
			}
			if !fi.Mode().IsRegular() {
				return nil, fmt.Errorf("%w: %s is not a regular file", ErrNoDatabase, path)
			}
			if fi.Size() == 0 {
				// Opening it would write SQLite's header (WAL mode).
				return nil, fmt.Errorf("%w: SQLite file %s is empty", ErrNoDatabase, path)
			}
		} else if err := createPrivate(path); err != nil {
			return nil, err
		}
		warnings = permissionWarnings(path)
		d = sqliteDialect
		dsn = path + "?_busy_timeout=" + strconv.Itoa(int(BusyTimeout/time.Millisecond)) +
			"&_journal_mode=WAL&_txlock=immediate&_foreign_keys=1"
	}
	db, err := sql.Open(d.driver, dsn)
	if err != nil {
		return nil, hideDSN(d, fmt.Errorf("sqlstore: open %s: %w", d.name, err), dsn)
	}
	// Few connections (the token server caches clients and keys, and
	// each SQLite connection has its own page cache), all of them kept
	// idle: revocation lookups come with every introspection, and a
	// connection closed after each burst is a new connection (for SQLite
	// its pragmas and schema read) for the next.
	db.SetMaxOpenConns(d.maxConns)
	db.SetMaxIdleConns(d.maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{db: db, d: d, wsem: make(chan struct{}, 1), warnings: warnings}
	if opts.MustExist {
		if err := s.checkExists(ctx); err != nil {
			db.Close()
			return nil, hideDSN(d, err, dsn)
		}
	}
	if err := s.migrateRetrying(ctx); err != nil {
		db.Close()
		// The driver's errors may echo the connection string.
		return nil, hideDSN(d, err, dsn)
	}
	return s, nil
}

// hideDSN masks the credentials of a PostgreSQL connection string in err,
// whose text the driver may have made from it. A SQLite DSN is a file
// name and holds none.
func hideDSN(d *dialect, err error, dsn string) error {
	if d != postgresDialect {
		return err
	}
	return redact.Error(err, dsn)
}

// urlScheme matches a URL scheme (RFC 3986 section 3.1).
var urlScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)

// keywordDSN matches the start of a PostgreSQL keyword/value connection
// string ("host=db ...", "dbname = m2m ...").
var keywordDSN = regexp.MustCompile(`^\s*[A-Za-z_]+\s*=`)

// checkExists returns an error wrapping ErrNoDatabase unless the
// database holds m2m's schema_migrations table with at least one step.
func (s *Store) checkExists(ctx context.Context) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`
	if s.d == postgresDialect {
		q = `SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE tablename = 'schema_migrations' AND schemaname = ANY (current_schemas(false))`
	}
	var n int
	if err := s.db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return fmt.Errorf("sqlstore: open %s: %w", s.d.name, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: the %s database has no m2m tables", ErrNoDatabase, s.d.name)
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if v == 0 {
		return fmt.Errorf("%w: the %s database has no m2m schema", ErrNoDatabase, s.d.name)
	}
	return nil
}

// migrateRetrying runs migrate, trying again for up to BusyTimeout when
// SQLite answers SQLITE_BUSY without waiting. SQLite skips the busy
// handler in a few start-up races (another process is converting the
// file to WAL mode or running WAL recovery), so two processes opening a
// new database at the same moment could otherwise fail instead of taking
// turns.
func (s *Store) migrateRetrying(ctx context.Context) error {
	deadline := time.Now().Add(BusyTimeout)
	for {
		err := s.migrate(ctx)
		if err == nil || s.d != sqliteDialect || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(20+mrand.IntN(80)) * time.Millisecond):
		}
	}
}

// isBusy reports whether err is SQLite's SQLITE_BUSY (primary code 5).
func isBusy(err error) bool {
	var coder interface{ Code() int }
	return errors.As(err, &coder) && coder.Code()&0xff == 5
}

// createPrivate creates the SQLite file with mode 0600 if it does not
// exist, so that SQLite (which gives its -wal and -shm files the
// database's mode) never makes it world-readable.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlstore: create %s: %w", path, err)
	}
	return f.Close()
}

// permissionWarnings reports the SQLite database file and its -wal and
// -shm companions that group or others may access: they hold client
// secret hashes and signing keys. Mode bits mean nothing on Windows.
func permissionWarnings(path string) []string {
	if runtime.GOOS == "windows" {
		return nil
	}
	var w []string
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		w = append(w, fmt.Sprintf("sqlstore: %s has mode %04o: group or others can read the credentials it holds; fix with: chmod 600 %s",
			p, fi.Mode().Perm(), p))
	}
	return w
}

// Warnings returns the problems Open found but did not refuse, such as a
// SQLite database file that group or others may read (mode 0644 instead
// of 0600), each with its fix; nil when there are none. Show them to the
// operator.
func (s *Store) Warnings() []string { return slices.Clone(s.warnings) }

// Dialect reports the engine: "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.d.name }

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, DefaultTimeout)
}

// write runs fn in a write transaction (BEGIN IMMEDIATE on SQLite) and
// commits it if fn returns nil. fn must run its statements with the ctx
// it is given, which carries the [DefaultTimeout] bound: the caller's
// context may have no deadline, and a statement stuck under it would hold
// the transaction (and Rollback, which waits for it) forever.
func (s *Store) write(ctx context.Context, lock int64, fn func(context.Context, *sql.Tx) error) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	if s.d.serialize {
		select {
		case s.wsem <- struct{}{}:
			defer func() { <-s.wsem }()
		case <-ctx.Done():
			return fmt.Errorf("sqlstore: wait for the write lock: %w", ctx.Err())
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: begin: %w", err)
	}
	defer tx.Rollback()
	if lock != 0 {
		if stmt := s.d.lock(lock); stmt != "" {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("sqlstore: lock: %w", err)
			}
		}
	}
	if err := fn(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	return nil
}

// migration is one schema step. Its SQL may use {{blob}} and {{serial}}
// (an auto-increment integer primary key).
type migration struct {
	version int
	stmts   []string
}

var migrations = []migration{
	{1, []string{
		`CREATE TABLE clients (
			id TEXT PRIMARY KEY,
			name TEXT NOT NULL,
			secret_hash {{blob}},
			secret_algorithm TEXT NOT NULL,
			prev_secret_hash {{blob}},
			prev_secret_algorithm TEXT NOT NULL,
			prev_secret_expires_at BIGINT NOT NULL,
			audiences TEXT NOT NULL,
			scopes TEXT NOT NULL,
			token_ttl BIGINT NOT NULL,
			rate_limit_per_second DOUBLE PRECISION NOT NULL,
			rate_limit_burst BIGINT NOT NULL,
			profile TEXT NOT NULL,
			disabled BOOLEAN NOT NULL,
			revoked_before BIGINT NOT NULL,
			metadata TEXT NOT NULL,
			created_at BIGINT NOT NULL,
			updated_at BIGINT NOT NULL
		)`,
		`CREATE TABLE signing_keys (
			id TEXT PRIMARY KEY,
			algorithm TEXT NOT NULL,
			state TEXT NOT NULL,
			private_key {{blob}},
			public_jwk {{blob}},
			created_at BIGINT NOT NULL,
			activated_at BIGINT NOT NULL,
			retired_at BIGINT NOT NULL,
			publish_until BIGINT NOT NULL
		)`,
		`CREATE TABLE revocations (
			jti TEXT PRIMARY KEY,
			expires_at BIGINT NOT NULL
		)`,
		`CREATE INDEX revocations_expires_at ON revocations (expires_at)`,
	}},
	// Server settings (settings.go): the issuer the database serves.
	{2, []string{
		`CREATE TABLE settings (
			name TEXT PRIMARY KEY,
			value TEXT NOT NULL,
			updated_at BIGINT NOT NULL
		)`,
	}},
	// Client authentication methods (RFC 7591 token_endpoint_auth_method)
	// and the keys of private_key_jwt clients (RFC 7523): existing clients
	// keep "" (their secret, as before).
	{3, []string{
		`ALTER TABLE clients ADD COLUMN auth_method TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE clients ADD COLUMN jwks {{blob}}`,
		`ALTER TABLE clients ADD COLUMN jwks_uri TEXT NOT NULL DEFAULT ''`,
	}},
	// Clients that must prove possession of a key with DPoP (RFC 9449):
	// existing clients keep false (a proof is optional, as before).
	{4, []string{
		`ALTER TABLE clients ADD COLUMN require_dpop BOOLEAN NOT NULL DEFAULT FALSE`,
	}},
	// Trust policies (trust.go): external workload identities that
	// authenticate as a client. Lists and maps are JSON text, durations
	// nanoseconds, as for clients.
	{5, []string{
		`CREATE TABLE trust_policies (
			name TEXT PRIMARY KEY,
			issuer TEXT NOT NULL,
			jwks_uri TEXT NOT NULL,
			jwks {{blob}},
			audiences TEXT NOT NULL,
			subject TEXT NOT NULL,
			claims TEXT NOT NULL,
			client_id TEXT NOT NULL,
			scopes TEXT NOT NULL,
			max_ttl BIGINT NOT NULL,
			single_use BOOLEAN NOT NULL,
			preset TEXT NOT NULL,
			created_at BIGINT NOT NULL,
			updated_at BIGINT NOT NULL
		)`,
	}},
	// Mutual-TLS clients (RFC 8705): the certificate name of a
	// tls_client_auth client, and per-client certificate binding; existing
	// clients keep none and false.
	{6, []string{
		`ALTER TABLE clients ADD COLUMN tls_subject TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE clients ADD COLUMN tls_san_dns TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE clients ADD COLUMN tls_san_uri TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE clients ADD COLUMN tls_san_ip TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE clients ADD COLUMN tls_san_email TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE clients ADD COLUMN tls_bound_tokens BOOLEAN NOT NULL DEFAULT FALSE`,
	}},
	// Usage telemetry, quotas and the audit log (usage.go): per-client
	// quotas (existing clients have none), when the current secret was
	// made (existing clients: unknown, 0), hourly usage counters summed
	// across replicas, each client's last use, and the audit events.
	{7, usageMigration},
}

// schemaVersion is the version of the newest migration.
var schemaVersion = migrations[len(migrations)-1].version

// migrate applies the missing migrations, one transaction each, under the
// write lock (SQLite) or an advisory lock (PostgreSQL), so that two
// processes opening the database at once apply each step exactly once.
func (s *Store) migrate(ctx context.Context) error {
	for _, m := range migrations {
		err := s.write(ctx, lockMigrate, func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
				version BIGINT PRIMARY KEY,
				applied_at BIGINT NOT NULL
			)`); err != nil {
				return err
			}
			var latest int
			if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&latest); err != nil {
				return err
			}
			if newest := migrations[len(migrations)-1].version; latest > newest {
				return fmt.Errorf("database schema version %d is newer than this program's (%d)", latest, newest)
			}
			if latest >= m.version {
				return nil
			}
			for _, stmt := range m.stmts {
				stmt = strings.NewReplacer("{{blob}}", s.d.blob, "{{serial}}", s.d.serial).Replace(stmt)
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return err
				}
			}
			_, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), m.version, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlstore: migration %d: %w", m.version, err)
		}
	}
	return nil
}

// SchemaVersion returns the latest applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	var v int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlstore: schema version: %w", err)
	}
	return v, nil
}

// minTime and maxTime bound the instants that Unix nanoseconds in a
// BIGINT can hold (years 1677 to 2262).
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// checkTimes rejects instants that nanos cannot store: time.UnixNano
// silently wraps them, so a revocation dated 2300 would be stored as a
// date in the past and revoke nothing.
func checkTimes(ts ...time.Time) error {
	for _, t := range ts {
		if !t.IsZero() && (t.Before(minTime) || t.After(maxTime)) {
			return fmt.Errorf("time %s out of range (want 1678 to 2262)", t.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

const clientColumns = `id, name, secret_hash, secret_algorithm, prev_secret_hash, prev_secret_algorithm,
	prev_secret_expires_at, audiences, scopes, token_ttl, rate_limit_per_second, rate_limit_burst,
	profile, disabled, revoked_before, metadata, created_at, updated_at, auth_method, jwks, jwks_uri, require_dpop,
	tls_subject, tls_san_dns, tls_san_uri, tls_san_ip, tls_san_email, tls_bound_tokens,
	quota_hourly, quota_daily, quota_mode, secret_created_at`

// clientArgs returns the column values of c in clientColumns order.
func clientArgs(c *store.Client) ([]any, error) {
	if err := checkTimes(c.PreviousSecretExpiresAt, c.RevokedBefore, c.CreatedAt, c.UpdatedAt, c.SecretCreatedAt); err != nil {
		return nil, err
	}
	aud, err := jsonText(c.Audiences)
	if err != nil {
		return nil, err
	}
	sc, err := jsonText(c.Scopes)
	if err != nil {
		return nil, err
	}
	md, err := jsonText(c.Metadata)
	if err != nil {
		return nil, err
	}
	return []any{c.ID, c.Name, c.SecretHash, c.SecretAlgorithm, c.PreviousSecretHash, c.PreviousSecretAlgorithm,
		nanos(c.PreviousSecretExpiresAt), aud, sc, int64(c.TokenTTL), c.RateLimitPerSecond, int64(c.RateLimitBurst),
		c.Profile, c.Disabled, nanos(c.RevokedBefore), md, nanos(c.CreatedAt), nanos(c.UpdatedAt),
		c.AuthMethod, c.JWKS, c.JWKSURI, c.RequireDPoP,
		c.TLSSubject, c.TLSSANDNS, c.TLSSANURI, c.TLSSANIP, c.TLSSANEmail, c.TLSClientCertificateBoundAccessTokens,
		c.QuotaHourly, c.QuotaDaily, c.QuotaMode, nanos(c.SecretCreatedAt)}, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanClient(r scanner) (*store.Client, error) {
	var c store.Client
	var prevExp, ttl, burst, revoked, created, updated, secretCreated int64
	var aud, sc, md string
	err := r.Scan(&c.ID, &c.Name, &c.SecretHash, &c.SecretAlgorithm, &c.PreviousSecretHash, &c.PreviousSecretAlgorithm,
		&prevExp, &aud, &sc, &ttl, &c.RateLimitPerSecond, &burst,
		&c.Profile, &c.Disabled, &revoked, &md, &created, &updated, &c.AuthMethod, &c.JWKS, &c.JWKSURI, &c.RequireDPoP,
		&c.TLSSubject, &c.TLSSANDNS, &c.TLSSANURI, &c.TLSSANIP, &c.TLSSANEmail, &c.TLSClientCertificateBoundAccessTokens,
		&c.QuotaHourly, &c.QuotaDaily, &c.QuotaMode, &secretCreated)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(aud), &c.Audiences); err != nil {
		return nil, fmt.Errorf("sqlstore: client %q audiences: %w", c.ID, err)
	}
	if err := json.Unmarshal([]byte(sc), &c.Scopes); err != nil {
		return nil, fmt.Errorf("sqlstore: client %q scopes: %w", c.ID, err)
	}
	if err := json.Unmarshal([]byte(md), &c.Metadata); err != nil {
		return nil, fmt.Errorf("sqlstore: client %q metadata: %w", c.ID, err)
	}
	c.PreviousSecretExpiresAt, c.RevokedBefore = fromNanos(prevExp), fromNanos(revoked)
	c.CreatedAt, c.UpdatedAt = fromNanos(created), fromNanos(updated)
	c.SecretCreatedAt = fromNanos(secretCreated)
	c.TokenTTL, c.RateLimitBurst = time.Duration(ttl), int(burst)
	return &c, nil
}

func notFound(kind, id string) error {
	return fmt.Errorf("sqlstore: %s %q: %w", kind, id, store.ErrNotFound)
}

// CreateClient inserts c; an existing ID is [store.ErrConflict].
func (s *Store) CreateClient(ctx context.Context, c *store.Client) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	args, err := clientArgs(c)
	if err != nil {
		return fmt.Errorf("sqlstore: client %q: %w", c.ID, err)
	}
	return s.write(ctx, 0, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO clients (`+clientColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`), args...)
		if err != nil {
			return fmt.Errorf("sqlstore: create client: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("sqlstore: client %q: %w", c.ID, store.ErrConflict)
		}
		return nil
	})
}

// GetClient returns the client with the given ID.
func (s *Store) GetClient(ctx context.Context, id string) (*store.Client, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	c, err := scanClient(s.db.QueryRowContext(ctx, s.d.q(`SELECT `+clientColumns+` FROM clients WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("client", id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get client: %w", err)
	}
	return c, nil
}

// ListClients returns every client, ordered by creation time then ID.
func (s *Store) ListClients(ctx context.Context) ([]*store.Client, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, `SELECT `+clientColumns+` FROM clients ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list clients: %w", err)
	}
	defer rows.Close()
	var out []*store.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list clients: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list clients: %w", err)
	}
	return out, nil
}

// UpdateClient runs update on the client inside a write transaction that
// holds the row, and stores the result. The ID cannot be changed.
func (s *Store) UpdateClient(ctx context.Context, id string, update func(*store.Client) error) (*store.Client, error) {
	var out *store.Client
	err := s.write(ctx, 0, func(ctx context.Context, tx *sql.Tx) error {
		c, err := scanClient(tx.QueryRowContext(ctx, s.d.q(`SELECT `+clientColumns+` FROM clients WHERE id = ?`+s.d.forUpdate), id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("client", id)
		}
		if err != nil {
			return fmt.Errorf("sqlstore: update client: %w", err)
		}
		before := c.Clone()
		if err := update(c); err != nil {
			return err
		}
		c.ID = id
		if err := store.ValidateUpdate(before, c); err != nil {
			return fmt.Errorf("sqlstore: %w", err)
		}
		args, err := clientArgs(c)
		if err != nil {
			return fmt.Errorf("sqlstore: client %q: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, s.d.q(`UPDATE clients SET name = ?, secret_hash = ?, secret_algorithm = ?,
			prev_secret_hash = ?, prev_secret_algorithm = ?, prev_secret_expires_at = ?, audiences = ?, scopes = ?,
			token_ttl = ?, rate_limit_per_second = ?, rate_limit_burst = ?, profile = ?, disabled = ?,
			revoked_before = ?, metadata = ?, created_at = ?, updated_at = ?, auth_method = ?, jwks = ?,
			jwks_uri = ?, require_dpop = ?, tls_subject = ?, tls_san_dns = ?, tls_san_uri = ?, tls_san_ip = ?,
			tls_san_email = ?, tls_bound_tokens = ?,
			quota_hourly = ?, quota_daily = ?, quota_mode = ?, secret_created_at = ? WHERE id = ?`), append(args[1:], id)...); err != nil {
			return fmt.Errorf("sqlstore: update client: %w", err)
		}
		out = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out.Clone(), nil
}

func (s *Store) deleteRow(ctx context.Context, tx *sql.Tx, table, kind, id string) error {
	res, err := tx.ExecContext(ctx, s.d.q(`DELETE FROM `+table+` WHERE id = ?`), id)
	if err != nil {
		return fmt.Errorf("sqlstore: delete %s: %w", kind, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return notFound(kind, id)
	}
	return nil
}

const keyColumns = `id, algorithm, state, private_key, public_jwk, created_at, activated_at, retired_at, publish_until`

func keyArgs(k *store.SigningKey) ([]any, error) {
	if err := checkTimes(k.CreatedAt, k.ActivatedAt, k.RetiredAt, k.PublishUntil); err != nil {
		return nil, fmt.Errorf("sqlstore: key %q: %w", k.ID, err)
	}
	return []any{k.ID, k.Algorithm, string(k.State), k.PrivateKey, k.PublicJWK,
		nanos(k.CreatedAt), nanos(k.ActivatedAt), nanos(k.RetiredAt), nanos(k.PublishUntil)}, nil
}

func scanKey(r scanner) (*store.SigningKey, error) {
	var k store.SigningKey
	var state string
	var created, activated, retired, until int64
	if err := r.Scan(&k.ID, &k.Algorithm, &state, &k.PrivateKey, &k.PublicJWK, &created, &activated, &retired, &until); err != nil {
		return nil, err
	}
	k.State = store.KeyState(state)
	k.CreatedAt, k.ActivatedAt = fromNanos(created), fromNanos(activated)
	k.RetiredAt, k.PublishUntil = fromNanos(retired), fromNanos(until)
	return &k, nil
}

func (s *Store) insertKey(ctx context.Context, tx *sql.Tx, k *store.SigningKey) error {
	if k.ID == "" {
		return errors.New("sqlstore: key with an empty ID")
	}
	args, err := keyArgs(k)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO signing_keys (`+keyColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`), args...)
	if err != nil {
		return fmt.Errorf("sqlstore: create key: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("sqlstore: key %q: %w", k.ID, store.ErrConflict)
	}
	return nil
}

func (s *Store) updateKeyRow(ctx context.Context, tx *sql.Tx, k *store.SigningKey) error {
	args, err := keyArgs(k)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.d.q(`UPDATE signing_keys SET algorithm = ?, state = ?, private_key = ?,
		public_jwk = ?, created_at = ?, activated_at = ?, retired_at = ?, publish_until = ? WHERE id = ?`), append(args[1:], k.ID)...)
	if err != nil {
		return fmt.Errorf("sqlstore: update key: %w", err)
	}
	return nil
}

// CreateKey inserts k; an existing ID is [store.ErrConflict].
func (s *Store) CreateKey(ctx context.Context, k *store.SigningKey) error {
	return s.write(ctx, lockKeys, func(ctx context.Context, tx *sql.Tx) error { return s.insertKey(ctx, tx, k) })
}

// GetKey returns the key with the given ID.
func (s *Store) GetKey(ctx context.Context, id string) (*store.SigningKey, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	k, err := scanKey(s.db.QueryRowContext(ctx, s.d.q(`SELECT `+keyColumns+` FROM signing_keys WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("key", id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get key: %w", err)
	}
	return k, nil
}

// ListKeys returns every key, oldest first.
func (s *Store) ListKeys(ctx context.Context) ([]*store.SigningKey, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	return listKeys(ctx, s.db)
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func listKeys(ctx context.Context, q querier) ([]*store.SigningKey, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+keyColumns+` FROM signing_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list keys: %w", err)
	}
	defer rows.Close()
	var out []*store.SigningKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list keys: %w", err)
	}
	return out, nil
}

// UpdateKey runs update on the key inside a write transaction and stores
// the result. The ID cannot be changed.
func (s *Store) UpdateKey(ctx context.Context, id string, update func(*store.SigningKey) error) (*store.SigningKey, error) {
	var out *store.SigningKey
	err := s.write(ctx, lockKeys, func(ctx context.Context, tx *sql.Tx) error {
		k, err := scanKey(tx.QueryRowContext(ctx, s.d.q(`SELECT `+keyColumns+` FROM signing_keys WHERE id = ?`+s.d.forUpdate), id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("key", id)
		}
		if err != nil {
			return fmt.Errorf("sqlstore: update key: %w", err)
		}
		if err := update(k); err != nil {
			return err
		}
		k.ID = id
		if err := s.updateKeyRow(ctx, tx, k); err != nil {
			return err
		}
		out = k
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out.Clone(), nil
}

// DeleteKey removes the key with the given ID.
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	return s.write(ctx, lockKeys, func(ctx context.Context, tx *sql.Tx) error {
		return s.deleteRow(ctx, tx, "signing_keys", "key", id)
	})
}

// UpdateKeys runs update on all keys (oldest first) in one write
// transaction that excludes every other key write, and stores what it
// returns: existing IDs are updated, new IDs created. When update returns
// nothing, nothing is written.
func (s *Store) UpdateKeys(ctx context.Context, update func([]*store.SigningKey) ([]*store.SigningKey, error)) error {
	return s.write(ctx, lockKeys, func(ctx context.Context, tx *sql.Tx) error {
		keys, err := listKeys(ctx, tx)
		if err != nil {
			return err
		}
		exists := make(map[string]bool, len(keys))
		for _, k := range keys {
			exists[k.ID] = true
		}
		out, err := update(keys)
		if err != nil {
			return err
		}
		for _, k := range out {
			if exists[k.ID] {
				err = s.updateKeyRow(ctx, tx, k)
			} else {
				err = s.insertKey(ctx, tx, k)
				exists[k.ID] = true
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// RevokeToken records jti as revoked until expiry; revoking again keeps
// the later expiry. A zero expiry returns an error wrapping
// [store.ErrNoExpiry]; an expiry already past records nothing that
// IsRevoked reports (the token is invalid anyway). Expired records are
// deleted at most once a minute.
func (s *Store) RevokeToken(ctx context.Context, jti string, expiry time.Time) error {
	if expiry.IsZero() {
		return fmt.Errorf("sqlstore: revoke token: %w", store.ErrNoExpiry)
	}
	if err := checkTimes(expiry); err != nil {
		return fmt.Errorf("sqlstore: revoke token: %w", err)
	}
	now := s.now()
	prune := false
	if last := s.lastPrune.Load(); now.UnixNano()-last >= int64(pruneEvery) && s.lastPrune.CompareAndSwap(last, now.UnixNano()) {
		prune = true
	}
	return s.write(ctx, 0, func(ctx context.Context, tx *sql.Tx) error {
		if prune {
			if _, err := tx.ExecContext(ctx, s.d.q(`DELETE FROM revocations WHERE expires_at <= ?`), now.UnixNano()); err != nil {
				return fmt.Errorf("sqlstore: prune revocations: %w", err)
			}
		}
		_, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO revocations (jti, expires_at) VALUES (?, ?)
			ON CONFLICT (jti) DO UPDATE SET expires_at = `+s.d.max+`(revocations.expires_at, excluded.expires_at)`), jti, nanos(expiry))
		if err != nil {
			return fmt.Errorf("sqlstore: revoke token: %w", err)
		}
		return nil
	})
}

// IsRevoked reports whether jti is revoked and its revocation has not
// expired.
func (s *Store) IsRevoked(ctx context.Context, jti string) (bool, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	stmt, err := s.revokedQuery(ctx)
	if err != nil {
		return false, fmt.Errorf("sqlstore: is revoked: %w", err)
	}
	var n int
	err = stmt.QueryRowContext(ctx, jti, s.now().UnixNano()).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("sqlstore: is revoked: %w", err)
	}
	return n > 0, nil
}

// revokedQuery returns IsRevoked's prepared statement, preparing it on
// first use (again after a failure: a database that was away is not a
// reason to stop trying).
func (s *Store) revokedQuery(ctx context.Context) (*sql.Stmt, error) {
	if st := s.revokedStmt.Load(); st != nil {
		return st, nil
	}
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if st := s.revokedStmt.Load(); st != nil {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, s.d.q(`SELECT COUNT(*) FROM revocations WHERE jti = ? AND expires_at > ?`))
	if err != nil {
		return nil, err
	}
	s.revokedStmt.Store(st)
	return st, nil
}

// Ping checks that the database answers a query.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	var one int
	if err := s.db.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("sqlstore: ping: %w", err)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	if st := s.revokedStmt.Load(); st != nil {
		st.Close()
	}
	return s.db.Close()
}
