package memstore

import (
	"context"
	"slices"
	"time"

	"github.com/m2mkit/m2m/store"
)

type usageKey struct {
	client  string
	hour    int64
	counter string
}

// AddUsage adds the deltas to their buckets and records the secret uses.
func (s *Store) AddUsage(ctx context.Context, deltas []store.UsageDelta, uses []store.SecretUse) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if s.usage == nil {
		s.usage = make(map[usageKey]int64)
		s.uses = make(map[string]store.SecretUse)
	}
	for _, d := range deltas {
		s.usage[usageKey{d.ClientID, d.Hour.Truncate(time.Hour).Unix(), d.Counter}] += d.N
	}
	for _, u := range uses {
		s.uses[u.ClientID] = store.MergeSecretUse(s.uses[u.ClientID], u)
	}
	return nil
}

// ClientUsage returns the client's buckets since since, oldest first.
func (s *Store) ClientUsage(ctx context.Context, clientID string, since time.Time) ([]store.UsageBucket, store.SecretUse, error) {
	if err := s.lock(ctx); err != nil {
		return nil, store.SecretUse{}, err
	}
	defer s.mu.Unlock()
	var out []store.UsageBucket
	for k, n := range s.usage {
		if k.client == clientID && k.hour >= since.Unix() {
			out = append(out, store.UsageBucket{Hour: time.Unix(k.hour, 0).UTC(), Counter: k.counter, N: n})
		}
	}
	slices.SortFunc(out, func(a, b store.UsageBucket) int {
		if c := a.Hour.Compare(b.Hour); c != 0 {
			return c
		}
		return compareStrings(a.Counter, b.Counter)
	})
	u := s.uses[clientID]
	u.ClientID = clientID
	return out, u, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// PruneUsage deletes the buckets of hours before before.
func (s *Store) PruneUsage(ctx context.Context, before time.Time) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	for k := range s.usage {
		if k.hour < before.Unix() {
			delete(s.usage, k)
		}
	}
	return nil
}

// AppendAudit stores events, assigning their IDs.
func (s *Store) AppendAudit(ctx context.Context, events []store.AuditEvent) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	for i := range events {
		s.auditSeq++
		events[i].ID = s.auditSeq
		s.audit = append(s.audit, events[i])
	}
	return nil
}

// ListAudit returns the events q selects, newest first.
func (s *Store) ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEvent, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	limit := store.AuditLimit(q.Limit)
	var out []store.AuditEvent
	for i := len(s.audit) - 1; i >= 0 && len(out) < limit; i-- {
		e := s.audit[i]
		if q.Matches(e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// PruneAudit deletes the events older than before.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	s.audit = slices.DeleteFunc(s.audit, func(e store.AuditEvent) bool { return e.Time.Before(before) })
	return nil
}
