package sqlstore_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/m2mkit/m2m/store/sqlstore"
)

// TestOpenMustExistSQLite checks that Options.MustExist refuses every
// SQLite path that holds no m2m database, without creating anything, and
// opens one that does.
func TestOpenMustExistSQLite(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, path string)
		wantErr bool
	}{
		{"missing file", func(*testing.T, string) {}, true},
		{"empty file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"m2m database", func(t *testing.T, path string) { openSQLite(t, path).Close() }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m2m.db")
			tc.prepare(t, path)
			before, _ := os.Stat(path)
			s, err := sqlstore.OpenWith(t.Context(), "sqlite://"+path, sqlstore.Options{MustExist: true})
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("OpenWith(m2m database, MustExist) = %v; want nil", err)
				}
				s.Close()
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("OpenWith(%s, MustExist) = nil error; want ErrNoDatabase", tc.name)
			}
			if tc.name != "directory" && !errors.Is(err, sqlstore.ErrNoDatabase) {
				t.Errorf("OpenWith(%s, MustExist) = %v; want ErrNoDatabase", tc.name, err)
			}
			after, _ := os.Stat(path)
			if (before == nil) != (after == nil) || (after != nil && after.Mode().IsRegular() && after.Size() != before.Size()) {
				t.Errorf("OpenWith(%s, MustExist) changed the file: before %v, after %v", tc.name, before, after)
			}
		})
	}
}

// TestOpenMustExistPostgres checks that a PostgreSQL schema without m2m's
// tables is refused and left without tables, and is opened once Open has
// created them.
func TestOpenMustExistPostgres(t *testing.T) {
	url := postgresURL(t)
	_, err := sqlstore.OpenWith(t.Context(), url, sqlstore.Options{MustExist: true})
	if !errors.Is(err, sqlstore.ErrNoDatabase) {
		t.Fatalf("OpenWith(empty schema, MustExist) = %v; want ErrNoDatabase", err)
	}
	// Still nothing there: the refusal created no table.
	_, err = sqlstore.OpenWith(t.Context(), url, sqlstore.Options{MustExist: true})
	if !errors.Is(err, sqlstore.ErrNoDatabase) {
		t.Fatalf("second OpenWith(empty schema, MustExist) = %v; want ErrNoDatabase", err)
	}
	openPostgres(t, url)
	s, err := sqlstore.OpenWith(t.Context(), url, sqlstore.Options{MustExist: true})
	if err != nil {
		t.Fatalf("OpenWith(m2m schema, MustExist) = %v; want nil", err)
	}
	s.Close()
}
