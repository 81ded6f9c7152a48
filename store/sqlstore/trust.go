package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/m2mkit/m2m/store"
)

var _ store.TrustPolicies = (*Store)(nil)

const trustColumns = `name, issuer, jwks_uri, jwks, audiences, subject, claims, client_id, scopes,
	max_ttl, single_use, preset, created_at, updated_at`

// trustArgs returns the column values of p in trustColumns order.
func trustArgs(p *store.TrustPolicy) ([]any, error) {
	if err := checkTimes(p.CreatedAt, p.UpdatedAt); err != nil {
		return nil, fmt.Errorf("sqlstore: trust policy %q: %w", p.Name, err)
	}
	aud, err := jsonText(p.Audiences)
	if err != nil {
		return nil, err
	}
	claims, err := jsonText(p.Claims)
	if err != nil {
		return nil, err
	}
	sc, err := jsonText(p.Scopes)
	if err != nil {
		return nil, err
	}
	return []any{p.Name, p.Issuer, p.JWKSURI, p.JWKS, aud, p.Subject, claims, p.ClientID, sc,
		int64(p.MaxTTL), p.SingleUse, p.Preset, nanos(p.CreatedAt), nanos(p.UpdatedAt)}, nil
}

func scanTrustPolicy(r scanner) (*store.TrustPolicy, error) {
	var p store.TrustPolicy
	var aud, claims, sc string
	var ttl, created, updated int64
	err := r.Scan(&p.Name, &p.Issuer, &p.JWKSURI, &p.JWKS, &aud, &p.Subject, &claims, &p.ClientID, &sc,
		&ttl, &p.SingleUse, &p.Preset, &created, &updated)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(aud), &p.Audiences); err != nil {
		return nil, fmt.Errorf("sqlstore: trust policy %q audiences: %w", p.Name, err)
	}
	if err := json.Unmarshal([]byte(claims), &p.Claims); err != nil {
		return nil, fmt.Errorf("sqlstore: trust policy %q claims: %w", p.Name, err)
	}
	if err := json.Unmarshal([]byte(sc), &p.Scopes); err != nil {
		return nil, fmt.Errorf("sqlstore: trust policy %q scopes: %w", p.Name, err)
	}
	p.MaxTTL = time.Duration(ttl)
	p.CreatedAt, p.UpdatedAt = fromNanos(created), fromNanos(updated)
	return &p, nil
}

// CreateTrustPolicy inserts p; an existing name is [store.ErrConflict].
func (s *Store) CreateTrustPolicy(ctx context.Context, p *store.TrustPolicy) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	args, err := trustArgs(p)
	if err != nil {
		return err
	}
	return s.write(ctx, 0, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO trust_policies (`+trustColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`), args...)
		if err != nil {
			return fmt.Errorf("sqlstore: create trust policy: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("sqlstore: trust policy %q: %w", p.Name, store.ErrConflict)
		}
		return nil
	})
}

// GetTrustPolicy returns the policy with the given name.
func (s *Store) GetTrustPolicy(ctx context.Context, name string) (*store.TrustPolicy, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	p, err := scanTrustPolicy(s.db.QueryRowContext(ctx, s.d.q(`SELECT `+trustColumns+` FROM trust_policies WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("trust policy", name)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get trust policy: %w", err)
	}
	return p, nil
}

// ListTrustPolicies returns every policy, ordered by name (byte-wise, on
// both engines: PostgreSQL's collation is not used).
func (s *Store) ListTrustPolicies(ctx context.Context) ([]*store.TrustPolicy, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, `SELECT `+trustColumns+` FROM trust_policies`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list trust policies: %w", err)
	}
	defer rows.Close()
	var out []*store.TrustPolicy
	for rows.Next() {
		p, err := scanTrustPolicy(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list trust policies: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list trust policies: %w", err)
	}
	slices.SortFunc(out, func(a, b *store.TrustPolicy) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// UpdateTrustPolicy runs update on the policy inside a write transaction
// that holds the row, and stores the result. The name cannot be changed.
func (s *Store) UpdateTrustPolicy(ctx context.Context, name string, update func(*store.TrustPolicy) error) (*store.TrustPolicy, error) {
	var out *store.TrustPolicy
	err := s.write(ctx, 0, func(ctx context.Context, tx *sql.Tx) error {
		p, err := scanTrustPolicy(tx.QueryRowContext(ctx, s.d.q(`SELECT `+trustColumns+` FROM trust_policies WHERE name = ?`+s.d.forUpdate), name))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("trust policy", name)
		}
		if err != nil {
			return fmt.Errorf("sqlstore: update trust policy: %w", err)
		}
		before := p.Clone()
		if err := update(p); err != nil {
			return err
		}
		p.Name = name
		if err := store.ValidateTrustPolicyUpdate(before, p); err != nil {
			return fmt.Errorf("sqlstore: %w", err)
		}
		args, err := trustArgs(p)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.d.q(`UPDATE trust_policies SET issuer = ?, jwks_uri = ?, jwks = ?,
			audiences = ?, subject = ?, claims = ?, client_id = ?, scopes = ?, max_ttl = ?, single_use = ?,
			preset = ?, created_at = ?, updated_at = ? WHERE name = ?`), append(args[1:], name)...); err != nil {
			return fmt.Errorf("sqlstore: update trust policy: %w", err)
		}
		out = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out.Clone(), nil
}

// DeleteTrustPolicy removes the policy with the given name.
func (s *Store) DeleteTrustPolicy(ctx context.Context, name string) error {
	return s.write(ctx, 0, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.q(`DELETE FROM trust_policies WHERE name = ?`), name)
		if err != nil {
			return fmt.Errorf("sqlstore: delete trust policy: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return notFound("trust policy", name)
		}
		return nil
	})
}
