// Package clientaddr derives the address of the client behind an HTTP
// request and the key that failure throttles count it under. It is the one
// place where m2m reads a request's peer address and the proxy headers
// that may name the client: Forwarded (RFC 7239) and X-Forwarded-For.
//
// Those headers are believed only when the TCP peer is a configured
// trusted proxy ([TrustedProxies]); the client is then the rightmost hop
// that is not itself a trusted proxy. Headers that cannot be read
// unambiguously (malformed, too large, obfuscated or "unknown" hops, or a
// Forwarded and an X-Forwarded-For header that disagree) are ignored, and
// the client is the peer: never an address a client chose.
package clientaddr

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// Limits on the proxy headers that are read. A request whose headers
// exceed them is attributed to its peer.
const (
	// MaxHeaderBytes bounds the combined Forwarded or X-Forwarded-For
	// header values that are parsed.
	MaxHeaderBytes = 4 << 10
	// MaxHops bounds the number of hops in one of those headers.
	MaxHops = 32
)

// TrustedProxies are the prefixes of the proxies whose Forwarded and
// X-Forwarded-For headers are believed. A single address is a /32 or
// /128 prefix. The zero value (nil) trusts no proxy: the client is always
// the TCP peer. A TrustedProxies is safe for concurrent use as long as it
// is not modified.
type TrustedProxies []netip.Prefix

// ParseTrustedProxies parses a comma-separated list of CIDR prefixes or
// single addresses ("10.0.0.0/8, 192.0.2.7, 2001:db8::/32"). Empty
// elements are refused; the empty string is no proxies. Prefixes are
// stored masked, IPv4-mapped IPv6 addresses as IPv4.
func ParseTrustedProxies(s string) (TrustedProxies, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out TrustedProxies
	for el := range strings.SplitSeq(s, ",") {
		el = strings.TrimSpace(el)
		p, err := parsePrefix(el)
		if err != nil {
			return nil, &ParseError{Value: el}
		}
		out = append(out, p)
	}
	return out, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, &ParseError{Value: s}
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ParseError reports an element of a trusted-proxy list that is not a
// CIDR prefix or an address.
type ParseError struct{ Value string }

func (e *ParseError) Error() string {
	return "clientaddr: " + quoteBounded(e.Value) + " is not a CIDR prefix or an IP address"
}

func quoteBounded(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.Quote(strings.ToValidUTF8(s, "?"))
}

// Contains reports whether a is one of the trusted proxies.
func (p TrustedProxies) Contains(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, pre := range p {
		if pre.Contains(a) {
			return true
		}
	}
	return false
}

// Peer returns the address of r's TCP peer (r.RemoteAddr, with or
// without a port), unmapped and without zone, or the zero Addr when
// RemoteAddr is not an IP address (a Unix socket, a test request).
func Peer(r *http.Request) netip.Addr {
	return parseHost(r.RemoteAddr)
}

// ClientAddr returns the address of the client that sent r: its TCP peer,
// or, when the peer is a trusted proxy, the rightmost hop of the
// Forwarded or X-Forwarded-For header that is not a trusted proxy (the
// leftmost hop when all are). Headers that cannot be read unambiguously
// leave the peer. The result is unmapped and has no zone; it is the zero
// Addr only when the peer is not an IP address.
func (p TrustedProxies) ClientAddr(r *http.Request) netip.Addr {
	peer := Peer(r)
	if len(p) == 0 || !p.Contains(peer) {
		return peer
	}
	fwd, fok := p.fromForwarded(r.Header.Values("Forwarded"))
	xff, xok := p.fromXFF(r.Header.Values("X-Forwarded-For"))
	switch {
	case fok && xok:
		if fwd == xff {
			return fwd
		}
		return peer // two stories: believe neither
	case fok:
		if len(r.Header.Values("X-Forwarded-For")) > 0 {
			return peer // an X-Forwarded-For that cannot be read
		}
		return fwd
	case xok:
		if len(r.Header.Values("Forwarded")) > 0 {
			return peer
		}
		return xff
	}
	return peer
}

// ThrottleKey returns the key a failure throttle counts r's client under:
// [Key] of [TrustedProxies.ClientAddr].
func (p TrustedProxies) ThrottleKey(r *http.Request) string {
	return Key(p.ClientAddr(r))
}

// Key returns the throttling key of a client address: an IPv4 address
// (also IPv4-mapped IPv6) as itself, an IPv6 address as its /64 prefix
// (a client usually holds a whole /64 and could otherwise take a fresh
// address for every few guesses), and "non-ip" for the zero Addr, so
// that every peer that is not an IP address shares one key.
func Key(a netip.Addr) string {
	if !a.IsValid() {
		return "non-ip"
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	pre, _ := a.Prefix(64)
	return pre.String()
}

// String returns the prefixes, comma-separated, as ParseTrustedProxies
// reads them.
func (p TrustedProxies) String() string {
	var b strings.Builder
	for i, pre := range p {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(pre.String())
	}
	return b.String()
}

// parseHost reads "ip", "ip:port" or "[ipv6]:port" (zone allowed and
// dropped); anything else is the zero Addr.
func parseHost(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("")
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Is6() {
			return a.Unmap().WithZone("")
		}
	}
	return netip.Addr{}
}

// rightmost picks the client from hops (leftmost first, the zero Addr
// for a hop that names no address): the rightmost hop that is not a
// trusted proxy; false when that hop names no address.
func (p TrustedProxies) rightmost(hops []netip.Addr) (netip.Addr, bool) {
	if len(hops) == 0 {
		return netip.Addr{}, false
	}
	for i := len(hops) - 1; i >= 0; i-- {
		if !p.Contains(hops[i]) {
			return hops[i], hops[i].IsValid()
		}
	}
	return hops[0], true
}

func joinBounded(values []string) (string, bool) {
	n := 0
	for _, v := range values {
		n += len(v) + 1
	}
	if n > MaxHeaderBytes {
		return "", false
	}
	return strings.Join(values, ","), true
}

// fromXFF reads X-Forwarded-For: comma-separated addresses, each
// optionally with a port.
func (p TrustedProxies) fromXFF(values []string) (netip.Addr, bool) {
	if len(values) == 0 {
		return netip.Addr{}, false
	}
	s, ok := joinBounded(values)
	if !ok {
		return netip.Addr{}, false
	}
	var hops []netip.Addr
	for el := range strings.SplitSeq(s, ",") {
		if len(hops) == MaxHops {
			return netip.Addr{}, false
		}
		a := parseHost(strings.Trim(el, " \t"))
		if !a.IsValid() {
			return netip.Addr{}, false
		}
		hops = append(hops, a)
	}
	return p.rightmost(hops)
}

// fromForwarded reads Forwarded (RFC 7239 section 4): comma-separated
// elements of semicolon-separated name=value pairs, values tokens or
// quoted strings; the for= value of each element is its hop.
func (p TrustedProxies) fromForwarded(values []string) (netip.Addr, bool) {
	if len(values) == 0 {
		return netip.Addr{}, false
	}
	s, ok := joinBounded(values)
	if !ok {
		return netip.Addr{}, false
	}
	hops, ok := ParseForwarded(s)
	if !ok {
		return netip.Addr{}, false
	}
	return p.rightmost(hops)
}

// ParseForwarded parses a Forwarded header value (RFC 7239; several
// header lines joined with commas) and returns the for= address of each
// element, leftmost first. An element without for=, or whose for= is
// "unknown" or an obfuscated identifier, gives the zero Addr. ok is false
// when the value is malformed: bad syntax, a parameter repeated within an
// element, a for= that is neither an address nor an identifier, or more
// than [MaxHops] elements.
func ParseForwarded(s string) (hops []netip.Addr, ok bool) {
	i := 0
	for {
		if len(hops) == MaxHops {
			return nil, false
		}
		var hop netip.Addr
		seen := map[string]bool{}
		empty := true
		for {
			i = skipOWS(s, i)
			if i < len(s) && s[i] == ';' { // an empty pair, as the grammar allows
				i++
				continue
			}
			if i == len(s) || s[i] == ',' {
				break // an empty element is tolerated ("a,,b"), as list syntax allows
			}
			j := i
			for j < len(s) && isTchar(s[j]) {
				j++
			}
			if j == i || j == len(s) || s[j] != '=' {
				return nil, false
			}
			name := strings.ToLower(s[i:j])
			if seen[name] {
				return nil, false
			}
			seen[name] = true
			i = j + 1
			var val string
			if i < len(s) && s[i] == '"' {
				v, n, ok := quoted(s[i:])
				if !ok {
					return nil, false
				}
				val, i = v, i+n
			} else {
				j = i
				for j < len(s) && isTchar(s[j]) {
					j++
				}
				if j == i {
					return nil, false
				}
				val, i = s[i:j], j
			}
			empty = false
			if name == "for" {
				a, ok := forNode(val)
				if !ok {
					return nil, false
				}
				hop = a
			}
			i = skipOWS(s, i)
			if i < len(s) && s[i] != ';' && s[i] != ',' {
				return nil, false
			}
		}
		if !empty { // list syntax tolerates empty elements
			hops = append(hops, hop)
		}
		i = skipOWS(s, i)
		if i == len(s) {
			return hops, true
		}
		if s[i] != ',' {
			return nil, false
		}
		i++
	}
}

// forNode reads an RFC 7239 node: "unknown", an obfuscated identifier
// ("_..."), an IPv4 address, or a bracketed IPv6 address, each optionally
// with ":port" (port digits or an obfuscated port). Identifiers give the
// zero Addr.
func forNode(v string) (netip.Addr, bool) {
	host, port := v, ""
	if strings.HasPrefix(v, "[") {
		end := strings.IndexByte(v, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		host, port = v[1:end], v[end+1:]
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() {
			return netip.Addr{}, false
		}
		if !validPort(port) {
			return netip.Addr{}, false
		}
		return a.Unmap().WithZone(""), true
	}
	if k := strings.IndexByte(v, ':'); k >= 0 {
		host, port = v[:k], v[k:]
	}
	if !validPort(port) {
		return netip.Addr{}, false
	}
	if strings.EqualFold(host, "unknown") || isObfuscated(host) {
		return netip.Addr{}, true
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !a.Is4() {
		return netip.Addr{}, false
	}
	return a, true
}

func validPort(p string) bool {
	if p == "" {
		return true
	}
	if p[0] != ':' || len(p) == 1 {
		return false
	}
	p = p[1:]
	if isObfuscated(p) {
		return true
	}
	if len(p) > 5 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

// isObfuscated reports an RFC 7239 obfuscated identifier:
// "_" 1*( ALPHA / DIGIT / "." / "_" / "-").
func isObfuscated(s string) bool {
	if len(s) < 2 || s[0] != '_' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// quoted reads an RFC 9110 quoted-string at the start of s and returns its
// unescaped value and length.
func quoted(s string) (string, int, bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			return b.String(), i + 1, true
		case c == '\\':
			i++
			if i == len(s) || !isQdtextOrEscapable(s[i], true) {
				return "", 0, false
			}
			b.WriteByte(s[i])
		case isQdtextOrEscapable(c, false):
			b.WriteByte(c)
		default:
			return "", 0, false
		}
	}
	return "", 0, false
}

func isQdtextOrEscapable(c byte, escaped bool) bool {
	if c == '\t' || c == ' ' || c >= 0x21 && c <= 0x7e && (escaped || c != '"' && c != '\\') {
		return true
	}
	return false // obs-text (>= 0x80) is refused: one spelling
}

func skipOWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// isTchar reports an RFC 9110 token character.
func isTchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
