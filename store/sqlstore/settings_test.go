package sqlstore_test

import (
	"errors"
	"testing"

	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/sqlstore"
)

// TestSettingsMigration opens a database of schema 1 (before settings)
// and checks that Open adds the settings table and keeps the data, on
// SQLite and on PostgreSQL.
func TestSettingsMigration(t *testing.T) {
	undo := append(append([]string{}, undoSchema3...), `DROP TABLE settings`, `DELETE FROM schema_migrations WHERE version >= 2`)
	testUpgrade(t, &store.Client{ID: "kept"}, undo, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		if _, err := s.GetSetting(ctx, "issuer"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetSetting(issuer) after upgrade = %v; want ErrNotFound", err)
		}
		if v, err := s.UpdateSetting(ctx, "issuer", func(string, bool) (string, error) { return "https://a.example", nil }); err != nil || v != "https://a.example" {
			t.Errorf("UpdateSetting(issuer) after upgrade = %q, %v", v, err)
		}
	})
}
