package memstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/m2mkit/m2m/store"
)

var _ store.ClientsAndTrustPolicies = (*Store)(nil)

// CreateTrustPolicy stores a copy of p; an existing name is
// [store.ErrConflict], a client that does not exist a
// [store.NoSuchClient] field error.
func (s *Store) CreateTrustPolicy(ctx context.Context, p *store.TrustPolicy) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	// The client first, as sqlstore checks it.
	if _, ok := s.clients[p.ClientID]; !ok {
		return fmt.Errorf("memstore: %w", store.NoSuchClient())
	}
	if _, ok := s.trust[p.Name]; ok {
		return fmt.Errorf("memstore: trust policy %q: %w", p.Name, store.ErrConflict)
	}
	if s.trust == nil {
		s.trust = make(map[string]*store.TrustPolicy)
	}
	s.trust[p.Name] = p.Clone()
	return nil
}

// GetTrustPolicy returns a copy of the policy with the given name.
func (s *Store) GetTrustPolicy(ctx context.Context, name string) (*store.TrustPolicy, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	p, ok := s.trust[name]
	if !ok {
		return nil, fmt.Errorf("memstore: trust policy %q: %w", name, store.ErrNotFound)
	}
	return p.Clone(), nil
}

// ListTrustPolicies returns copies of every policy, ordered by name.
func (s *Store) ListTrustPolicies(ctx context.Context) ([]*store.TrustPolicy, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]*store.TrustPolicy, 0, len(s.trust))
	for _, p := range s.trust {
		out = append(out, p.Clone())
	}
	slices.SortFunc(out, func(a, b *store.TrustPolicy) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// UpdateTrustPolicy runs update on a copy of the policy and stores the
// result. The name cannot be changed, and the client must exist.
func (s *Store) UpdateTrustPolicy(ctx context.Context, name string, update func(*store.TrustPolicy) error) (*store.TrustPolicy, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	p, ok := s.trust[name]
	if !ok {
		return nil, fmt.Errorf("memstore: trust policy %q: %w", name, store.ErrNotFound)
	}
	n := p.Clone()
	if err := update(n); err != nil {
		return nil, err
	}
	n.Name = name
	if err := store.ValidateTrustPolicyUpdate(p, n); err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	if _, ok := s.clients[n.ClientID]; !ok {
		return nil, fmt.Errorf("memstore: %w", store.NoSuchClient())
	}
	s.trust[name] = n.Clone()
	return n, nil
}

// DeleteTrustPolicy removes the policy with the given name.
func (s *Store) DeleteTrustPolicy(ctx context.Context, name string) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.trust[name]; !ok {
		return fmt.Errorf("memstore: trust policy %q: %w", name, store.ErrNotFound)
	}
	delete(s.trust, name)
	return nil
}

// policiesOf returns the policies that name client id,
// ordered by name. s.mu must be held.
func (s *Store) policiesOf(id string) []*store.TrustPolicy {
	var out []*store.TrustPolicy
	for _, p := range s.trust {
		if p.ClientID == id {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *store.TrustPolicy) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// DeleteClientAndTrustPolicies removes the client and the policies that
// name it, and returns copies of those policies.
func (s *Store) DeleteClientAndTrustPolicies(ctx context.Context, id string) ([]*store.TrustPolicy, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if _, ok := s.clients[id]; !ok {
		return nil, fmt.Errorf("memstore: client %q: %w", id, store.ErrNotFound)
	}
	out := s.policiesOf(id)
	for i, p := range out {
		delete(s.trust, p.Name)
		out[i] = p.Clone()
	}
	delete(s.clients, id)
	return out, nil
}
