package httpauth

import (
	"net/http"
	"strings"
)

// SameOriginAsFirst reports whether req is the first request of its
// redirect chain, or a redirect (which http.Client marks by setting
// req.Response) to the same scheme and host as that first request.
//
// Credential-adding RoundTrippers use it to send a credential only to the
// origin the caller addressed: http.Client drops an Authorization header
// the caller set on a redirect to another host, but not one a transport
// adds on every hop.
func SameOriginAsFirst(req *http.Request) bool {
	first := req
	for i := 0; first.Response != nil && first.Response.Request != nil && i < 100; i++ {
		first = first.Response.Request
	}
	if first == req {
		return true
	}
	return strings.EqualFold(req.URL.Scheme, first.URL.Scheme) && strings.EqualFold(req.URL.Host, first.URL.Host)
}
