package authserver_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/clientaddr"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/internal/testcert"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/ratelimit"
	"github.com/m2mkit/m2m/replay"
	"github.com/m2mkit/m2m/store"
)

// postCert sends a token request with the client id alone over a
// connection with certs (leaf first), or through a proxy header.
func (f *fixture) postCert(form url.Values, peer string, header string, certs ...*x509.Certificate) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if peer != "" {
		r.RemoteAddr = peer
	}
	if header != "" {
		r.Header.Set("Client-Cert", header)
	}
	if len(certs) > 0 {
		r.TLS = &tls.ConnectionState{PeerCertificates: certs}
	}
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, r)
	return w
}

func certJWKS(t *testing.T, c *testcert.Cert) []byte {
	k, err := jwk.FromPublic(&c.Key.PublicKey, "k1", "")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jwk.MarshalSet(*k)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestTokenMutualTLS checks tls_client_auth and
// self_signed_tls_client_auth at the token endpoint: the right
// certificate gets a token bound to it (cnf.x5t#S256); a wrong subject,
// an untrusted or expired certificate, no certificate, or a self-signed
// key not in the client's JWK Set is invalid_client.
func TestTokenMutualTLS(t *testing.T) {
	ca := testcert.NewCA(t, "client CA")
	otherCA := testcert.NewCA(t, "other CA")
	now := time.Unix(1_800_000_000, 0)
	worker := ca.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "worker", Organization: []string{"Example"}},
		DNSNames: []string{"worker.example"}, URIs: []string{"spiffe://example.org/worker"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
	expired := ca.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "worker", Organization: []string{"Example"}},
		NotBefore: now.Add(-2 * time.Hour), NotAfter: now.Add(-time.Hour)})
	serverCert := ca.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "worker", Organization: []string{"Example"}}, Server: true,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
	foreign := otherCA.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "worker", Organization: []string{"Example"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
	self := testcert.SelfSigned(t, testcert.Options{Subject: pkix.Name{CommonName: "self"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
	selfOther := testcert.SelfSigned(t, testcert.Options{Subject: pkix.Name{CommonName: "self"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
	selfExpired := testcert.SelfSigned(t, testcert.Options{Subject: pkix.Name{CommonName: "self"}, NotBefore: now.Add(-2 * time.Hour), NotAfter: now.Add(-time.Hour)})
	proxies, _ := clientaddr.ParseTrustedProxies("10.0.0.0/8")
	field := func(c *testcert.Cert) string { return ":" + base64.StdEncoding.EncodeToString(c.Cert.Raw) + ":" }

	for _, tc := range []struct {
		name   string
		client func(c *store.Client)
		peer   string
		header string
		certs  []*x509.Certificate
		want   string // "" for a token bound to certs[0] (or the header's)
		bound  *testcert.Cert
	}{
		{"subject", tlsName("CN=worker,O=Example"), "", "", []*x509.Certificate{worker.Cert}, "", worker},
		{"subject, chain sent along", tlsName("CN=worker,O=Example"), "", "", []*x509.Certificate{worker.Cert, ca.Cert}, "", worker},
		{"dns san", func(c *store.Client) { tlsName("")(c); c.TLSSubject, c.TLSSANDNS = "", "WORKER.example" }, "", "", []*x509.Certificate{worker.Cert}, "", worker},
		{"uri san", func(c *store.Client) { tlsName("")(c); c.TLSSubject, c.TLSSANURI = "", "spiffe://example.org/worker" }, "", "", []*x509.Certificate{worker.Cert}, "", worker},
		{"wrong subject", tlsName("CN=worker,O=Other"), "", "", []*x509.Certificate{worker.Cert}, "invalid_client", nil},
		{"subject in another order", tlsName("O=Example,CN=worker"), "", "", []*x509.Certificate{worker.Cert}, "invalid_client", nil},
		{"wrong uri", func(c *store.Client) { tlsName("")(c); c.TLSSubject, c.TLSSANURI = "", "spiffe://example.org/other" }, "", "", []*x509.Certificate{worker.Cert}, "invalid_client", nil},
		{"no certificate", tlsName("CN=worker,O=Example"), "", "", nil, "invalid_client", nil},
		{"expired", tlsName("CN=worker,O=Example"), "", "", []*x509.Certificate{expired.Cert}, "invalid_client", nil},
		{"untrusted CA", tlsName("CN=worker,O=Example"), "", "", []*x509.Certificate{foreign.Cert}, "invalid_client", nil},
		{"untrusted CA sent along", tlsName("CN=worker,O=Example"), "", "", []*x509.Certificate{foreign.Cert, otherCA.Cert}, "invalid_client", nil},
		{"server certificate", tlsName("CN=worker,O=Example"), "", "", []*x509.Certificate{serverCert.Cert}, "invalid_client", nil},
		{"through trusted proxy", tlsName("CN=worker,O=Example"), "10.0.0.1:1", field(worker), nil, "", worker},
		{"header from untrusted peer", tlsName("CN=worker,O=Example"), "192.0.2.1:1", field(worker), nil, "invalid_client", nil},
		{"self-signed", selfSigned(t, self), "", "", []*x509.Certificate{self.Cert}, "", self},
		{"self-signed, key not registered", selfSigned(t, self), "", "", []*x509.Certificate{selfOther.Cert}, "invalid_client", nil},
		{"self-signed, expired", selfSigned(t, selfExpired), "", "", []*x509.Certificate{selfExpired.Cert}, "invalid_client", nil},
		{"self-signed, no certificate", selfSigned(t, self), "", "", nil, "invalid_client", nil},
		{"secret client over a certificate", nil, "", "", []*x509.Certificate{worker.Cert}, "invalid_client", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(cfg *authserver.Config, c *store.Client) {
				cfg.MutualTLS = &authserver.MutualTLS{
					ClientCAs:    ca.Pool,
					Certificates: &httpauth.ClientCertificates{Header: "Client-Cert", TrustedProxies: proxies},
				}
				if tc.client != nil {
					tc.client(c)
				}
			})
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {f.id}}
			w := f.postCert(form, tc.peer, tc.header, tc.certs...)
			tr := decodeResponse(t, w)
			if tc.want != "" {
				if w.Code != http.StatusUnauthorized || tr.Error != tc.want {
					t.Fatalf("token request = %d %s; want 401 %s", w.Code, w.Body, tc.want)
				}
				return
			}
			if w.Code != http.StatusOK || tr.TokenType != "Bearer" {
				t.Fatalf("token request = %d %s; want a Bearer token", w.Code, w.Body)
			}
			_, claims := f.signer.verify(t, tr.AccessToken)
			cnf, _ := claims["cnf"].(map[string]any)
			if got, want := cnf["x5t#S256"], httpauth.CertificateThumbprint(tc.bound.Cert); got != want || len(cnf) != 1 {
				t.Errorf("cnf = %v; want {x5t#S256: %s}", claims["cnf"], want)
			}
		})
	}
}

func tlsName(subject string) func(c *store.Client) {
	return func(c *store.Client) { c.AuthMethod, c.TLSSubject = store.AuthMethodTLSClientAuth, subject }
}

func selfSigned(t *testing.T, cert *testcert.Cert) func(c *store.Client) {
	doc := certJWKS(t, cert)
	return func(c *store.Client) { c.AuthMethod, c.JWKS = store.AuthMethodSelfSignedTLSClientAuth, doc }
}

// TestTokenCertificateBoundSecretClient checks per-client binding of a
// client that authenticates with its secret: bound over a certificate,
// refused without one, and refused on a server without mutual TLS;
// an unregistered client stays unbound over a certificate.
func TestTokenCertificateBoundSecretClient(t *testing.T) {
	cert := testcert.SelfSigned(t, testcert.Options{Subject: pkix.Name{CommonName: "any"}})
	for _, tc := range []struct {
		name        string
		mtls, bound bool
		send        bool
		wantCode    int
		wantCnf     bool
	}{
		{"bound, with certificate", true, true, true, 200, true},
		{"bound, without certificate", true, true, false, 400, false},
		{"bound, server without mutual TLS", false, true, true, 400, false},
		{"not bound, with certificate", true, false, true, 200, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(cfg *authserver.Config, c *store.Client) {
				if tc.mtls {
					cfg.MutualTLS = &authserver.MutualTLS{}
				}
				c.TLSClientCertificateBoundAccessTokens = tc.bound
			})
			var certs []*x509.Certificate
			if tc.send {
				certs = append(certs, cert.Cert)
			}
			w := f.postCert(f.creds(), "", "", certs...)
			tr := decodeResponse(t, w)
			if w.Code != tc.wantCode {
				t.Fatalf("token request = %d %s; want %d", w.Code, w.Body, tc.wantCode)
			}
			if w.Code != 200 {
				return
			}
			_, claims := f.signer.verify(t, tr.AccessToken)
			if _, got := claims["cnf"]; got != tc.wantCnf {
				t.Errorf("cnf = %v; want present %t", claims["cnf"], tc.wantCnf)
			}
		})
	}
}

// TestTokenMutualTLSThrottled checks that failed certificate
// authentication is throttled like wrong secrets: past the failure
// budget even the right certificate is answered 429.
func TestTokenMutualTLSThrottled(t *testing.T) {
	ca := testcert.NewCA(t, "client CA")
	now := time.Unix(1_800_000_000, 0)
	good := ca.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "worker"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
	bad := ca.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "thief"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
	f := newFixture(t, func(cfg *authserver.Config, c *store.Client) {
		cfg.MutualTLS = &authserver.MutualTLS{ClientCAs: ca.Pool}
		cfg.FailureLimit = ratelimit.Limit{Rate: 0.001, Burst: 3}
		tlsName("CN=worker")(c)
	})
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {f.id}}
	for i := range 3 {
		if w := f.postCert(form, "", "", bad.Cert); w.Code != http.StatusUnauthorized {
			t.Fatalf("attempt %d with the wrong certificate = %d; want 401", i, w.Code)
		}
	}
	if w := f.postCert(form, "", "", good.Cert); w.Code != http.StatusTooManyRequests {
		t.Errorf("right certificate after the failure budget = %d %s; want 429", w.Code, w.Body)
	}
}

// TestMetadataMutualTLS: the metadata advertises the mutual-TLS methods
// the server can check: tls_client_auth only with CAs to verify a chain
// against (without, every such client is refused), self-signed whenever
// mutual TLS is on.
func TestMetadataMutualTLS(t *testing.T) {
	pool := x509.NewCertPool()
	for _, tt := range []struct {
		name              string
		mtls              *authserver.MutualTLS
		chain, selfSigned bool
	}{
		{"off", nil, false, false},
		{"with client CAs", &authserver.MutualTLS{ClientCAs: func() *x509.CertPool { return pool }}, true, true},
		{"without client CAs", &authserver.MutualTLS{}, false, true},
	} {
		f := newFixture(t, func(cfg *authserver.Config, _ *store.Client) { cfg.MutualTLS = tt.mtls })
		r := httptest.NewRequest("GET", "/.well-known/oauth-authorization-server", nil)
		w := httptest.NewRecorder()
		f.srv.ServeHTTP(w, r)
		var doc struct {
			Methods []string `json:"token_endpoint_auth_methods_supported"`
			Bound   bool     `json:"tls_client_certificate_bound_access_tokens"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(doc.Methods, "tls_client_auth") != tt.chain || slices.Contains(doc.Methods, "self_signed_tls_client_auth") != tt.selfSigned ||
			doc.Bound != (tt.mtls != nil) {
			t.Errorf("metadata, mutual TLS %s = methods %v, bound %t", tt.name, doc.Methods, doc.Bound)
		}
	}
}

// TestIntrospectMutualTLS checks that a tls_client_auth client
// introspects its own certificate-bound token with its certificate, and
// that the answer carries the token's cnf.
func TestIntrospectMutualTLS(t *testing.T) {
	ca := testcert.NewCA(t, "client CA")
	now := time.Unix(1_800_000_000, 0)
	cert := ca.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "worker"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
	f := newFixture(t, func(cfg *authserver.Config, c *store.Client) {
		cfg.MutualTLS = &authserver.MutualTLS{ClientCAs: ca.Pool}
		tlsName("CN=worker")(c)
	})
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {f.id}}
	tr := decodeResponse(t, f.postCert(form, "", "", cert.Cert))
	if tr.AccessToken == "" {
		t.Fatalf("no token: %+v", tr)
	}
	r := httptest.NewRequest(http.MethodPost, "/oauth/introspect", strings.NewReader(url.Values{"token": {tr.AccessToken}, "client_id": {f.id}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert.Cert}}
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, r)
	var got struct {
		Active    bool              `json:"active"`
		TokenType string            `json:"token_type"`
		Cnf       map[string]string `json:"cnf"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("introspection %d %s: %v", w.Code, w.Body, err)
	}
	if !got.Active || got.TokenType != "Bearer" || got.Cnf["x5t#S256"] != httpauth.CertificateThumbprint(cert.Cert) {
		t.Errorf("introspection = %d %s; want active, Bearer, cnf.x5t#S256 of the certificate", w.Code, w.Body)
	}
}

// TestTokenMutualTLSWithDPoP checks that a token is bound one way: a
// mutual-TLS client that also sends a DPoP proof gets a DPoP-bound token
// (cnf.jkt only), which a DPoP-checking API accepts.
func TestTokenMutualTLSWithDPoP(t *testing.T) {
	ca := testcert.NewCA(t, "client CA")
	now := time.Unix(1_800_000_000, 0)
	cert := ca.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "worker"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
	f := newFixture(t, func(cfg *authserver.Config, c *store.Client) {
		cfg.MutualTLS = &authserver.MutualTLS{ClientCAs: ca.Pool}
		cfg.DPoP = &jwtauth.DPoPVerifier{Replay: &replay.Memory{Now: cfg.Now}, Now: cfg.Now}
		tlsName("CN=worker")(c)
	})
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {f.id}}
	r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("DPoP", newDPoPClient(t).proof(t, "POST", testIssuer+"/oauth/token", f.clock.Now(), nil))
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert.Cert}}
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, r)
	tr := decodeResponse(t, w)
	if w.Code != 200 || tr.TokenType != "DPoP" {
		t.Fatalf("token request = %d %s; want a DPoP token", w.Code, w.Body)
	}
	_, claims := f.signer.verify(t, tr.AccessToken)
	if cnf, _ := claims["cnf"].(map[string]any); len(cnf) != 1 || cnf["jkt"] == nil {
		t.Errorf("cnf = %v; want jkt alone", claims["cnf"])
	}
}
