package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/sqlstore"
	"github.com/m2mkit/m2m/store/storetest"
)

func openSQLite(t *testing.T, url string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open(%q) = %v", url, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformanceSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openSQLite(t, "sqlite://"+filepath.Join(t.TempDir(), "m2m.db"))
	})
}

func TestOpenURLs(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, tc := range []struct {
		url  string
		file string // created, relative to dir; "" for an error
	}{
		{"plain.db", "plain.db"},
		{filepath.Join(dir, "abs.db"), "abs.db"},
		{"sqlite://" + filepath.Join(dir, "url.db"), "url.db"},
		{"sqlite:rel.db", "rel.db"},
		{"sqlite://rel2.db", "rel2.db"},
		{"", ""},
		{"sqlite://", ""},
		{"mysql://root@localhost/m2m", ""},
		{"weird?.db", ""},
		{"file:x.db", ""},
		{filepath.Join(dir, "missing-dir", "m2m.db"), ""},
	} {
		t.Run(tc.url, func(t *testing.T) {
			s, err := sqlstore.Open(t.Context(), tc.url)
			if tc.file == "" {
				if err == nil {
					s.Close()
					t.Fatalf("Open(%q) = nil error; want an error", tc.url)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%q) = %v", tc.url, err)
			}
			defer s.Close()
			if s.Dialect() != "sqlite" {
				t.Errorf("Dialect() = %q; want sqlite", s.Dialect())
			}
			// SQLite gives its -wal and -shm files the database's mode;
			// they hold the same data. The migration wrote, so they exist.
			for _, suffix := range []string{"", "-wal", "-shm"} {
				fi, err := os.Stat(filepath.Join(dir, tc.file+suffix))
				if err != nil {
					t.Fatalf("database file: %v", err)
				}
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("database file %s mode = %v; want 0600", tc.file+suffix, fi.Mode().Perm())
				}
			}
		})
	}
}

func TestOpenRedactsPassword(t *testing.T) {
	t.Chdir(t.TempDir()) // a connection string taken for a file name lands here
	for _, url := range []string{
		// Keyword/value strings are not file names: before, the first
		// became a SQLite file named after the password.
		"host=127.0.0.1 port=1 password=hunter2",
		"dbname = m2m password='hunter2'",
		// Unparseable URLs are not echoed, by us or by pgx.
		"postgres://u:hunter2@[::1/db",
		"postgres://u:hun%zzter2@127.0.0.1:1/db",
		"postgresql://u:hunter2@127.0.0.1:port/db",
		// Parameters pgx does not know it sends to the server; not echoed.
		"postgres://u@127.0.0.1:1/db?pass=hunter2&connect_timeout=x",
		"mysql://root:hunter2@localhost/m2m",
		"mysql://root@localhost/m2m?password=hunter2",
		"mysql://root@localhost/m2m?tls=1&password=hunter2",
		// Not a scheme before "://": the user information of a URL
		// whose scheme was left out.
		"root:hunter2@db.example://m2m",
		// A SQLite path with a query is refused, and not echoed whole.
		"sqlite:/tmp/m2m.db?password=hunter2",
		// Unreachable: the driver's connection errors.
		"postgres://u:hunter2@127.0.0.1:1/db",
		"postgres://u@127.0.0.1:1/db?password=hunter2",
		// pgx redacts its own parse errors; pinned so a driver change shows.
		"postgres://u:hunter2@127.0.0.1:1/db?sslmode=bogus",
		"postgres://u@127.0.0.1:1/db?password=hunter2&sslmode=bogus",
	} {
		_, err := sqlstore.Open(t.Context(), url)
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%s) = %v; want an error without the password", strings.ReplaceAll(url, "hunter2", "PASSWORD"), err)
		}
	}
	if entries, _ := os.ReadDir("."); len(entries) != 0 {
		t.Errorf("Open created %v; want no file", entries)
	}
}

func TestMigrations(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "m2m.db")
	s := openSQLite(t, path)
	if err := s.CreateClient(ctx, &store.Client{ID: "kept"}); err != nil {
		t.Fatal(err)
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil || v != sqlstore.LatestSchema {
		t.Fatalf("SchemaVersion() = %d, %v; want %d", v, err, sqlstore.LatestSchema)
	}
	s.Close()

	// Reopening applies nothing again and keeps the data.
	s = openSQLite(t, path)
	if _, err := s.GetClient(ctx, "kept"); err != nil {
		t.Errorf("GetClient(kept) after reopen = %v", err)
	}
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows int
	if err := db.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&rows); err != nil || rows != sqlstore.MigrationSteps {
		t.Errorf("schema_migrations rows = %d, %v; want %d", rows, err, sqlstore.MigrationSteps)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}

	// A database migrated by a newer program is refused.
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)`); err != nil {
		t.Fatal(err)
	}
	if s, err := sqlstore.Open(ctx, path); err == nil || !strings.Contains(err.Error(), "newer") {
		if s != nil {
			s.Close()
		}
		t.Errorf("Open(database at version 99) = %v; want a newer-schema error", err)
	}
}

// TestConcurrentOpen opens one new database from several handles at once,
// as replicas or a server and the CLI starting together do: each migration
// is applied once and every handle works.
func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m2m.db")
	const n = 4
	stores := make([]*sqlstore.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = sqlstore.Open(t.Context(), path) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Open() #%d = %v", i, err)
		}
		defer stores[i].Close()
	}
	for i, s := range stores {
		if v, err := s.SchemaVersion(t.Context()); err != nil || v != sqlstore.LatestSchema {
			t.Errorf("store %d SchemaVersion() = %d, %v; want %d", i, v, err, sqlstore.LatestSchema)
		}
	}
}

// TestTwoHandlesNoLostUpdate increments one counter through two
// independent handles (two connection pools, like two processes), so the
// in-process mutex does not help: only SQLite's locking does.
func TestTwoHandlesNoLostUpdate(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "m2m.db")
	a, b := openSQLite(t, path), openSQLite(t, path)
	if err := a.CreateClient(ctx, &store.Client{ID: "c", RateLimitBurst: 0}); err != nil {
		t.Fatal(err)
	}
	const per = 20
	var wg sync.WaitGroup
	for _, s := range []*sqlstore.Store{a, b, a, b} {
		wg.Go(func() {
			for range per {
				if _, err := s.UpdateClient(ctx, "c", func(c *store.Client) error {
					n := c.RateLimitBurst
					runtime.Gosched()
					c.RateLimitBurst = n + 1
					return nil
				}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	c, err := b.GetClient(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	if c.RateLimitBurst != 4*per {
		t.Errorf("counter after %d increments through two handles = %d", 4*per, c.RateLimitBurst)
	}
}

func TestCanceledContext(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "m2m.db"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.GetClient(ctx, "x"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetClient(canceled) = %v; want a context error", err)
	}
	if err := s.CreateClient(ctx, &store.Client{ID: "x"}); err == nil {
		t.Errorf("CreateClient(canceled) = nil; want an error")
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping() = %v", err)
	}
	s.Close()
	if err := s.Ping(t.Context()); err == nil {
		t.Errorf("Ping() after Close = nil; want an error")
	}
}

func BenchmarkStore(b *testing.B) {
	open := map[string]func() string{
		"sqlite":   func() string { return filepath.Join(b.TempDir(), "m2m.db") },
		"postgres": func() string { return postgresURL(b) },
	}
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			if name == "postgres" && os.Getenv("M2M_TEST_POSTGRES_DSN") == "" {
				b.Skip("SKIP-BACKEND: set M2M_TEST_POSTGRES_DSN to benchmark PostgreSQL")
			}
			s, err := sqlstore.Open(b.Context(), open[name]())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			benchStore(b, s)
		})
	}
}

func benchStore(b *testing.B, s *sqlstore.Store) {
	ctx := b.Context()
	c := &store.Client{ID: "bench", Name: "bench", SecretHash: make([]byte, 32), SecretAlgorithm: "sha256",
		Audiences: []string{"https://api.example/"}, Scopes: []string{"read", "write"}, Metadata: map[string]string{"owner": "x"}}
	if err := s.CreateClient(ctx, c); err != nil {
		b.Fatal(err)
	}
	for i := range 3 {
		if err := s.CreateKey(ctx, &store.SigningKey{ID: strconv.Itoa(i), Algorithm: "ES256", State: store.KeyActive, PrivateKey: make([]byte, 160), PublicJWK: make([]byte, 200)}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("GetClient", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.GetClient(ctx, "bench"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ListKeys", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.ListKeys(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("UpdateClient", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.UpdateClient(ctx, "bench", func(c *store.Client) error { c.RateLimitBurst++; return nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("IsRevoked", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.IsRevoked(ctx, "jti"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestWriteLockWaitHonorsContext holds the SQLite write lock with an
// updater that blocks, and checks that a second writer gives up when its
// context ends instead of queueing behind the lock without bound.
func TestWriteLockWaitHonorsContext(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "m2m.db"))
	ctx := t.Context()
	if err := s.CreateClient(ctx, &store.Client{ID: "c"}); err != nil {
		t.Fatal(err)
	}
	holding, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := s.UpdateClient(ctx, "c", func(*store.Client) error {
			close(holding)
			<-release
			return nil
		})
		done <- err
	}()
	<-holding
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	got := make(chan error, 1)
	go func() { got <- s.CreateClient(short, &store.Client{ID: "d"}) }()
	select {
	case err := <-got:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("CreateClient(ctx with 50ms deadline, lock held) = %v; want context.DeadlineExceeded", err)
		}
		close(release)
	case <-time.After(5 * time.Second):
		t.Errorf("CreateClient(ctx with 50ms deadline, lock held) still waiting after 5s")
		close(release)
		<-got
	}
	if err := <-done; err != nil {
		t.Errorf("UpdateClient(holder) = %v", err)
	}
	if _, err := s.GetClient(ctx, "d"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetClient(d) = %v; want ErrNotFound (its CreateClient timed out)", err)
	}
}

// TestTimeRange: instants that Unix nanoseconds cannot hold are refused,
// not wrapped (time.UnixNano is undefined past 2262, and a wrapped
// revocation expiry lands in the past and revokes nothing).
func TestTimeRange(t *testing.T) {
	ctx := t.Context()
	s := openSQLite(t, filepath.Join(t.TempDir(), "m2m.db"))
	far := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	early := time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)
	last := time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"RevokeToken(2300)", s.RevokeToken(ctx, "far", far)},
		{"CreateClient(RevokedBefore 2300)", s.CreateClient(ctx, &store.Client{ID: "far", RevokedBefore: far})},
		{"CreateClient(CreatedAt 1600)", s.CreateClient(ctx, &store.Client{ID: "early", CreatedAt: early})},
		{"CreateKey(PublishUntil 2300)", s.CreateKey(ctx, &store.SigningKey{ID: "far", PublishUntil: far})},
	} {
		if tc.err == nil {
			t.Errorf("%s = nil; want an out-of-range error", tc.name)
		}
	}
	if _, err := s.GetClient(ctx, "far"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetClient(far) = %v; want ErrNotFound", err)
	}
	// The last representable years still round-trip.
	if err := s.RevokeToken(ctx, "late", last); err != nil {
		t.Fatalf("RevokeToken(2262) = %v", err)
	}
	if got, err := s.IsRevoked(ctx, "late"); err != nil || !got {
		t.Errorf("IsRevoked(late) = %v, %v; want true", got, err)
	}
	if err := s.CreateClient(ctx, &store.Client{ID: "late", RevokedBefore: last}); err != nil {
		t.Fatal(err)
	}
	if c, err := s.GetClient(ctx, "late"); err != nil || !c.RevokedBefore.Equal(last) {
		t.Errorf("GetClient(late).RevokedBefore = %v, %v; want %v", c.RevokedBefore, err, last)
	}
	if _, err := s.UpdateClient(ctx, "late", func(c *store.Client) error { c.RevokedBefore = far; return nil }); err == nil {
		t.Errorf("UpdateClient(RevokedBefore 2300) = nil; want an out-of-range error")
	}
}
