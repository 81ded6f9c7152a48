package clientaddr_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/m2mkit/m2m/clientaddr"
)

func mustProxies(t testing.TB, s string) clientaddr.TrustedProxies {
	t.Helper()
	p, err := clientaddr.ParseTrustedProxies(s)
	if err != nil {
		t.Fatalf("ParseTrustedProxies(%q) = %v", s, err)
	}
	return p
}

func TestKey(t *testing.T) {
	tests := []struct {
		name, addr, want string
	}{
		{"ipv4", "192.0.2.7", "192.0.2.7"},
		{"ipv4-mapped ipv6 counts as ipv4", "::ffff:192.0.2.7", "192.0.2.7"},
		{"ipv6 per /64", "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"ipv6 same /64", "2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"ipv6 zone dropped", "fe80::1%eth0", "fe80::/64"},
		{"loopback v6", "::1", "::/64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clientaddr.Key(netip.MustParseAddr(tt.addr)); got != tt.want {
				t.Errorf("Key(%s) = %q; want %q", tt.addr, got, tt.want)
			}
		})
	}
	if got := clientaddr.Key(netip.Addr{}); got != "non-ip" {
		t.Errorf("Key(zero) = %q; want non-ip", got)
	}
}

func TestClientAddr(t *testing.T) {
	const proxies = "10.0.0.0/8, 2001:db8:ffff::/48, 192.0.2.1"
	tests := []struct {
		name    string
		peer    string
		trusted string // "" means no trusted proxies
		header  map[string][]string
		want    string // "" means the zero Addr
	}{
		{"peer with port", "203.0.113.9:4711", proxies, nil, "203.0.113.9"},
		{"peer without port", "203.0.113.9", proxies, nil, "203.0.113.9"},
		{"peer ipv6 bracketed", "[2001:db8::9]:4711", proxies, nil, "2001:db8::9"},
		{"peer ipv4-mapped", "[::ffff:203.0.113.9]:1", proxies, nil, "203.0.113.9"},
		{"peer not an ip", "@", proxies, nil, ""},
		{"no trusted proxies: headers ignored", "10.0.0.1:1", "", map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "10.0.0.1"},
		{"untrusted peer: xff ignored", "198.51.100.1:1", proxies, map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "198.51.100.1"},
		{"untrusted peer: forwarded ignored", "198.51.100.1:1", proxies, map[string][]string{"Forwarded": {"for=203.0.113.9"}}, "198.51.100.1"},
		{"trusted peer: xff", "10.0.0.1:1", proxies, map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9"},
		{"trusted peer: rightmost untrusted xff hop", "10.0.0.1:1", proxies, map[string][]string{"X-Forwarded-For": {"6.6.6.6, 203.0.113.9, 10.1.2.3"}}, "203.0.113.9"},
		{"trusted peer: xff over several lines", "10.0.0.1:1", proxies, map[string][]string{"X-Forwarded-For": {"6.6.6.6", "203.0.113.9", "10.1.2.3"}}, "203.0.113.9"},
		{"trusted peer: xff with port", "10.0.0.1:1", proxies, map[string][]string{"X-Forwarded-For": {"[2001:db8::5]:80"}}, "2001:db8::5"},
		{"trusted peer: all hops trusted", "10.0.0.1:1", proxies, map[string][]string{"X-Forwarded-For": {"10.9.9.9, 192.0.2.1"}}, "10.9.9.9"},
		{"trusted peer: malformed xff", "10.0.0.1:1", proxies, map[string][]string{"X-Forwarded-For": {"203.0.113.9, nonsense"}}, "10.0.0.1"},
		{"trusted peer: empty xff element", "10.0.0.1:1", proxies, map[string][]string{"X-Forwarded-For": {"203.0.113.9,,10.1.1.1"}}, "10.0.0.1"},
		{"trusted peer: xff too many hops", "10.0.0.1:1", proxies, map[string][]string{"X-Forwarded-For": {strings.Repeat("203.0.113.9,", 40) + "203.0.113.8"}}, "10.0.0.1"},
		{"trusted peer: xff too long", "10.0.0.1:1", proxies, map[string][]string{"X-Forwarded-For": {strings.Repeat(" ", 5000) + "203.0.113.9"}}, "10.0.0.1"},
		{"trusted peer: forwarded", "10.0.0.1:1", proxies, map[string][]string{"Forwarded": {"for=203.0.113.9;proto=https;by=10.0.0.1"}}, "203.0.113.9"},
		{"trusted peer: forwarded ipv6 quoted with port", "10.0.0.1:1", proxies, map[string][]string{"Forwarded": {`for="[2001:db8:cafe::17]:4711"`}}, "2001:db8:cafe::17"},
		{"trusted peer: forwarded rightmost untrusted", "10.0.0.1:1", proxies, map[string][]string{"Forwarded": {`for=6.6.6.6, for=203.0.113.9;by=x, FOR="10.2.2.2:80"`}}, "203.0.113.9"},
		{"trusted peer: forwarded quoted comma", "10.0.0.1:1", proxies, map[string][]string{"Forwarded": {`for=203.0.113.9;ext="a,b;c", for=10.2.2.2`}}, "203.0.113.9"},
		{"trusted peer: forwarded unknown hop", "10.0.0.1:1", proxies, map[string][]string{"Forwarded": {"for=203.0.113.9, for=unknown"}}, "10.0.0.1"},
		{"trusted peer: forwarded obfuscated hop", "10.0.0.1:1", proxies, map[string][]string{"Forwarded": {"for=_hidden"}}, "10.0.0.1"},
		{"trusted peer: forwarded element without for", "10.0.0.1:1", proxies, map[string][]string{"Forwarded": {"proto=https"}}, "10.0.0.1"},
		{"trusted peer: forwarded repeated for", "10.0.0.1:1", proxies, map[string][]string{"Forwarded": {"for=203.0.113.9;for=6.6.6.6"}}, "10.0.0.1"},
		{"trusted peer: forwarded unquoted port", "10.0.0.1:1", proxies, map[string][]string{"Forwarded": {"for=203.0.113.9:80"}}, "10.0.0.1"},
		{"trusted peer: forwarded unquoted ipv6", "10.0.0.1:1", proxies, map[string][]string{"Forwarded": {"for=2001:db8::1"}}, "10.0.0.1"},
		{"trusted peer: forwarded bare ipv6 in quotes", "10.0.0.1:1", proxies, map[string][]string{"Forwarded": {`for="2001:db8::1"`}}, "10.0.0.1"},
		{"trusted peer: forwarded unterminated quote", "10.0.0.1:1", proxies, map[string][]string{"Forwarded": {`for="203.0.113.9`}}, "10.0.0.1"},
		{"trusted peer: headers agree", "10.0.0.1:1", proxies, map[string][]string{"Forwarded": {"for=203.0.113.9"}, "X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9"},
		{"trusted peer: headers disagree", "10.0.0.1:1", proxies, map[string][]string{"Forwarded": {"for=6.6.6.6"}, "X-Forwarded-For": {"203.0.113.9"}}, "10.0.0.1"},
		{"trusted peer: forwarded fine, xff malformed", "10.0.0.1:1", proxies, map[string][]string{"Forwarded": {"for=203.0.113.9"}, "X-Forwarded-For": {"junk"}}, "10.0.0.1"},
		{"trusted peer: ipv4-mapped hop", "10.0.0.1:1", proxies, map[string][]string{"X-Forwarded-For": {"::ffff:203.0.113.9"}}, "203.0.113.9"},
		{"trusted ipv4-mapped peer", "[::ffff:10.0.0.1]:1", proxies, map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9"},
		{"trusted single address", "192.0.2.1:1", proxies, map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9"},
		{"neighbour of trusted single address", "192.0.2.2:1", proxies, map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "192.0.2.2"},
		{"trusted ipv6 proxy", "[2001:db8:ffff:1::1]:1", proxies, map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.peer
			for k, vs := range tt.header {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			var p clientaddr.TrustedProxies
			if tt.trusted != "" {
				p = mustProxies(t, tt.trusted)
			}
			got := p.ClientAddr(r)
			want := netip.Addr{}
			if tt.want != "" {
				want = netip.MustParseAddr(tt.want)
			}
			if got != want {
				t.Errorf("ClientAddr(peer %s, %v) = %v; want %v", tt.peer, tt.header, got, want)
			}
			if k, wk := p.ThrottleKey(r), clientaddr.Key(want); k != wk {
				t.Errorf("ThrottleKey = %q; want %q", k, wk)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{in: "", want: ""},
		{in: "  ", want: ""},
		{in: "10.0.0.0/8", want: "10.0.0.0/8"},
		{in: "10.1.2.3/8", want: "10.0.0.0/8"},
		{in: "192.0.2.1, 2001:db8::/32", want: "192.0.2.1/32,2001:db8::/32"},
		{in: "::ffff:10.0.0.0/104", want: "10.0.0.0/8"},
		{in: "::ffff:192.0.2.1", want: "192.0.2.1/32"},
		{in: "10.0.0.0/8,", bad: true},
		{in: "10.0.0.0/33", bad: true},
		{in: "example.com", bad: true},
		{in: "fe80::1%eth0", bad: true},
	}
	for _, tt := range tests {
		p, err := clientaddr.ParseTrustedProxies(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("ParseTrustedProxies(%q) = %v; want an error", tt.in, p)
			}
			continue
		}
		if err != nil || p.String() != tt.want {
			t.Errorf("ParseTrustedProxies(%q) = %q, %v; want %q", tt.in, p.String(), err, tt.want)
		}
	}
}

func TestParseForwarded(t *testing.T) {
	tests := []struct {
		in   string
		want []string // "" for a hop without an address; nil with ok false
		ok   bool
	}{
		{"for=192.0.2.60;proto=http;by=203.0.113.43", []string{"192.0.2.60"}, true},
		{`for="_gazonk"`, []string{""}, true},
		{`For="[2001:db8:cafe::17]:4711"`, []string{"2001:db8:cafe::17"}, true},
		{"for=192.0.2.43, for=198.51.100.17", []string{"192.0.2.43", "198.51.100.17"}, true},
		{"for=192.0.2.43,,for=198.51.100.17", []string{"192.0.2.43", "198.51.100.17"}, true},
		{"for=192.0.2.43;;proto=http", []string{"192.0.2.43"}, true},
		{`for="192.0.2.43:_port"`, []string{"192.0.2.43"}, true},
		{"proto=https", []string{""}, true},
		{"for=", nil, false},
		{"for", nil, false},
		{"=x", nil, false},
		{"for=1.2.3.4 x", nil, false},
		{`for="\"1.2.3.4"`, nil, false},
		{"for=1.2.3.4;for=1.2.3.5", nil, false},
		{`for="[2001:db8::1"`, nil, false},
		{`for="[192.0.2.1]"`, nil, false},
		{`for="192.0.2.1:99999999"`, nil, false},
		{"for=\"192.0.2.1\xff\"", nil, false},
	}
	for _, tt := range tests {
		hops, ok := clientaddr.ParseForwarded(tt.in)
		if ok != tt.ok {
			t.Errorf("ParseForwarded(%q) ok = %v; want %v", tt.in, ok, tt.ok)
			continue
		}
		var got []string
		for _, h := range hops {
			if h.IsValid() {
				got = append(got, h.String())
			} else {
				got = append(got, "")
			}
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("ParseForwarded(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzClientAddr feeds arbitrary proxy headers through a trusted peer: the
// answer is always the peer or an address that appears in a header, never
// a panic, and never from headers sent by an untrusted peer.
func FuzzClientAddr(f *testing.F) {
	for _, s := range []string{
		"for=192.0.2.60;proto=http;by=203.0.113.43",
		`for="[2001:db8:cafe::17]:4711", for=unknown`,
		`for=192.0.2.43;ext="a,b;\"c"`,
		"192.0.2.1, 10.0.0.1",
		"[::ffff:1.2.3.4]:80",
		"",
	} {
		f.Add(s, s)
	}
	p := clientaddr.TrustedProxies{netip.MustParsePrefix("10.0.0.0/8")}
	f.Fuzz(func(t *testing.T, fwd, xff string) {
		hops, ok := clientaddr.ParseForwarded(fwd)
		if !ok && hops != nil {
			t.Fatalf("ParseForwarded(%q) = %v, false; want nil hops", fwd, hops)
		}
		if len(hops) > clientaddr.MaxHops {
			t.Fatalf("ParseForwarded(%q): %d hops; want at most %d", fwd, len(hops), clientaddr.MaxHops)
		}
		for _, peer := range []string{"10.0.0.1:1", "198.51.100.1:1"} {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = peer
			r.Header["Forwarded"] = []string{fwd}
			r.Header["X-Forwarded-For"] = []string{xff}
			got := p.ClientAddr(r)
			peerAddr := netip.MustParseAddrPort(peer).Addr()
			if got == peerAddr {
				continue
			}
			if peer != "10.0.0.1:1" {
				t.Fatalf("untrusted peer: ClientAddr = %v; want the peer", got)
			}
			if !got.IsValid() || got.Zone() != "" || got.Is4In6() {
				t.Fatalf("ClientAddr = %v; want a plain valid address", got)
			}
		}
	})
}

func BenchmarkThrottleKey(b *testing.B) {
	p := clientaddr.TrustedProxies{netip.MustParsePrefix("10.0.0.0/8")}
	for _, bc := range []struct {
		name, peer, xff string
	}{
		{"peer ipv4", "192.0.2.1:1234", ""},
		{"peer ipv6", "[2001:db8::1]:1234", ""},
		{"proxied xff", "10.0.0.1:1234", "6.6.6.6, 203.0.113.9"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = bc.peer
			if bc.xff != "" {
				r.Header.Set("X-Forwarded-For", bc.xff)
			}
			b.ReportAllocs()
			for b.Loop() {
				p.ThrottleKey(r)
			}
		})
	}
}
