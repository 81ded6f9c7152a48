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

var _ store.ClientsAndTrustPolicies = (*Store)(nil)

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

// CreateTrustPolicy inserts p; an existing name is [store.ErrConflict], a
// client that does not exist a [store.NoSuchClient] field error.
func (s *Store) CreateTrustPolicy(ctx context.Context, p *store.TrustPolicy) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	args, err := trustArgs(p)
	if err != nil {
		return err
	}
	return s.write(ctx, 0, func(ctx context.Context, tx *sql.Tx) error {
		if err := s.needClient(ctx, tx, p.ClientID); err != nil {
			return err
		}
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
	out, err := scanTrustPolicies(rows, err)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list trust policies: %w", err)
	}
	return out, nil
}

// scanTrustPolicies reads the policies of a query's rows (err is the
// query's), ordered by name byte-wise on both engines (PostgreSQL's
// collation is not used).
func scanTrustPolicies(rows *sql.Rows, err error) ([]*store.TrustPolicy, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.TrustPolicy
	for rows.Next() {
		p, err := scanTrustPolicy(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b *store.TrustPolicy) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// UpdateTrustPolicy runs update on the policy inside a write transaction
// that holds the row, and stores the result. The name cannot be changed,
// and the client must exist.
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
		if err := s.needClient(ctx, tx, p.ClientID); err != nil {
			return err
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

// lockClient reports whether client id exists and, on PostgreSQL, locks
// its row for the rest of the transaction (SQLite's write transaction
// holds the whole database). Every transaction that makes a policy name a
// client, or deletes a client, takes this lock before it looks at the
// other table: a policy created while its client is deleted waits for
// the delete and then sees that the client is gone, or the delete waits
// for the policy and then sees it, at PostgreSQL's default READ
// COMMITTED isolation as at SQLite's serializable one.
func (s *Store) lockClient(ctx context.Context, tx *sql.Tx, id string) (bool, error) {
	var one int
	err := tx.QueryRowContext(ctx, s.d.q(`SELECT 1 FROM clients WHERE id = ?`+s.d.forUpdate), id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlstore: look up client: %w", err)
	}
	return true, nil
}

// needClient is lockClient for a policy's client: one that does not
// exist is a [store.NoSuchClient] field error.
func (s *Store) needClient(ctx context.Context, tx *sql.Tx, id string) error {
	ok, err := s.lockClient(ctx, tx, id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("sqlstore: %w", store.NoSuchClient())
	}
	return nil
}

// policiesOf returns the policies that name client id, ordered by name.
func (s *Store) policiesOf(ctx context.Context, tx *sql.Tx, id string) ([]*store.TrustPolicy, error) {
	rows, err := tx.QueryContext(ctx, s.d.q(`SELECT `+trustColumns+` FROM trust_policies WHERE client_id = ?`), id)
	out, err := scanTrustPolicies(rows, err)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: client's trust policies: %w", err)
	}
	return out, nil
}

// DeleteClient removes the client with the given ID; a client that
// trust policies name is a [*store.ClientInUseError] and stays.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.write(ctx, 0, func(ctx context.Context, tx *sql.Tx) error {
		if ok, err := s.lockClient(ctx, tx, id); err != nil || !ok {
			if err == nil {
				err = notFound("client", id)
			}
			return err
		}
		ps, err := s.policiesOf(ctx, tx, id)
		if err != nil {
			return err
		}
		if len(ps) > 0 {
			e := &store.ClientInUseError{ClientID: id}
			for _, p := range ps {
				e.TrustPolicies = append(e.TrustPolicies, p.Name)
			}
			return e
		}
		return s.deleteRow(ctx, tx, "clients", "client", id)
	})
}

// DeleteClientAndTrustPolicies removes the client and the policies that
// name it in one transaction, and returns those policies.
func (s *Store) DeleteClientAndTrustPolicies(ctx context.Context, id string) ([]*store.TrustPolicy, error) {
	var out []*store.TrustPolicy
	err := s.write(ctx, 0, func(ctx context.Context, tx *sql.Tx) error {
		if ok, err := s.lockClient(ctx, tx, id); err != nil || !ok {
			if err == nil {
				err = notFound("client", id)
			}
			return err
		}
		ps, err := s.policiesOf(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.d.q(`DELETE FROM trust_policies WHERE client_id = ?`), id); err != nil {
			return fmt.Errorf("sqlstore: delete client's trust policies: %w", err)
		}
		if err := s.deleteRow(ctx, tx, "clients", "client", id); err != nil {
			return err
		}
		out = ps
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
