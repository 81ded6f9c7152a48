package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/m2mkit/m2m/store"
)

// usageMigration adds the quota and secret-age columns of clients, the
// usage counters and the audit log.
var usageMigration = []string{
	`ALTER TABLE clients ADD COLUMN quota_hourly BIGINT NOT NULL DEFAULT 0`,
	`ALTER TABLE clients ADD COLUMN quota_daily BIGINT NOT NULL DEFAULT 0`,
	`ALTER TABLE clients ADD COLUMN quota_mode TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE clients ADD COLUMN secret_created_at BIGINT NOT NULL DEFAULT 0`,
	`CREATE TABLE usage_counts (
		client_id TEXT NOT NULL,
		hour BIGINT NOT NULL,
		counter TEXT NOT NULL,
		n BIGINT NOT NULL,
		PRIMARY KEY (client_id, hour, counter)
	)`,
	`CREATE INDEX usage_counts_hour ON usage_counts (hour)`,
	`CREATE TABLE usage_clients (
		client_id TEXT PRIMARY KEY,
		last_used_at BIGINT NOT NULL,
		prev_secret_id TEXT NOT NULL,
		prev_secret_used_at BIGINT NOT NULL
	)`,
	`CREATE TABLE audit_events (
		id {{serial}},
		at BIGINT NOT NULL,
		code TEXT NOT NULL,
		actor TEXT NOT NULL,
		client_id TEXT NOT NULL,
		target TEXT NOT NULL,
		remote_addr TEXT NOT NULL,
		reason TEXT NOT NULL,
		count BIGINT NOT NULL
	)`,
	`CREATE INDEX audit_events_at ON audit_events (at)`,
	`CREATE INDEX audit_events_client ON audit_events (client_id, id)`,
}

var (
	_ store.Usage = (*Store)(nil)
	_ store.Audit = (*Store)(nil)
)

// AddUsage adds every delta to its bucket and records the secret uses in
// one transaction. Rows are written in key order, so that two replicas
// flushing at once on PostgreSQL wait for each other instead of
// deadlocking.
func (s *Store) AddUsage(ctx context.Context, deltas []store.UsageDelta, uses []store.SecretUse) error {
	if len(deltas) == 0 && len(uses) == 0 {
		return nil
	}
	deltas = slices.Clone(deltas)
	slices.SortFunc(deltas, func(a, b store.UsageDelta) int {
		return cmp.Or(strings.Compare(a.ClientID, b.ClientID), a.Hour.Compare(b.Hour), strings.Compare(a.Counter, b.Counter))
	})
	uses = slices.Clone(uses)
	slices.SortFunc(uses, func(a, b store.SecretUse) int { return strings.Compare(a.ClientID, b.ClientID) })
	addCount := s.d.q(`INSERT INTO usage_counts (client_id, hour, counter, n) VALUES (?, ?, ?, ?)
		ON CONFLICT (client_id, hour, counter) DO UPDATE SET n = usage_counts.n + excluded.n`)
	m := s.d.max
	addUse := s.d.q(`INSERT INTO usage_clients (client_id, last_used_at, prev_secret_id, prev_secret_used_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (client_id) DO UPDATE SET
		last_used_at = ` + m + `(usage_clients.last_used_at, excluded.last_used_at),
		prev_secret_id = CASE WHEN excluded.prev_secret_id = '' THEN usage_clients.prev_secret_id ELSE excluded.prev_secret_id END,
		prev_secret_used_at = CASE
			WHEN excluded.prev_secret_id = '' THEN usage_clients.prev_secret_used_at
			WHEN excluded.prev_secret_id <> usage_clients.prev_secret_id THEN excluded.prev_secret_used_at
			ELSE ` + m + `(usage_clients.prev_secret_used_at, excluded.prev_secret_used_at) END`)
	return s.write(ctx, 0, func(ctx context.Context, tx *sql.Tx) error {
		for _, d := range deltas {
			if _, err := tx.ExecContext(ctx, addCount, d.ClientID, d.Hour.Truncate(time.Hour).Unix(), d.Counter, d.N); err != nil {
				return fmt.Errorf("sqlstore: add usage: %w", err)
			}
		}
		for _, u := range uses {
			if _, err := tx.ExecContext(ctx, addUse, u.ClientID, nanos(u.LastUsedAt), u.PreviousSecretID, nanos(u.PreviousSecretUsedAt)); err != nil {
				return fmt.Errorf("sqlstore: add usage: %w", err)
			}
		}
		return nil
	})
}

// ClientUsage returns the client's buckets since since, oldest first, and
// its last use.
func (s *Store) ClientUsage(ctx context.Context, clientID string, since time.Time) ([]store.UsageBucket, store.SecretUse, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	use := store.SecretUse{ClientID: clientID}
	var last, prev int64
	err := s.db.QueryRowContext(ctx, s.d.q(`SELECT last_used_at, prev_secret_id, prev_secret_used_at FROM usage_clients WHERE client_id = ?`),
		clientID).Scan(&last, &use.PreviousSecretID, &prev)
	if err != nil && err != sql.ErrNoRows {
		return nil, use, fmt.Errorf("sqlstore: client usage: %w", err)
	}
	use.LastUsedAt, use.PreviousSecretUsedAt = fromNanos(last), fromNanos(prev)
	rows, err := s.db.QueryContext(ctx, s.d.q(`SELECT hour, counter, n FROM usage_counts WHERE client_id = ? AND hour >= ? ORDER BY hour, counter`),
		clientID, since.Truncate(time.Hour).Unix())
	if err != nil {
		return nil, use, fmt.Errorf("sqlstore: client usage: %w", err)
	}
	defer rows.Close()
	var out []store.UsageBucket
	for rows.Next() {
		var b store.UsageBucket
		var hour int64
		if err := rows.Scan(&hour, &b.Counter, &b.N); err != nil {
			return nil, use, fmt.Errorf("sqlstore: client usage: %w", err)
		}
		b.Hour = time.Unix(hour, 0).UTC()
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, use, fmt.Errorf("sqlstore: client usage: %w", err)
	}
	return out, use, nil
}

// PruneUsage deletes the buckets of hours before before.
func (s *Store) PruneUsage(ctx context.Context, before time.Time) error {
	return s.write(ctx, 0, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.d.q(`DELETE FROM usage_counts WHERE hour < ?`), before.Unix()); err != nil {
			return fmt.Errorf("sqlstore: prune usage: %w", err)
		}
		return nil
	})
}

// AppendAudit stores events in one transaction, assigning their IDs.
func (s *Store) AppendAudit(ctx context.Context, events []store.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	for _, e := range events {
		if err := checkTimes(e.Time); err != nil {
			return fmt.Errorf("sqlstore: audit event: %w", err)
		}
	}
	q := s.d.q(`INSERT INTO audit_events (at, code, actor, client_id, target, remote_addr, reason, count)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
	return s.write(ctx, 0, func(ctx context.Context, tx *sql.Tx) error {
		for i := range events {
			e := &events[i]
			if err := tx.QueryRowContext(ctx, q, nanos(e.Time), e.Code, e.Actor, e.ClientID, e.Target, e.RemoteAddr, e.Reason, max(e.Count, 1)).Scan(&e.ID); err != nil {
				return fmt.Errorf("sqlstore: append audit: %w", err)
			}
		}
		return nil
	})
}

// ListAudit returns the events q selects, newest first.
func (s *Store) ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEvent, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	var where []string
	var args []any
	if q.ClientID != "" {
		where, args = append(where, "client_id = ?"), append(args, q.ClientID)
	}
	if q.Code != "" {
		where, args = append(where, "code = ?"), append(args, q.Code)
	}
	if !q.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, nanos(q.Since))
	}
	if q.BeforeID > 0 {
		where, args = append(where, "id < ?"), append(args, q.BeforeID)
	}
	query := `SELECT id, at, code, actor, client_id, target, remote_addr, reason, count FROM audit_events`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += fmt.Sprintf(" ORDER BY id DESC LIMIT %d", store.AuditLimit(q.Limit))
	rows, err := s.db.QueryContext(ctx, s.d.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list audit: %w", err)
	}
	defer rows.Close()
	var out []store.AuditEvent
	for rows.Next() {
		var e store.AuditEvent
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Code, &e.Actor, &e.ClientID, &e.Target, &e.RemoteAddr, &e.Reason, &e.Count); err != nil {
			return nil, fmt.Errorf("sqlstore: list audit: %w", err)
		}
		e.Time = fromNanos(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list audit: %w", err)
	}
	return out, nil
}

// PruneAudit deletes the events older than before.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) error {
	return s.write(ctx, 0, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.d.q(`DELETE FROM audit_events WHERE at < ?`), nanos(before)); err != nil {
			return fmt.Errorf("sqlstore: prune audit: %w", err)
		}
		return nil
	})
}
