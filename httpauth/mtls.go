package httpauth

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/m2mkit/m2m/clientaddr"
)

// DefaultClientCertHeader is the header a TLS-terminating proxy forwards
// the client certificate in (RFC 9440 section 2.2).
const DefaultClientCertHeader = "Client-Cert"

// DefaultMaxClientCertHeaderBytes bounds a forwarded certificate header
// when ClientCertificates.MaxHeaderBytes is zero: a certificate is one
// to three KiB, and an RSA 4096 one with many names fits in well under 16.
const DefaultMaxClientCertHeaderBytes = 16 << 10

// CertHeaderFormat is how a proxy writes the certificate in its header.
type CertHeaderFormat string

const (
	// CertHeaderRFC9440 is the RFC 9440 Client-Cert field: the DER
	// certificate as a structured-field byte sequence, ":BASE64:" (HAProxy,
	// Envoy and Apache can send it; nginx with
	// "proxy_set_header Client-Cert :$ssl_client_cert_der_base64:" where
	// available).
	CertHeaderRFC9440 CertHeaderFormat = "rfc9440"
	// CertHeaderEscapedPEM is the URL-escaped PEM certificate of nginx's
	// $ssl_client_escaped_cert ("proxy_set_header X-SSL-Client-Cert
	// $ssl_client_escaped_cert;").
	CertHeaderEscapedPEM CertHeaderFormat = "escaped-pem"
)

// ErrBadClientCertHeader is wrapped by the error of
// [ClientCertificates.Certificate] when a trusted proxy's certificate
// header cannot be read: more than one field, too large, or not a
// certificate in the configured format.
var ErrBadClientCertHeader = errors.New("httpauth: malformed client certificate header")

// ClientCertificates finds the client certificate a request was sent with
// (mutual TLS, RFC 8705): the certificate of the TLS connection when Go
// terminates TLS, or, behind a TLS-terminating proxy, the certificate the
// proxy forwards in Header, believed only when the request's TCP peer is
// one of TrustedProxies.
//
// The zero value reads only TLS connections Go terminates. A
// ClientCertificates is safe for concurrent use; do not change its fields
// while it is in use.
type ClientCertificates struct {
	// Header is the header a trusted proxy forwards the client
	// certificate in, such as [DefaultClientCertHeader]; "" means none is
	// read. The proxy must set it on every request (empty when the client
	// sent no certificate) and remove any value a client sent.
	Header string
	// Format is how Header is written: "" means [CertHeaderRFC9440].
	Format CertHeaderFormat
	// TrustedProxies are the peers whose Header is believed. A request
	// from any other peer is read as if it had no Header. Nil believes
	// no one: Header is then never read.
	TrustedProxies clientaddr.TrustedProxies
	// MaxHeaderBytes bounds Header's value (0:
	// [DefaultMaxClientCertHeaderBytes]).
	MaxHeaderBytes int
}

// Validate reports a configuration that cannot work.
func (c *ClientCertificates) Validate() error {
	if c == nil {
		return nil
	}
	var problems []string
	switch c.Format {
	case "", CertHeaderRFC9440, CertHeaderEscapedPEM:
	default:
		problems = append(problems, fmt.Sprintf("unknown Format %q (want %q or %q)", c.Format, CertHeaderRFC9440, CertHeaderEscapedPEM))
	}
	if c.Header != "" && len(c.TrustedProxies) == 0 {
		problems = append(problems, "a certificate Header needs the TrustedProxies that set it")
	}
	if c.MaxHeaderBytes < 0 {
		problems = append(problems, "negative MaxHeaderBytes")
	}
	if len(problems) > 0 {
		return errors.New("httpauth: ClientCertificates: " + strings.Join(problems, "; "))
	}
	return nil
}

// Certificate returns the client certificate of r and the intermediate
// certificates sent with it (only on a TLS connection Go terminates; a
// forwarded certificate comes alone), or nil when there is none. When r
// comes from a trusted proxy and Header is set, the header is read and
// the connection's own certificate (the proxy's) is not. A header that
// cannot be read is an error wrapping [ErrBadClientCertHeader]. A nil
// ClientCertificates reads only the TLS connection.
//
// Certificate does not verify the certificate: whoever checks a
// certificate-bound token compares its thumbprint, and whoever
// authenticates a client with it checks its chain or its key.
func (c *ClientCertificates) Certificate(r *http.Request) (leaf *x509.Certificate, intermediates []*x509.Certificate, err error) {
	if c != nil && c.Header != "" && c.TrustedProxies.Contains(clientaddr.Peer(r)) {
		leaf, err := c.fromHeader(r.Header.Values(c.Header))
		return leaf, nil, err
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, nil, nil
	}
	return r.TLS.PeerCertificates[0], r.TLS.PeerCertificates[1:], nil
}

func (c *ClientCertificates) fromHeader(values []string) (*x509.Certificate, error) {
	switch len(values) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, fmt.Errorf("%w: more than one field", ErrBadClientCertHeader)
	}
	limit := c.MaxHeaderBytes
	if limit == 0 {
		limit = DefaultMaxClientCertHeaderBytes
	}
	if len(values[0]) > limit {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrBadClientCertHeader, limit)
	}
	v := strings.Trim(values[0], " \t")
	if v == "" {
		return nil, nil
	}
	var der []byte
	var err error
	if c.Format == CertHeaderEscapedPEM {
		der, err = ParseEscapedPEMCert(v)
	} else {
		der, err = ParseClientCertField(v)
	}
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadClientCertHeader, err)
	}
	return cert, nil
}

// ParseClientCertField decodes an RFC 9440 Client-Cert field value: a
// structured-field byte sequence (RFC 8941 section 3.3.5), ":" base64
// ":", padded or not, around the DER certificate, which it returns
// without parsing. Parameters are not allowed.
func ParseClientCertField(v string) ([]byte, error) {
	v = strings.Trim(v, " \t")
	if len(v) < 2 || v[0] != ':' || v[len(v)-1] != ':' || strings.IndexByte(v[1:len(v)-1], ':') >= 0 {
		return nil, fmt.Errorf("%w: not a structured-field byte sequence (:BASE64:)", ErrBadClientCertHeader)
	}
	b64 := v[1 : len(v)-1]
	enc := base64.StdEncoding
	if len(b64)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	der, err := enc.Strict().DecodeString(b64)
	if err != nil || len(der) == 0 {
		return nil, fmt.Errorf("%w: bad base64", ErrBadClientCertHeader)
	}
	return der, nil
}

// ParseEscapedPEMCert decodes nginx's $ssl_client_escaped_cert: a
// URL-escaped PEM document holding one CERTIFICATE block, whose DER it
// returns without parsing.
func ParseEscapedPEMCert(v string) ([]byte, error) {
	s, err := url.PathUnescape(strings.Trim(v, " \t"))
	if err != nil {
		return nil, fmt.Errorf("%w: bad URL escape", ErrBadClientCertHeader)
	}
	block, rest := pem.Decode([]byte(s))
	if block == nil || block.Type != "CERTIFICATE" || len(block.Headers) > 0 {
		return nil, fmt.Errorf("%w: not a PEM certificate", ErrBadClientCertHeader)
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return nil, fmt.Errorf("%w: more than one PEM block", ErrBadClientCertHeader)
	}
	return block.Bytes, nil
}

// CertificateThumbprint returns the X.509 certificate SHA-256 thumbprint
// of cert, base64url without padding: the value a certificate-bound
// token carries in cnf.x5t#S256 (RFC 8705 section 3.1).
func CertificateThumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
