package cli

import (
	"fmt"
	"net/textproto"
	"strings"

	"github.com/m2mkit/m2m/clientaddr"
	"github.com/m2mkit/m2m/httpauth"
)

// reservedCertHeaders are headers that carry something else: a proxy
// cannot forward a certificate in them.
var reservedCertHeaders = []string{"Authorization", "Cookie", "Content-Type", "Content-Length", "Dpop", "Forwarded", "Host", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"}

// checkClientCertHeader checks --client-cert-header and its format.
func (o *serveOptions) checkClientCertHeader() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch httpauth.CertHeaderFormat(o.clientCertHeaderFormat) {
	case httpauth.CertHeaderRFC9440, httpauth.CertHeaderEscapedPEM:
	default:
		bad("--client-cert-header-format %q: want %s or %s", o.clientCertHeaderFormat, httpauth.CertHeaderRFC9440, httpauth.CertHeaderEscapedPEM)
	}
	if o.clientCertHeader == "" {
		if _, set := o.sources["client-cert-header-format"]; set {
			bad("--client-cert-header-format: give --client-cert-header, the header it describes")
		}
		return errs
	}
	name := textproto.CanonicalMIMEHeaderKey(o.clientCertHeader)
	switch {
	case !validHeaderName(o.clientCertHeader):
		bad("--client-cert-header %q: not a header name", o.clientCertHeader)
	case strings.HasPrefix(name, "Sec-") || containsFold(reservedCertHeaders, name):
		bad("--client-cert-header %q: that header carries something else; the usual name is %s", o.clientCertHeader, httpauth.DefaultClientCertHeader)
	}
	if p, err := clientaddr.ParseTrustedProxies(o.trustedProxies); err == nil && len(p) == 0 {
		bad("--client-cert-header needs --trusted-proxies: the header is believed only from the proxies that set it")
	}
	return errs
}

// validHeaderName reports whether s is an HTTP field name (an RFC 9110
// token).
func validHeaderName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
