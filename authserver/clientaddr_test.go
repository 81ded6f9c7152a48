package authserver_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

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
