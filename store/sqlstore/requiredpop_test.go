package sqlstore_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/sqlstore"
)

// undoSchema4 takes a database of schema 4 back to schema 3 (before
// clients that require DPoP).
var undoSchema4 = []string{
	`ALTER TABLE clients DROP COLUMN require_dpop`,
	`DELETE FROM schema_migrations WHERE version >= 4`,
}

// TestRequireDPoPMigration opens a database of schema 3 holding a client,
// checks that Open adds the require_dpop column with the client keeping
// an optional proof (false), and that a client requiring DPoP then
// round-trips, on SQLite and on PostgreSQL.
func TestRequireDPoPMigration(t *testing.T) {
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
			kept := &store.Client{ID: "kept", SecretHash: []byte{1, 2, 3}, SecretAlgorithm: "sha256"}
			if err := s.CreateClient(ctx, kept); err != nil {
				t.Fatal(err)
			}
			s.Close()

			dsn := u
			if tc.driver == "sqlite" {
				dsn = u[len("sqlite://"):]
			}
			db, err := sql.Open(tc.driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			for _, stmt := range undoSchema4 {
				if _, err := db.ExecContext(ctx, stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
			db.Close()

			s, err = sqlstore.Open(ctx, u)
			if err != nil {
				t.Fatalf("Open(schema 3 database) = %v", err)
			}
			defer s.Close()
			if v, err := s.SchemaVersion(ctx); err != nil || v != sqlstore.LatestSchema {
				t.Errorf("SchemaVersion() after upgrade = %d, %v; want %d", v, err, sqlstore.LatestSchema)
			}
			got, err := s.GetClient(ctx, "kept")
			if err != nil {
				t.Fatalf("GetClient(kept) after upgrade = %v", err)
			}
			if diff := cmp.Diff(kept, got); diff != "" {
				t.Errorf("GetClient(kept) after upgrade: (-want +got)\n%s", diff)
			}
			bound := &store.Client{ID: "bound", SecretHash: []byte{4, 5, 6}, SecretAlgorithm: "sha256", RequireDPoP: true}
			if err := s.CreateClient(ctx, bound); err != nil {
				t.Fatalf("CreateClient(bound) after upgrade = %v", err)
			}
			if got, err := s.GetClient(ctx, "bound"); err != nil || !got.RequireDPoP {
				t.Errorf("GetClient(bound) after upgrade = %+v, %v; want RequireDPoP", got, err)
			}
		})
	}
}
