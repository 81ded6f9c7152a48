// Package outbound holds what every credential-adding HTTP client
// transport of m2m shares: a [Transport] that clones the caller's request,
// adds a credential to the clone, closes the request body on every path
// (as [http.RoundTripper] requires), and sends a credential only to the
// origin the caller addressed ([SameOriginAsFirst]).
//
// The clientcred, rolling and dynamic transports are built on it, and so
// can be a transport for a scheme of your own: set [Transport.Authorize]
// to a function that adds your header. Its shape is that of
// golang.org/x/oauth2's Transport, with the redirect rule added.
//
// The package sits below both the client packages and the server
// middleware (httpauth), so that a client never imports server code for
// a helper.
package outbound

import (
	"errors"
	"net/http"
	"strings"
)

// Transport is an [http.RoundTripper] that adds a credential to every
// request it sends to the origin of the first request of a redirect
// chain. It never modifies the caller's request: Authorize works on a
// clone. The request body is closed on every path, errors and panics of
// Authorize included.
//
// A request that [http.Client] makes to follow a redirect to another
// origin (scheme and host, port included) is sent as it is, without the
// credential: http.Client drops an Authorization header the caller set
// when it follows a redirect to another host, but a transport would add
// its credential again on every hop.
//
// The zero Transport has no Authorize and fails every request with an
// error. A Transport is safe for concurrent use when Base and Authorize
// are.
type Transport struct {
	// Authorize adds the credential to r, a clone of the caller's request
	// that it may modify (normally by setting a header). An error aborts
	// the request: RoundTrip closes the body and returns the error as it
	// is. Required.
	Authorize func(r *http.Request) error
	// Base sends the requests; nil means [http.DefaultTransport].
	Base http.RoundTripper
}

var _ http.RoundTripper = (*Transport)(nil)

// ErrNoAuthorize is returned by [Transport.RoundTrip] when Authorize is
// nil.
var ErrNoAuthorize = errors.New("outbound: Transport has no Authorize function")

// RoundTrip sends req with Base: a clone of it with the credential added
// when req goes to the origin of its redirect chain's first request, req
// itself otherwise.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	handedOn := false
	if req.Body != nil {
		defer func() {
			if !handedOn {
				req.Body.Close()
			}
		}()
	}
	if !SameOriginAsFirst(req) {
		handedOn = true // Base closes the body.
		return t.base().RoundTrip(req)
	}
	if t.Authorize == nil {
		return nil, ErrNoAuthorize
	}
	r := req.Clone(req.Context())
	if err := t.Authorize(r); err != nil {
		return nil, err
	}
	handedOn = true // Base closes the body.
	return t.base().RoundTrip(r)
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// maxRedirectDepth bounds the walk back through a redirect chain;
// http.Client stops after 10 redirects by default.
const maxRedirectDepth = 100

// SameOriginAsFirst reports whether req is the first request of its
// redirect chain, or a redirect (which [http.Client] marks by setting
// req.Response) to the same scheme and host, port included, as that first
// request. Scheme and host are compared as written, without regard to
// case: "host" and "host:443" count as two origins, which errs on the
// side of sending no credential.
//
// Credential-adding RoundTrippers use it to send a credential only to the
// origin the caller addressed. [Transport] applies it; call it directly
// only in a RoundTripper that cannot be built on Transport.
func SameOriginAsFirst(req *http.Request) bool {
	first := req
	for i := 0; first.Response != nil && first.Response.Request != nil; i++ {
		if i == maxRedirectDepth {
			return false // a chain this long is not http.Client's: fail closed
		}
		first = first.Response.Request
	}
	if first == req {
		return true
	}
	if req.URL == nil || first.URL == nil {
		return false
	}
	return strings.EqualFold(req.URL.Scheme, first.URL.Scheme) && strings.EqualFold(req.URL.Host, first.URL.Host)
}
