package sqlstore_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/sqlstore"
)

// TestSettingsMigration opens a database of schema 1 (before settings)
// and checks that Open adds the settings table and keeps the data, on
// SQLite and on PostgreSQL.
func TestSettingsMigration(t *testing.T) {
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
			if err := s.CreateClient(ctx, &store.Client{ID: "kept"}); err != nil {
				t.Fatal(err)
			}
			s.Close()

			// Take the database back to schema 1.
			dsn := u
			if tc.driver == "sqlite" {
				dsn = u[len("sqlite://"):]
			}
			db, err := sql.Open(tc.driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			for _, stmt := range append(undoSchema3, `DROP TABLE settings`, `DELETE FROM schema_migrations WHERE version >= 2`) {
				if _, err := db.ExecContext(ctx, stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
			db.Close()

			s, err = sqlstore.Open(ctx, u)
			if err != nil {
				t.Fatalf("Open(schema 1 database) = %v", err)
			}
			defer s.Close()
			if v, err := s.SchemaVersion(ctx); err != nil || v != sqlstore.LatestSchema {
				t.Errorf("SchemaVersion() after upgrade = %d, %v; want %d", v, err, sqlstore.LatestSchema)
			}
			if _, err := s.GetClient(ctx, "kept"); err != nil {
				t.Errorf("GetClient(kept) after upgrade = %v", err)
			}
			if _, err := s.GetSetting(ctx, "issuer"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetSetting(issuer) after upgrade = %v; want ErrNotFound", err)
			}
			if v, err := s.UpdateSetting(ctx, "issuer", func(string, bool) (string, error) { return "https://a.example", nil }); err != nil || v != "https://a.example" {
				t.Errorf("UpdateSetting(issuer) after upgrade = %q, %v", v, err)
			}
		})
	}
}
