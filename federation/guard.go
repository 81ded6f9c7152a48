package federation

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// maxRedirects bounds the same-origin redirects a fetch follows.
const maxRedirects = 5

// named is the set of addresses a policy names itself, as IP literals in
// its Issuer or JWKSURI: the only non-public addresses its fetches may
// connect to, and the only hosts that may be reached over plain http (a
// loopback one).
type named map[netip.AddrPort]bool

// namedAddrs returns the IP-literal addresses of the given URLs (with
// their scheme's default port when they name none).
func namedAddrs(urls ...string) named {
	n := named{}
	for _, raw := range urls {
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		if ap, ok := literalAddr(u); ok {
			n[ap] = true
		}
	}
	return n
}

// literalAddr returns u's host and port when the host is an IP literal.
func literalAddr(u *url.URL) (netip.AddrPort, bool) {
	a, err := netip.ParseAddr(u.Hostname())
	if err != nil || a.Zone() != "" {
		return netip.AddrPort{}, false
	}
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		default:
			return netip.AddrPort{}, false
		}
	}
	ap, err := netip.ParseAddrPort(net.JoinHostPort(a.Unmap().String(), port))
	if err != nil {
		return netip.AddrPort{}, false
	}
	return ap, true
}

// checkURL decides whether a key or discovery document may be fetched
// from raw: https, or plain http to a loopback IP literal the policy
// names; no user info; a host.
func (n named) checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a valid URL")
	}
	if u.Host == "" || u.User != nil || u.Opaque != "" {
		return nil, errors.New("not an absolute URL with a host and no user info")
	}
	switch u.Scheme {
	case "https":
		return u, nil
	case "http":
		if ap, ok := literalAddr(u); ok && ap.Addr().IsLoopback() && n[ap] {
			return u, nil
		}
		return nil, errors.New("plain http is allowed only to a loopback address the policy names")
	}
	return nil, errors.New("not an https URL")
}

// errAddress is the error of a connection to an address that is not
// public and not named by the policy.
var errAddress = errors.New("federation: refusing to connect to a non-public address the policy does not name")

// control is the net.Dialer Control of a policy's fetches: it runs on
// the address actually dialed, after name resolution, so that a name that
// resolves (or re-resolves: DNS rebinding) to a private address is caught.
func (n named) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return errAddress
	}
	ap = netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port())
	if n[ap] || public(ap.Addr()) {
		return nil
	}
	return errAddress
}

// Ranges that are not public although netip's predicates do not say so.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT (and some clouds' metadata)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: checked by its IPv4 part too
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
	netip.MustParsePrefix("2002::/16"),       // 6to4: may reach an IPv4 private network
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated)
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001::/32"),       // Teredo
	netip.MustParsePrefix("2001:10::/28"),    // ORCHID
	netip.MustParsePrefix("ff00::/8"),        // multicast
	netip.MustParsePrefix("224.0.0.0/4"),     // multicast
	netip.MustParsePrefix("169.254.0.0/16"),  // link-local (cloud metadata)
	netip.MustParsePrefix("fe80::/10"),       // link-local
	netip.MustParsePrefix("127.0.0.0/8"),     // loopback
	netip.MustParsePrefix("10.0.0.0/8"),      // private
	netip.MustParsePrefix("172.16.0.0/12"),   // private
	netip.MustParsePrefix("192.168.0.0/16"),  // private
	netip.MustParsePrefix("fc00::/7"),        // unique local
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
}

// public reports whether a may be connected to without the policy naming
// it: not loopback, private, link-local, unspecified, multicast or
// otherwise reserved.
func public(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsUnspecified() || a.IsLoopback() || a.IsPrivate() ||
		a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() ||
		a.IsMulticast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// newFetchClient returns the HTTP client of one policy's fetches: base
// (cloned) with its dialer guarded by n, no proxy (a proxy would dial in
// our stead, out of the guard's sight), redirects followed only within
// the first request's origin, and every fetch bounded by timeout.
func newFetchClient(base *http.Transport, n named, timeout time.Duration) *http.Client {
	t := base.Clone()
	t.Proxy = nil
	t.OnProxyConnectResponse = nil
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: n.control}
	t.DialContext = d.DialContext
	t.Dial = nil //nolint:staticcheck // cleared so that DialContext is used
	t.DialTLSContext = nil
	t.DialTLS = nil //nolint:staticcheck // cleared so that the guarded dialer is used
	if t.TLSHandshakeTimeout == 0 || t.TLSHandshakeTimeout > timeout {
		t.TLSHandshakeTimeout = timeout
	}
	if t.ResponseHeaderTimeout == 0 || t.ResponseHeaderTimeout > timeout {
		t.ResponseHeaderTimeout = timeout
	}
	return &http.Client{
		Transport: t,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("federation: stopped after %d redirects", maxRedirects)
			}
			first := via[0].URL
			if !strings.EqualFold(req.URL.Scheme, first.Scheme) || !strings.EqualFold(req.URL.Host, first.Host) {
				return errors.New("federation: refusing a redirect to another origin")
			}
			return nil
		},
	}
}

// defaultTransport is the transport of a Verifier without Config.Client:
// the system trust store (SSL_CERT_FILE and SSL_CERT_DIR work), HTTP/2,
// bounded idle connections.
func defaultTransport() *http.Transport {
	return &http.Transport{
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        16,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
	}
}

// withTimeout returns ctx bounded by d, detached from ctx's cancellation
// when detach is set (for a fetch that other callers wait for).
func withTimeout(ctx context.Context, d time.Duration, detach bool) (context.Context, context.CancelFunc) {
	if detach {
		ctx = context.WithoutCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
