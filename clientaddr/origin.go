package clientaddr

import (
	"net/http"
	"net/netip"
	"strings"
)

// MaxForwardedHostBytes bounds the X-Forwarded-Host value that
// [TrustedProxies.ForwardedOrigin] reads; an RFC 1035 name is at most 253
// bytes, a port adds 6.
const MaxForwardedHostBytes = 260

// ForwardedOrigin returns the origin ("https://api.example.com",
// "http://[2001:db8::1]:8080") a client sent r to, as the trusted proxy
// that relayed it says in X-Forwarded-Proto and X-Forwarded-Host: the
// public origin a DPoP proof's htu names, behind a TLS-terminating proxy.
// It is read only when r's TCP peer is a trusted proxy; each header must
// then be present exactly once with a single value (a list, written by a
// chain of proxies, is refused rather than guessed at), the scheme must be
// http or https, and the host a DNS name or an IP literal with an optional
// port, at most [MaxForwardedHostBytes] long. Otherwise ok is false. The
// Host header is never read: a client chooses it.
//
// The origin is returned in lower case, with the port as the proxy gave
// it.
func (p TrustedProxies) ForwardedOrigin(r *http.Request) (origin string, ok bool) {
	if len(p) == 0 || !p.Contains(Peer(r)) {
		return "", false
	}
	protos, hosts := r.Header.Values("X-Forwarded-Proto"), r.Header.Values("X-Forwarded-Host")
	if len(protos) != 1 || len(hosts) != 1 {
		return "", false
	}
	proto := strings.ToLower(strings.Trim(protos[0], " \t"))
	if proto != "http" && proto != "https" {
		return "", false
	}
	host := strings.ToLower(strings.Trim(hosts[0], " \t"))
	if !validHostPort(host) {
		return "", false
	}
	return proto + "://" + host, true
}

// validHostPort accepts "name", "name:port", "ipv4[:port]" and
// "[ipv6]:port" / "[ipv6]" (no zone), with name made of letters, digits,
// '-' and '.' only.
func validHostPort(s string) bool {
	if s == "" || len(s) > MaxForwardedHostBytes {
		return false
	}
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		a, err := netip.ParseAddr(s[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return false
		}
		rest := s[end+1:]
		if rest == "" {
			return true
		}
		if rest[0] != ':' {
			return false
		}
		return decimalPort(rest[1:])
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i+1:]
		if !decimalPort(port) {
			return false
		}
	}
	if host == "" || host[0] == '.' || host[0] == '-' {
		return false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// decimalPort accepts 1 to 5 decimal digits.
func decimalPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}
