package cli

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/clientaddr"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/internal/testcert"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
)

// TestServeMutualTLS runs the real command with --tls-cert, --tls-key and
// --client-ca, with every certificate made here: a tls_client_auth client
// gets a token bound to its certificate (cnf.x5t#S256), and so does a
// self_signed_tls_client_auth client; a wrong subject, an expired
// certificate, a certificate from another CA and a self-signed key not in
// the client's JWK Set are refused invalid_client. An API with
// jwtauth.CertificateBoundTokens then accepts the token only over the
// same certificate (directly over TLS, or from a trusted proxy's
// Client-Cert header), and refuses it over another certificate, without
// one, and with the header from an untrusted address.
func TestServeMutualTLS(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	serverCA := testcert.NewCA(t, "server CA")
	server := serverCA.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "127.0.0.1"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	tlsCert, tlsKey := server.WriteFiles(t, dir, "tls")
	clientCA := testcert.NewCA(t, "client CA")
	otherCA := testcert.NewCA(t, "other CA")
	caFile := filepath.Join(dir, "client-ca.pem")
	if err := os.WriteFile(caFile, clientCA.PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	worker := clientCA.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "worker"}})
	thief := clientCA.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "thief"}})
	expired := clientCA.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "worker"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	foreign := otherCA.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "worker"}})
	self := testcert.SelfSigned(t, testcert.Options{Subject: pkix.Name{CommonName: "self"}})
	selfOther := testcert.SelfSigned(t, testcert.Options{Subject: pkix.Name{CommonName: "self"}})
	pub, err := jwk.FromPublic(&self.Key.PublicKey, "self-1", "")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jwk.MarshalSet(*pub)
	if err != nil {
		t.Fatal(err)
	}
	jwksFile := filepath.Join(dir, "self.jwks")
	if err := os.WriteFile(jwksFile, doc, 0o644); err != nil {
		t.Fatal(err)
	}

	if code, _, stderr := run(t, nil, "", "init", "--data", data); code != 0 {
		t.Fatalf("m2m init: exit %d: %s", code, stderr)
	}
	for _, args := range [][]string{
		{"--id", "worker", "--auth-method", "tls_client_auth", "--tls-subject", "CN=worker"},
		{"--id", "self", "--auth-method", "self_signed_tls_client_auth", "--jwks", jwksFile},
	} {
		args = append([]string{"client", "create", "--data", data, "--name", "w", "--audience", "https://api.example.com", "--json"}, args...)
		code, stdout, stderr := run(t, nil, "", args...)
		if code != 0 || strings.Contains(stdout, "client_secret") {
			t.Fatalf("m2m %s: exit %d, stdout %s, stderr %s; want a client without a secret", strings.Join(args, " "), code, stdout, stderr)
		}
	}
	if code, _, stderr := run(t, nil, "", "serve", "--data", data, "--addr", "127.0.0.1:0", "--client-ca", caFile); code != 2 || !strings.Contains(stderr, "--client-ca") {
		t.Errorf("serve --client-ca without TLS = exit %d, %q; want 2 naming --client-ca", code, stderr)
	}

	p := startServe(t, nil, "--data", data, "--addr", "127.0.0.1:0", "--tls-cert", tlsCert, "--tls-key", tlsKey, "--client-ca", caFile)
	defer p.stop()
	roots := serverCA.Pool()
	clientFor := func(c *testcert.Cert) *http.Client {
		cfg := &tls.Config{RootCAs: roots}
		if c != nil {
			cfg.Certificates = []tls.Certificate{c.TLS()}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
	}
	token := func(id string, c *testcert.Cert) (int, string, string) {
		t.Helper()
		resp, err := clientFor(c).PostForm(p.url+"/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
			Error       string `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.AccessToken, body.Error
	}
	x5t := func(tok string) string {
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf("not a JWT: %q", tok)
		}
		b, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var c struct {
			Cnf map[string]string `json:"cnf"`
		}
		json.Unmarshal(b, &c)
		return c.Cnf["x5t#S256"]
	}

	var bound string
	for _, tc := range []struct {
		name string
		id   string
		cert *testcert.Cert
		ok   bool
	}{
		{"tls_client_auth", "worker", worker, true},
		{"self-signed", "self", self, true},
		{"wrong subject", "worker", thief, false},
		{"expired", "worker", expired, false},
		{"another CA", "worker", foreign, false},
		{"no certificate", "worker", nil, false},
		{"self-signed key not registered", "self", selfOther, false},
		{"CA certificate for a self-signed client", "self", worker, false},
	} {
		code, tok, errCode := token(tc.id, tc.cert)
		switch {
		case tc.ok && (code != 200 || x5t(tok) != httpauth.CertificateThumbprint(tc.cert.Cert)):
			t.Errorf("%s: token = %d %s, cnf.x5t#S256 %q; want a token bound to the certificate", tc.name, code, errCode, x5t(tok))
		case !tc.ok && (code != 401 || errCode != "invalid_client"):
			t.Errorf("%s: token = %d %s; want 401 invalid_client", tc.name, code, errCode)
		}
		if tc.name == "tls_client_auth" {
			bound = tok
		}
	}

	// The metadata say so.
	resp, err := clientFor(nil).Get(p.url + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]any
	json.NewDecoder(resp.Body).Decode(&meta)
	resp.Body.Close()
	if meta["tls_client_certificate_bound_access_tokens"] != true {
		t.Errorf("metadata tls_client_certificate_bound_access_tokens = %v; want true", meta["tls_client_certificate_bound_access_tokens"])
	}

	// An API that checks the binding.
	tokens, err := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer: p.url, Audiences: []string{"https://api.example.com"}, Algorithms: []string{"ES256"}, Profile: jwtauth.ProfileRFC9068,
		Keys: &jwk.RemoteKeySet{URL: p.url + "/.well-known/jwks.json", HTTPClient: clientFor(nil)},
	})
	if err != nil {
		t.Fatal(err)
	}
	proxies, _ := clientaddr.ParseTrustedProxies("10.0.0.0/8")
	api := (&httpauth.Middleware{Verifiers: []m2m.Verifier{&jwtauth.CertificateBoundTokens{
		Tokens: tokens, Certificates: &httpauth.ClientCertificates{Header: httpauth.DefaultClientCertHeader, TrustedProxies: proxies},
	}}}).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pr, _ := m2m.FromContext(r.Context())
		w.Write([]byte(pr.ClientID))
	}))
	ts := httptest.NewUnstartedServer(api)
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{server.TLS()}, ClientAuth: tls.RequestClientCert}
	ts.StartTLS()
	defer ts.Close()
	call := func(c *testcert.Cert) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.URL+"/", nil)
		req.Header.Set("Authorization", "Bearer "+bound)
		resp, err := clientFor(c).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
	}
	if code, _ := call(worker); code != 200 {
		t.Errorf("API over the token's certificate = %d; want 200", code)
	}
	for name, c := range map[string]*testcert.Cert{"another certificate": thief, "no certificate": nil, "a self-signed certificate": self} {
		if code, ch := call(c); code != 401 || !strings.Contains(ch, `error="invalid_token"`) {
			t.Errorf("API over %s = %d %q; want 401 invalid_token", name, code, ch)
		}
	}
	header := ":" + base64.StdEncoding.EncodeToString(worker.Cert.Raw) + ":"
	for _, tc := range []struct {
		peer string
		want int
	}{{"10.0.0.7:4711", 200}, {"192.0.2.7:4711", 401}} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		r.Header.Set("Authorization", "Bearer "+bound)
		r.Header.Set("Client-Cert", header)
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("API with the certificate in Client-Cert from %s = %d %s; want %d", tc.peer, w.Code, w.Body, tc.want)
		}
	}
}
