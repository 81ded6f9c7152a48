package jwk

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
)

// TestRemoteKeySetMaxStale checks that a set whose refreshes fail is
// served for MaxStale and then refused with an error wrapping
// m2m.ErrUnavailable, and served indefinitely when MaxStale is zero.
func TestRemoteKeySetMaxStale(t *testing.T) {
	k1 := mustKey(t, &ecKey.PublicKey, "k1", "ES256")
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		maxStale time.Duration
		kid      string
		down     time.Duration // how long after the last good fetch the lookup runs
		wantErr  bool
	}{
		{"zero serves a day-old set", 0, "k1", 24 * time.Hour, false},
		{"zero serves a year-old set", 0, "k1", 365 * 24 * time.Hour, false},
		{"within MaxStale", time.Hour, "k1", 59 * time.Minute, false},
		{"past MaxStale", time.Hour, "k1", time.Hour + time.Minute, true},
		{"past MaxStale, unknown kid", time.Hour, "k2", time.Hour + time.Minute, true},
		{"past MaxStale, no kid", time.Hour, "", time.Hour + time.Minute, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t, jwks(t, k1))
			clk := newClock()
			r := &RemoteKeySet{URL: srv.srv.URL, Now: clk.Now, MaxStale: tc.maxStale}
			if keys, err := r.Lookup(ctx, "k1"); len(keys) != 1 || err != nil {
				t.Fatalf("first Lookup(k1) = %v, %v; want one key", keys, err)
			}
			srv.fail.Store(true)
			// Lookups along the way run (and fail) background refreshes.
			for range 3 {
				clk.Advance(tc.down / 4)
				r.Lookup(ctx, "k1")
				waitIdle(t, r)
			}
			clk.Advance(tc.down - 3*(tc.down/4))
			keys, err := r.Lookup(ctx, tc.kid)
			if tc.wantErr {
				if !errors.Is(err, m2m.ErrUnavailable) || keys != nil {
					t.Errorf("Lookup(%q) %s after the last good fetch = %v, %v; want an error wrapping m2m.ErrUnavailable", tc.kid, tc.down, keys, err)
				}
				return
			}
			if len(keys) != 1 || err != nil {
				t.Errorf("Lookup(%q) %s after the last good fetch = %v, %v; want the old key", tc.kid, tc.down, keys, err)
			}
		})
	}
}

// TestRemoteKeySetMaxStaleRecovery checks that a stale set causes at most
// one fetch per MinRefetchInterval, that lookups recover as soon as a fetch
// succeeds, and that a set gone stale only for want of lookups is
// refetched before answering.
func TestRemoteKeySetMaxStaleRecovery(t *testing.T) {
	k1 := mustKey(t, &ecKey.PublicKey, "k1", "ES256")
	ctx := context.Background()
	srv := newJWKSServer(t, jwks(t, k1))
	clk := newClock()
	r := &RemoteKeySet{URL: srv.srv.URL, Now: clk.Now, MaxStale: time.Hour}

	r.Lookup(ctx, "k1")
	// Idle for two hours while the server is up: the next lookup fetches
	// and answers.
	clk.Advance(2 * time.Hour)
	if keys, err := r.Lookup(ctx, "k1"); len(keys) != 1 || err != nil {
		t.Fatalf("Lookup(k1) after 2h idle = %v, %v; want the key", keys, err)
	}
	if got := r.Fetches(); got != 2 {
		t.Errorf("Fetches() after an idle stale lookup = %d; want 2", got)
	}

	srv.fail.Store(true)
	clk.Advance(2 * time.Hour)
	if _, err := r.Lookup(ctx, "k1"); !errors.Is(err, m2m.ErrUnavailable) {
		t.Fatalf("Lookup(k1) stale with the server down = %v; want m2m.ErrUnavailable", err)
	}
	if got := r.Fetches(); got != 3 {
		t.Errorf("Fetches() after a stale lookup = %d; want 3", got)
	}
	// Further lookups within MinRefetchInterval fail without fetching.
	for range 10 {
		if _, err := r.Lookup(ctx, "k1"); !errors.Is(err, m2m.ErrUnavailable) {
			t.Fatalf("Lookup(k1) stale, rate-limited = %v; want m2m.ErrUnavailable", err)
		}
	}
	if got := r.Fetches(); got != 3 {
		t.Errorf("Fetches() after 10 rate-limited stale lookups = %d; want 3", got)
	}

	srv.fail.Store(false)
	clk.Advance(DefaultMinRefetchInterval)
	if keys, err := r.Lookup(ctx, "k1"); len(keys) != 1 || err != nil {
		t.Errorf("Lookup(k1) once the server is back = %v, %v; want the key", keys, err)
	}
	if got := r.Fetches(); got != 4 {
		t.Errorf("Fetches() after recovery = %d; want 4", got)
	}
}
