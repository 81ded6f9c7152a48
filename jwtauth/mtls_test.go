package jwtauth_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/clientaddr"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/internal/testcert"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/store/memstore"
)

func TestCertificateBoundTokens(t *testing.T) {
	ca := testcert.NewCA(t, "test CA")
	mine := ca.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "worker"}})
	other := ca.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "thief"}})
	x5t := httpauth.CertificateThumbprint(mine.Cert)
	tokens, err := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer: testIss, Audiences: []string{testAud}, Algorithms: []string{"ES256"},
		Keys: jwk.NewStaticKeySet(jwk.NewSet(pubKey(t, &testKeys.ec.PublicKey, "k1"))),
		Now:  func() time.Time { return time.Unix(1700000100, 0) },
	})
	if err != nil {
		t.Fatal(err)
	}
	proxies, _ := clientaddr.ParseTrustedProxies("10.0.0.0/8")
	certs := &httpauth.ClientCertificates{Header: "Client-Cert", TrustedProxies: proxies}
	bound := mint(t, "ES256", "k1", "", testKeys.ec, with(baseClaims(), "cnf", map[string]any{"x5t#S256": x5t}))
	plain := mint(t, "ES256", "k1", "", testKeys.ec, baseClaims())
	dpop := mint(t, "ES256", "k1", "", testKeys.ec, with(baseClaims(), "cnf", map[string]any{"jkt": "abc"}))
	both := mint(t, "ES256", "k1", "", testKeys.ec, with(baseClaims(), "cnf", map[string]any{"x5t#S256": x5t, "jkt": "abc"}))
	notObject := mint(t, "ES256", "k1", "", testKeys.ec, with(baseClaims(), "cnf", x5t))
	field := func(c *testcert.Cert) string { return ":" + base64.StdEncoding.EncodeToString(c.Cert.Raw) + ":" }
	for _, tc := range []struct {
		name    string
		token   string
		require bool
		peer    string
		tls     *testcert.Cert
		header  string
		ok      bool
	}{
		{"bound over its certificate", bound, false, "192.0.2.1:1", mine, "", true},
		{"bound over another certificate", bound, false, "192.0.2.1:1", other, "", false},
		{"bound without certificate", bound, false, "192.0.2.1:1", nil, "", false},
		{"bound from trusted proxy header", bound, false, "10.0.0.1:1", nil, field(mine), true},
		{"bound from trusted proxy, another certificate", bound, false, "10.0.0.1:1", nil, field(other), false},
		{"bound from trusted proxy, malformed header", bound, false, "10.0.0.1:1", nil, ":AAAA:", false},
		{"bound header from untrusted peer", bound, false, "192.0.2.1:1", nil, field(mine), false},
		{"plain", plain, false, "192.0.2.1:1", nil, "", true},
		{"plain over a certificate", plain, false, "192.0.2.1:1", mine, "", true},
		{"plain when binding is required", plain, true, "192.0.2.1:1", mine, "", false},
		{"bound when binding is required", bound, true, "192.0.2.1:1", mine, "", true},
		{"dpop-bound", dpop, false, "192.0.2.1:1", mine, "", false},
		{"bound to a certificate and a dpop key", both, false, "192.0.2.1:1", mine, "", false},
		{"cnf not an object", notObject, false, "192.0.2.1:1", mine, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &jwtauth.CertificateBoundTokens{Tokens: tokens, Certificates: certs, RequireBinding: tc.require}
			m := &httpauth.Middleware{Verifiers: []m2m.Verifier{v}}
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			r.Header.Set("Authorization", "Bearer "+tc.token)
			if tc.tls != nil {
				r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{tc.tls.Cert}}
			}
			if tc.header != "" {
				r.Header.Set("Client-Cert", tc.header)
			}
			p, err := m.Check(r)
			if tc.ok {
				if err != nil || p.ClientID != "client-1" {
					t.Errorf("Check() = %+v, %v; want client-1", p, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check() = %+v; want a refusal", p)
			}
			w := httptest.NewRecorder()
			m.Refuse(w, r, err)
			if ch := w.Header().Get("WWW-Authenticate"); w.Code != 401 || !strings.Contains(ch, `error="invalid_token"`) {
				t.Errorf("refusal = %d %q; want 401 with error=\"invalid_token\"", w.Code, ch)
			}
		})
	}
	// The plain AccessTokens never accepts the bound token.
	if _, err := tokens.VerifyToken(t.Context(), bound); err == nil {
		t.Error("AccessTokens.VerifyToken(certificate-bound token) = nil error; want a refusal")
	}
	var zero jwtauth.CertificateBoundTokens
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+plain)
	if _, err := zero.Verify(r); err == nil {
		t.Error("zero CertificateBoundTokens.Verify() = nil error")
	}
}

// TestCertificateBoundTokensRevocable checks that with Revocable set a
// revoked certificate-bound token is refused over its own certificate.
func TestCertificateBoundTokensRevocable(t *testing.T) {
	cert := testcert.SelfSigned(t, testcert.Options{Subject: pkix.Name{CommonName: "worker"}})
	now := time.Unix(1700000100, 0)
	tokens, err := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer: testIss, Audiences: []string{testAud}, Algorithms: []string{"ES256"},
		Keys: jwk.NewStaticKeySet(jwk.NewSet(pubKey(t, &testKeys.ec.PublicKey, "k1"))),
		Now:  func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	revs := memstore.New()
	revocable, err := jwtauth.NewRevocableTokens(tokens, jwtauth.RevocationConfig{Revocations: revs, CacheTTL: -1, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	v := &jwtauth.CertificateBoundTokens{Revocable: revocable}
	bound := mint(t, "ES256", "k1", "", testKeys.ec, with(baseClaims(), "cnf", map[string]any{"x5t#S256": httpauth.CertificateThumbprint(cert.Cert)}))
	check := func() error {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+bound)
		r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert.Cert}}
		_, err := v.Verify(r)
		return err
	}
	if err := check(); err != nil {
		t.Fatalf("Verify(bound token over its certificate) = %v", err)
	}
	if err := revs.RevokeToken(t.Context(), "j1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := check(); err == nil {
		t.Error("Verify(revoked bound token) = nil error; want a refusal")
	}
}
