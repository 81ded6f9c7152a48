package memstore

import (
	"context"
	"fmt"

	"github.com/m2mkit/m2m/store"
)

// GetSetting returns the value of the setting name, or an error wrapping
// [store.ErrNotFound].
func (s *Store) GetSetting(ctx context.Context, name string) (string, error) {
	if err := s.lock(ctx); err != nil {
		return "", err
	}
	defer s.mu.Unlock()
	v, ok := s.settings[name]
	if !ok {
		return "", fmt.Errorf("memstore: setting %q: %w", name, store.ErrNotFound)
	}
	return v, nil
}

// UpdateSetting runs update on the setting under the store's mutex and
// stores the result.
func (s *Store) UpdateSetting(ctx context.Context, name string, update func(value string, found bool) (string, error)) (string, error) {
	if err := store.CheckSetting(name, ""); err != nil {
		return "", fmt.Errorf("memstore: %w", err)
	}
	if err := s.lock(ctx); err != nil {
		return "", err
	}
	defer s.mu.Unlock()
	old, found := s.settings[name]
	v, err := update(old, found)
	if err != nil {
		return "", err
	}
	if err := store.CheckSetting(name, v); err != nil {
		return "", fmt.Errorf("memstore: %w", err)
	}
	if s.settings == nil {
		s.settings = make(map[string]string)
	}
	s.settings[name] = v
	return v, nil
}
