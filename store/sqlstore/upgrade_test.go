package sqlstore_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/sqlstore"
)

// testUpgrade is every migration test's setup, on SQLite and on
// PostgreSQL: a database at the latest schema stores kept, undo takes it
// back to an older schema, and Open must migrate it to LatestSchema with
// kept unchanged; check then tests what the migration added.
func testUpgrade(t *testing.T, kept *store.Client, undo []string, check func(t *testing.T, s *sqlstore.Store)) {
	for _, tc := range []struct {
		name   string
		url    func(t *testing.T) string
		driver string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "m2m.db") }, "sqlite"},
		{"postgres", func(t *testing.T) string { return postgresURL(t) }, "pgx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			u := tc.url(t)
			s, err := sqlstore.Open(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.CreateClient(ctx, kept); err != nil {
				t.Fatal(err)
			}
			s.Close()

			dsn := strings.TrimPrefix(u, "sqlite://")
			db, err := sql.Open(tc.driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			for _, stmt := range undo {
				if _, err := db.ExecContext(ctx, stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
			db.Close()

			s, err = sqlstore.Open(ctx, u)
			if err != nil {
				t.Fatalf("Open(older schema) = %v", err)
			}
			defer s.Close()
			if v, err := s.SchemaVersion(ctx); err != nil || v != sqlstore.LatestSchema {
				t.Errorf("SchemaVersion() after upgrade = %d, %v; want %d", v, err, sqlstore.LatestSchema)
			}
			got, err := s.GetClient(ctx, kept.ID)
			if err != nil {
				t.Fatalf("GetClient(%s) after upgrade = %v", kept.ID, err)
			}
			if diff := cmp.Diff(kept, got); diff != "" {
				t.Errorf("GetClient(%s) after upgrade: (-want +got)\n%s", kept.ID, diff)
			}
			check(t, s)
		})
	}
}

// undoSteps returns the statements of undo, an undoSchemaN list, without
// its last (the deletion of the schema_migrations rows), for the next
// older undo list to start with: each undoes the latest schema down to
// its own.
func undoSteps(undo []string) []string {
	return append([]string{}, undo[:len(undo)-1]...)
}
