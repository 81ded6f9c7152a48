package clientaddr_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/m2mkit/m2m/clientaddr"
)

func TestForwardedOrigin(t *testing.T) {
	p := clientaddr.TrustedProxies{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name, peer string
		proto      []string
		host       []string
		want       string // "" means not ok
	}{
		{"trusted proxy", "10.0.0.1:1", []string{"https"}, []string{"api.example.com"}, "https://api.example.com"},
		{"port and case", "10.0.0.1:1", []string{"HTTP"}, []string{"API.example.com:8080"}, "http://api.example.com:8080"},
		{"ipv6 literal", "10.0.0.1:1", []string{"https"}, []string{"[2001:db8::1]:8443"}, "https://[2001:db8::1]:8443"},
		{"ipv4 literal", "10.0.0.1:1", []string{"https"}, []string{"192.0.2.1"}, "https://192.0.2.1"},
		{"untrusted peer", "198.51.100.1:1", []string{"https"}, []string{"api.example.com"}, ""},
		{"no proto", "10.0.0.1:1", nil, []string{"api.example.com"}, ""},
		{"no host", "10.0.0.1:1", []string{"https"}, nil, ""},
		{"two protos", "10.0.0.1:1", []string{"https", "http"}, []string{"api.example.com"}, ""},
		{"host list", "10.0.0.1:1", []string{"https"}, []string{"a.example, b.example"}, ""},
		{"other scheme", "10.0.0.1:1", []string{"ftp"}, []string{"api.example.com"}, ""},
		{"path in host", "10.0.0.1:1", []string{"https"}, []string{"evil.example/x"}, ""},
		{"userinfo", "10.0.0.1:1", []string{"https"}, []string{"user@evil.example"}, ""},
		{"bad port", "10.0.0.1:1", []string{"https"}, []string{"api.example.com:x"}, ""},
		{"empty port", "10.0.0.1:1", []string{"https"}, []string{"api.example.com:"}, ""},
		{"zone", "10.0.0.1:1", []string{"https"}, []string{"[fe80::1%eth0]"}, ""},
		{"too long", "10.0.0.1:1", []string{"https"}, []string{strings.Repeat("a", 300)}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			r.Host = "host-header.example"
			if tc.proto != nil {
				r.Header["X-Forwarded-Proto"] = tc.proto
			}
			if tc.host != nil {
				r.Header["X-Forwarded-Host"] = tc.host
			}
			got, ok := p.ForwardedOrigin(r)
			if ok != (tc.want != "") || got != tc.want {
				t.Errorf("ForwardedOrigin = %q, %v; want %q", got, ok, tc.want)
			}
		})
	}
	var none clientaddr.TrustedProxies
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Forwarded-Host", "api.example.com")
	if got, ok := none.ForwardedOrigin(r); ok {
		t.Errorf("no trusted proxies: ForwardedOrigin = %q, true; want false", got)
	}
}

// FuzzForwardedOrigin: an origin is only ever read from a trusted peer,
// and is always an http(s) origin with nothing after the host and port.
func FuzzForwardedOrigin(f *testing.F) {
	for _, s := range [][2]string{{"https", "api.example.com"}, {"http", "[::1]:80"}, {"HTTPS", "a.b:443"}, {"https", "x/y"}} {
		f.Add(s[0], s[1])
	}
	p := clientaddr.TrustedProxies{netip.MustParsePrefix("10.0.0.0/8")}
	f.Fuzz(func(t *testing.T, proto, host string) {
		for _, peer := range []string{"10.0.0.1:1", "198.51.100.1:1"} {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = peer
			r.Header["X-Forwarded-Proto"] = []string{proto}
			r.Header["X-Forwarded-Host"] = []string{host}
			got, ok := p.ForwardedOrigin(r)
			if !ok {
				continue
			}
			if peer != "10.0.0.1:1" {
				t.Fatalf("untrusted peer: ForwardedOrigin = %q", got)
			}
			rest, found := strings.CutPrefix(got, "https://")
			if !found {
				rest, found = strings.CutPrefix(got, "http://")
			}
			if !found || rest == "" || strings.ContainsAny(rest, "/?#@ \t\\") {
				t.Fatalf("ForwardedOrigin(%q, %q) = %q; want an http(s) origin", proto, host, got)
			}
		}
	})
}
