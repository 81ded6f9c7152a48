package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/m2mkit/m2m/store"
)

// GetSetting returns the value of the setting name, or an error wrapping
// [store.ErrNotFound].
func (s *Store) GetSetting(ctx context.Context, name string) (string, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	var v string
	err := s.db.QueryRowContext(ctx, s.d.q(`SELECT value FROM settings WHERE name = ?`), name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", notFound("setting", name)
	}
	if err != nil {
		return "", fmt.Errorf("sqlstore: get setting: %w", err)
	}
	return v, nil
}

// UpdateSetting runs update in a write transaction that holds the
// settings lock (SQLite's write lock; an advisory lock on PostgreSQL, so
// that two replicas setting a value for the first time do not both
// insert), and stores the result.
func (s *Store) UpdateSetting(ctx context.Context, name string, update func(value string, found bool) (string, error)) (string, error) {
	if err := store.CheckSetting(name, ""); err != nil {
		return "", fmt.Errorf("sqlstore: %w", err)
	}
	var out string
	err := s.write(ctx, lockSettings, func(ctx context.Context, tx *sql.Tx) error {
		var old string
		err := tx.QueryRowContext(ctx, s.d.q(`SELECT value FROM settings WHERE name = ?`+s.d.forUpdate), name).Scan(&old)
		found := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlstore: update setting: %w", err)
		}
		v, err := update(old, found)
		if err != nil {
			return err
		}
		if err := store.CheckSetting(name, v); err != nil {
			return fmt.Errorf("sqlstore: %w", err)
		}
		stmt := `INSERT INTO settings (value, updated_at, name) VALUES (?, ?, ?)`
		if found {
			stmt = `UPDATE settings SET value = ?, updated_at = ? WHERE name = ?`
		}
		if _, err := tx.ExecContext(ctx, s.d.q(stmt), v, s.now().UnixNano(), name); err != nil {
			return fmt.Errorf("sqlstore: update setting: %w", err)
		}
		out = v
		return nil
	})
	if err != nil {
		return "", err
	}
	return out, nil
}
