package jwk

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

func TestMaxAge(t *testing.T) {
	tests := []struct {
		values []string
		want   time.Duration
		ok     bool
	}{
		{nil, 0, false},
		{[]string{"public"}, 0, false},
		{[]string{"public, max-age=60"}, time.Minute, true},
		{[]string{"MAX-AGE=30"}, 30 * time.Second, true},
		{[]string{`max-age="45"`}, 45 * time.Second, true},
		{[]string{"max-age=600", "max-age=60"}, time.Minute, true},
		{[]string{"max-age=60, no-cache"}, 0, true},
		{[]string{"no-store"}, 0, true},
		{[]string{"max-age=abc"}, 0, true},
		{[]string{"max-age=-5"}, 0, true},
		{[]string{"max-age=99999999999999999999"}, 0, true},
		{[]string{"max-age=9999999999"}, (1 << 32) * time.Second, true},
	}
	for _, tt := range tests {
		got, ok := maxAge(tt.values)
		if got != tt.want || ok != tt.ok {
			t.Errorf("maxAge(%q) = %v, %v; want %v, %v", tt.values, got, ok, tt.want, tt.ok)
		}
	}
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestRemoteKeySetHonoursMaxAge checks when a key removed at the issuer
// (an emergency revocation) stops verifying: at the first lookup after
// the response's max-age, bounded to [MinRefetchInterval, RefreshInterval].
func TestRemoteKeySetHonoursMaxAge(t *testing.T) {
	k1 := mustKey(t, &ecKey.PublicKey, "k1", "ES256")
	k2 := mustKey(t, edPub, "k2", "EdDSA")
	tests := []struct {
		name         string
		cacheControl string
		gone         time.Duration // when a lookup first sees k1 gone
	}{
		{"token server's max-age", "public, max-age=60", time.Minute},
		{"no header: RefreshInterval", "", DefaultRefreshInterval},
		{"below MinRefetchInterval", "max-age=1", DefaultMinRefetchInterval},
		{"no-cache", "no-cache", DefaultMinRefetchInterval},
		{"above RefreshInterval", "max-age=86400", DefaultRefreshInterval},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body atomic.Value
			body.Store(jwks(t, k1, k2))
			hc := &http.Client{Transport: rtFunc(func(r *http.Request) (*http.Response, error) {
				h := http.Header{"Content-Type": {"application/json"}}
				if tt.cacheControl != "" {
					h.Set("Cache-Control", tt.cacheControl)
				}
				return &http.Response{StatusCode: 200, Header: h, Body: io.NopCloser(bytes.NewReader(body.Load().([]byte))), Request: r}, nil
			})}
			clk := newClock()
			r := &RemoteKeySet{URL: "https://issuer.example/jwks", HTTPClient: hc, Now: clk.Now}
			ctx := context.Background()
			if keys, err := r.Lookup(ctx, "k1"); err != nil || len(keys) != 1 {
				t.Fatalf("Lookup(k1) = %v, %v", keys, err)
			}
			body.Store(jwks(t, k2)) // the issuer revokes k1
			// Just before the freshness lifetime: served from the set.
			clk.Advance(tt.gone - time.Second)
			r.Lookup(ctx, "k1")
			waitIdle(t, r)
			if keys, _ := r.Lookup(ctx, "k1"); len(keys) != 1 {
				t.Fatalf("Lookup(k1) %v after the first fetch = gone; want still cached", tt.gone-time.Second)
			}
			// At it: the lookup starts the refresh (answering from the old
			// set), and once it is done k1 is gone.
			clk.Advance(time.Second)
			r.Lookup(ctx, "k1")
			waitIdle(t, r)
			if keys, _ := r.Lookup(ctx, "k1"); keys != nil {
				t.Errorf("Lookup(k1) %v after the first fetch = %v; want gone", tt.gone, keys)
			}
			if keys, _ := r.Lookup(ctx, "k2"); len(keys) != 1 {
				t.Errorf("Lookup(k2) = %v; want k2", keys)
			}
		})
	}
}
