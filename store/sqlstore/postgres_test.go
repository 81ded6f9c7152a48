package sqlstore_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2mkit/m2m/internal/testbackend"

	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/sqlstore"
	"github.com/m2mkit/m2m/store/storetest"
)

// postgresURL returns a URL for a fresh schema on the server named by
// M2M_TEST_POSTGRES_DSN (dropped when the test ends), or skips.
func postgresURL(t testing.TB) string {
	t.Helper()
	return testbackend.PostgresSchema(t, "m2m_test_")
}

func openPostgres(t *testing.T, url string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open(postgres) = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformancePostgres(t *testing.T) {
	postgresURL(t) // skip early
	storetest.Run(t, func(t *testing.T) store.Store {
		s := openPostgres(t, postgresURL(t))
		if s.Dialect() != "postgres" {
			t.Fatalf("Dialect() = %q; want postgres", s.Dialect())
		}
		return s
	})
}

// TestPostgresConcurrentOpen starts several "replicas" on one empty
// schema at once: the advisory lock applies each migration once.
func TestPostgresConcurrentOpen(t *testing.T) {
	u := postgresURL(t)
	const n = 4
	stores := make([]*sqlstore.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = sqlstore.Open(t.Context(), u) })
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
	// Two pools, one counter: row locks keep every update.
	a, b := stores[0], stores[1]
	ctx := t.Context()
	if err := a.CreateClient(ctx, &store.Client{ID: "c"}); err != nil {
		t.Fatal(err)
	}
	const per = 10
	for _, s := range []*sqlstore.Store{a, b, a, b} {
		wg.Go(func() {
			for range per {
				if _, err := s.UpdateClient(ctx, "c", func(c *store.Client) error { c.RateLimitBurst++; return nil }); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if c, err := b.GetClient(ctx, "c"); err != nil || c.RateLimitBurst != 4*per {
		t.Errorf("counter after %d increments through two pools = %+v, %v", 4*per, c, err)
	}
}

func TestPostgresUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	start := time.Now()
	// A closed port on loopback: refused at once, and bounded regardless.
	_, err := sqlstore.Open(ctx, "postgres://m2m:secret-pw@127.0.0.1:1/m2m?sslmode=disable")
	if err == nil {
		t.Fatal("Open(unreachable) = nil error")
	}
	if d := time.Since(start); d > sqlstore.ConnectTimeout+2*time.Second {
		t.Errorf("Open(unreachable) took %v; want at most about %v", d, sqlstore.ConnectTimeout)
	}
	if strings.Contains(err.Error(), "secret-pw") {
		t.Errorf("Open(unreachable) error leaks the password: %v", err)
	}
}
