package store

import (
	"net/netip"
	"net/url"
	"strings"

	"github.com/m2mkit/m2m/internal/rfc4514"
)

type tlsName struct{ field, value string }

// tlsNames lists the certificate names of c with their admin API names.
func (c *Client) tlsNames() []tlsName {
	return []tlsName{
		{"tls_client_auth_subject_dn", c.TLSSubject},
		{"tls_client_auth_san_dns", c.TLSSANDNS},
		{"tls_client_auth_san_uri", c.TLSSANURI},
		{"tls_client_auth_san_ip", c.TLSSANIP},
		{"tls_client_auth_san_email", c.TLSSANEmail},
	}
}

// validateMutualTLS checks a tls_client_auth or
// self_signed_tls_client_auth client: no secret, and exactly one
// well-formed certificate name (tls_client_auth) or a JWK Set by value
// (self_signed_tls_client_auth; a jwks_uri is not supported for it).
func (c *Client) validateMutualTLS(bad func(field, format string, args ...any)) {
	if len(c.SecretHash) > 0 || len(c.PreviousSecretHash) > 0 {
		bad("token_endpoint_auth_method", "a %s client has no secret", c.AuthMethod)
	}
	if c.AuthMethod == AuthMethodSelfSignedTLSClientAuth {
		switch {
		case c.JWKSURI != "":
			bad("jwks_uri", "a self_signed_tls_client_auth client registers its keys as a JWK Set (jwks), not a jwks_uri")
		case c.JWKS == nil:
			bad("jwks", "a self_signed_tls_client_auth client needs the JWK Set of its certificates' public keys")
		default:
			if err := ValidateClientJWKS(c.JWKS); err != nil {
				bad("jwks", "%s", strings.TrimPrefix(err.Error(), "store: "))
			}
		}
		return
	}
	if c.JWKS != nil || c.JWKSURI != "" {
		bad("jwks", "a tls_client_auth client has no JWK Set or jwks_uri")
	}
	set := 0
	for _, f := range c.tlsNames() {
		if f.value != "" {
			set++
		}
	}
	if set != 1 {
		bad("tls_client_auth_subject_dn", "a tls_client_auth client needs exactly one of a subject DN or a DNS, URI, IP or email subject alternative name")
		return
	}
	switch {
	case c.TLSSubject != "":
		if len(c.TLSSubject) > MaxTLSSubjectBytes {
			bad("tls_client_auth_subject_dn", "must be at most %d bytes", MaxTLSSubjectBytes)
		} else if err := validTLSSubject(c.TLSSubject); err != nil {
			bad("tls_client_auth_subject_dn", "%s", strings.TrimPrefix(err.Error(), "rfc4514: "))
		}
	case c.TLSSANDNS != "":
		if len(c.TLSSANDNS) > 253 || !visibleASCII(c.TLSSANDNS) || strings.ContainsAny(c.TLSSANDNS, "/:@") {
			bad("tls_client_auth_san_dns", "must be a DNS name of at most 253 characters")
		}
	case c.TLSSANURI != "":
		u, err := url.Parse(c.TLSSANURI)
		if len(c.TLSSANURI) > MaxTLSSANBytes || !visibleASCII(c.TLSSANURI) || err != nil || !u.IsAbs() {
			bad("tls_client_auth_san_uri", "must be an absolute URI of at most %d bytes of printable ASCII", MaxTLSSANBytes)
		}
	case c.TLSSANIP != "":
		if ip, err := netip.ParseAddr(c.TLSSANIP); err != nil || ip.Zone() != "" || ip.String() != c.TLSSANIP {
			bad("tls_client_auth_san_ip", "must be an IPv4 or IPv6 address in its canonical form, without zone")
		}
	case c.TLSSANEmail != "":
		if len(c.TLSSANEmail) > 320 || !visibleASCII(c.TLSSANEmail) || strings.Count(c.TLSSANEmail, "@") != 1 {
			bad("tls_client_auth_san_email", "must be an email address of at most 320 characters")
		}
	}
}

// validTLSSubject checks a registered subject DN (an RFC 4514 string). A
// name without any attribute is refused: it would match only
// certificates without a subject.
func validTLSSubject(s string) error {
	n, err := rfc4514.Parse(s)
	if err == nil && len(n) == 0 {
		err = rfc4514.ErrSyntax
	}
	return err
}
