package authserver_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/clientaddr"
	"github.com/m2mkit/m2m/ratelimit"
	"github.com/m2mkit/m2m/store"
)

// TestFailureThrottleAddress checks which requests share the per-address
// failure budget of the token endpoint: IPv6 per /64, IPv4-mapped as
// IPv4, and the forwarded client only behind a trusted proxy.
func TestFailureThrottleAddress(t *testing.T) {
	tests := []struct {
		name                string
		first, second       string // RemoteAddr of a failing request and of the probe
		xffFirst, xffSecond string
		shared              bool
	}{
		{name: "same IPv6 /64", first: "[2001:db8:1:2::1]:1", second: "[2001:db8:1:2:ffff::9]:2", shared: true},
		{name: "other IPv6 /64", first: "[2001:db8:1:2::1]:1", second: "[2001:db8:1:3::1]:2"},
		{name: "IPv4-mapped is IPv4", first: "[::ffff:192.0.2.1]:1", second: "192.0.2.1:2", shared: true},
		{name: "other IPv4", first: "192.0.2.1:1", second: "192.0.2.2:2"},
		{name: "trusted proxy: two clients", first: "10.0.0.1:1", second: "10.0.0.1:2", xffFirst: "203.0.113.5", xffSecond: "203.0.113.6"},
		{name: "trusted proxy: one client", first: "10.0.0.1:1", second: "10.0.0.2:2", xffFirst: "203.0.113.5", xffSecond: "10.0.0.9, 203.0.113.5", shared: true},
		{name: "untrusted peer: header ignored", first: "198.51.100.1:1", second: "198.51.100.1:2", xffFirst: "203.0.113.5", xffSecond: "203.0.113.6", shared: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(cfg *authserver.Config, _ *store.Client) {
				cfg.FailureLimit = ratelimit.Limit{Rate: 1.0 / 3600, Burst: 2}
				cfg.TrustedProxies = clientaddr.TrustedProxies{netip.MustParsePrefix("10.0.0.0/8")}
			})
			send := func(remote, xff, id string) int {
				form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {"wrong"}}
				r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(form.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.RemoteAddr = remote
				if xff != "" {
					r.Header.Set("X-Forwarded-For", xff)
				}
				w := httptest.NewRecorder()
				f.srv.ServeHTTP(w, r)
				return w.Code
			}
			for i, id := range []string{"unknown-1", "unknown-2"} {
				if got := send(tt.first, tt.xffFirst, id); got != http.StatusUnauthorized {
					t.Fatalf("failure %d: %d; want 401", i+1, got)
				}
			}
			got := send(tt.second, tt.xffSecond, "unknown-3")
			if want := map[bool]int{true: http.StatusTooManyRequests, false: http.StatusUnauthorized}[tt.shared]; got != want {
				t.Errorf("a failure for another id from %s (X-Forwarded-For %q) after 2 from %s: %d; want %d", tt.second, tt.xffSecond, tt.first, got, want)
			}
		})
	}
}

// TestNoLockoutBehindNAT is issue 12's scenario: behind one address (a
// NAT), a misbehaving client fails every two seconds while a valid client
// asks for a token just as often; the valid client must succeed every
// time, and the failing one must be throttled.
func TestNoLockoutBehindNAT(t *testing.T) {
	tests := []struct {
		name   string
		badID  func(f *fixture) string // the id the bad client presents
		remote string
	}{
		{"unknown id", func(*fixture) string { return "no-such-client" }, "203.0.113.1:1"},
		{"another client's wrong secret", func(f *fixture) string { return f.otherID }, "203.0.113.1:1"},
		{"IPv6 /64", func(*fixture) string { return "no-such-client" }, "[2001:db8:1:2::1]:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.addOther(t)
			bad := tt.badID(f)
			send := func(id, secret string) int {
				form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
				r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(form.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.RemoteAddr = tt.remote
				w := httptest.NewRecorder()
				f.srv.ServeHTTP(w, r)
				return w.Code
			}
			throttledBad := 0
			for i := range 30 {
				switch got := send(bad, "wrong-secret"); got {
				case http.StatusUnauthorized:
				case http.StatusTooManyRequests:
					throttledBad++
				default:
					t.Fatalf("round %d: bad client got %d; want 401 or 429", i, got)
				}
				if got := send(f.id, f.secret); got != http.StatusOK {
					t.Fatalf("round %d: valid client at the same address got %d; want 200", i, got)
				}
				f.clock.Add(2 * time.Second)
			}
			if throttledBad == 0 {
				t.Errorf("the bad client was never throttled in 30 failures")
			}
		})
	}
}

// TestFailureThrottleConcurrent is issue 13's race: a burst of concurrent
// wrong secrets for one client id must not get more comparisons than the
// failure limit allows. Run it with -count=20 -race.
func TestFailureThrottleConcurrent(t *testing.T) {
	tests := []struct {
		name  string
		id    func(f *fixture) string
		burst int
	}{
		{"known id", func(f *fixture) string { return f.id }, 10},
		{"unknown id", func(*fixture) string { return "no-such-client" }, 10},
		{"burst 1", func(f *fixture) string { return f.id }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(cfg *authserver.Config, _ *store.Client) {
				cfg.FailureLimit = ratelimit.Limit{Rate: 1.0 / 3600, Burst: tt.burst}
			})
			var compared atomic.Int64
			defer authserver.SetCompareHook(func() {
				compared.Add(1)
				// Widen the window between the check and the recorded
				// failure, where an unlocked endpoint lets others through.
				for range 100 {
					runtime.Gosched()
				}
			})()
			id := tt.id(f)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range 60 {
				wg.Go(func() {
					<-start
					f.post(url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {"wrong"}})
				})
			}
			close(start)
			wg.Wait()
			if got := compared.Load(); got > int64(tt.burst) {
				t.Errorf("60 concurrent wrong secrets: %d comparisons; want at most %d", got, tt.burst)
			}
		})
	}
}
