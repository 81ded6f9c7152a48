package authserver

import (
	"crypto/subtle"
	"crypto/x509"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/internal/rfc4514"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/store"
)

// MutualTLS configures client authentication with client certificates
// and certificate-bound access tokens (RFC 8705) at the token,
// introspection and revocation endpoints.
//
// A client registered with tls_client_auth sends its client_id (no
// secret) over a connection with a certificate that chains to ClientCAs,
// is valid now, allows client authentication (ExtKeyUsageClientAuth, or
// no extended key usage) and carries the client's registered subject DN
// or subject alternative name. A self_signed_tls_client_auth client's
// certificate must be valid now and hold a public key of its registered
// JWK Set; its chain is not checked. Every failure is invalid_client,
// throttled like a wrong secret. The tokens of both are bound to the
// certificate (cnf.x5t#S256); so are those of a client registered with
// certificate-bound tokens that authenticates otherwise.
//
// The server must request client certificates without verifying them
// in the handshake (tls.RequestClientCert), so that self-signed ones
// reach the handler; ClientCAs is read at every request, so a reloaded
// CA file applies at once.
type MutualTLS struct {
	// ClientCAs returns the CAs that issue the certificates of
	// tls_client_auth clients. Nil, or a nil pool, refuses every
	// tls_client_auth client (self-signed clients still authenticate).
	ClientCAs func() *x509.CertPool
	// Certificates finds a request's client certificate; nil reads only
	// TLS connections Go terminates.
	Certificates *httpauth.ClientCertificates
}

// authenticateCertificate authenticates a request that carries a client
// id alone, with the certificate of the request, for a client
// registered with either mutual-TLS method.
func (s *Server) authenticateCertificate(r *http.Request, tr *TokenRequest) (*store.Client, *Error) {
	now := s.now()
	client, err := s.clients.get(r.Context(), tr.ClientID, now)
	if err != nil {
		return nil, s.unavailable(r, "store", err)
	}
	reason := ""
	passed, e := s.throttledCheck(r, s.addrKey(r), tr.ClientID, func() bool {
		reason = s.checkClientCertificate(r, client, now)
		return reason == ""
	})
	if e != nil {
		return nil, e
	}
	if !passed {
		return nil, &Error{Status: http.StatusUnauthorized, Code: CodeInvalidClient, Reason: reason,
			Description: "client authentication failed", knownClient: client != nil}
	}
	if client.Disabled {
		return nil, errClientDisabled()
	}
	return client, nil
}

// checkClientCertificate returns "" when the request's certificate
// authenticates client, and otherwise the reason it does not.
func (s *Server) checkClientCertificate(r *http.Request, client *store.Client, now time.Time) string {
	switch {
	case client == nil:
		return "unknown_client"
	case !client.UsesMutualTLS():
		return "wrong_auth_method"
	}
	cert, intermediates, err := s.cfg.MutualTLS.Certificates.Certificate(r)
	switch {
	case err != nil:
		return "certificate_header_malformed"
	case cert == nil:
		return "certificate_missing"
	case now.Before(cert.NotBefore) || now.After(cert.NotAfter):
		return "certificate_expired"
	}
	if client.AuthMethod == store.AuthMethodSelfSignedTLSClientAuth {
		if !certificateKeyRegistered(cert, client.JWKS) {
			return "certificate_key_unknown"
		}
		return ""
	}
	var roots *x509.CertPool
	if s.cfg.MutualTLS.ClientCAs != nil {
		roots = s.cfg.MutualTLS.ClientCAs()
	}
	if roots == nil {
		return "certificate_untrusted"
	}
	opts := x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if len(intermediates) > 0 {
		opts.Intermediates = x509.NewCertPool()
		for _, c := range intermediates {
			opts.Intermediates.AddCert(c)
		}
	}
	if _, err := cert.Verify(opts); err != nil {
		return "certificate_untrusted"
	}
	if !certificateNames(cert, client) {
		return "certificate_name_mismatch"
	}
	return ""
}

// certificateKeyRegistered reports whether the public key of cert is one
// of the keys of the JWK Set doc, by RFC 7638 thumbprint.
func certificateKeyRegistered(cert *x509.Certificate, doc []byte) bool {
	k, err := jwk.FromPublic(cert.PublicKey, "", "")
	if err != nil || store.ValidateClientJWKS(doc) != nil {
		return false
	}
	set, err := jwk.ParseSet(doc)
	if err != nil {
		return false
	}
	found := 0
	for _, rk := range set.Keys() {
		found |= subtle.ConstantTimeCompare([]byte(rk.Thumbprint), []byte(k.Thumbprint))
	}
	return found == 1
}

// certificateNames reports whether cert carries the subject DN or the
// subject alternative name registered for client (RFC 8705 section
// 2.1.2).
func certificateNames(cert *x509.Certificate, c *store.Client) bool {
	switch {
	case c.TLSSubject != "":
		want, err := rfc4514.Parse(c.TLSSubject)
		if err != nil || len(want) == 0 {
			return false
		}
		got, err := rfc4514.FromDER(cert.RawSubject)
		return err == nil && got.Equal(want)
	case c.TLSSANDNS != "":
		for _, n := range cert.DNSNames {
			if strings.EqualFold(n, c.TLSSANDNS) {
				return true
			}
		}
	case c.TLSSANURI != "":
		for _, u := range cert.URIs {
			if u.String() == c.TLSSANURI {
				return true
			}
		}
	case c.TLSSANIP != "":
		want, err := netip.ParseAddr(c.TLSSANIP)
		if err != nil {
			return false
		}
		for _, ip := range cert.IPAddresses {
			if got, ok := netip.AddrFromSlice(ip); ok && got.Unmap() == want.Unmap() {
				return true
			}
		}
	case c.TLSSANEmail != "":
		for _, e := range cert.EmailAddresses {
			if e == c.TLSSANEmail {
				return true
			}
		}
	}
	return false
}

// certificateBinding returns the thumbprint to bind the client's token
// to (cnf.x5t#S256), or "": the certificate a mutual-TLS client
// authenticated with, or the certificate of a client registered with
// certificate-bound tokens, which is refused without one rather than
// given a token a thief could replay.
func (s *Server) certificateBinding(r *http.Request, client *store.Client) (string, *Error) {
	if !client.UsesMutualTLS() && !client.TLSClientCertificateBoundAccessTokens {
		return "", nil
	}
	if s.cfg.MutualTLS == nil {
		return "", &Error{Status: http.StatusBadRequest, Code: CodeUnauthorizedClient, Reason: "mtls_unsupported",
			Description: "the client's tokens are bound to its certificate, which this server does not accept"}
	}
	cert, _, err := s.cfg.MutualTLS.Certificates.Certificate(r)
	if err != nil || cert == nil {
		return "", &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Reason: "binding_certificate_missing",
			Description: "the client's tokens are bound to its certificate: the token request needs a client certificate"}
	}
	return httpauth.CertificateThumbprint(cert), nil
}

// mutualTLSMetadata adds what RFC 8705 section 3.3 defines.
func (s *Server) mutualTLSMetadata(doc *metadataDoc) {
	if s.cfg.MutualTLS == nil {
		return
	}
	doc.TokenEndpointAuthMethodsSupported = append(doc.TokenEndpointAuthMethodsSupported, s.mutualTLSMethods()...)
	doc.TLSClientCertificateBoundAccessTokens = true
}

// mutualTLSMethods are the mutual-TLS authentication methods the server
// can check: tls_client_auth needs ClientCAs to verify a chain against,
// self_signed_tls_client_auth only the client's registered keys.
func (s *Server) mutualTLSMethods() []string {
	if s.cfg.MutualTLS == nil {
		return nil
	}
	if s.cfg.MutualTLS.ClientCAs == nil {
		return []string{store.AuthMethodSelfSignedTLSClientAuth}
	}
	return []string{store.AuthMethodTLSClientAuth, store.AuthMethodSelfSignedTLSClientAuth}
}
