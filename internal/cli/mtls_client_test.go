package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/clientcred"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/internal/testcert"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
)

const mtlsAudience = "https://api.example.com"

// mtlsWorld is what the mutual-TLS client tests share: a server CA and
// the certificate of every TLS server (m2m serve, the proxy, the API), a
// client CA and the certificates it and others issued, and a data
// directory with the tls_client_auth client "worker" (CN=worker) and the
// self_signed_tls_client_auth client "edge".
type mtlsWorld struct {
	dir, data               string
	serverCA, server        *testcert.Cert
	serverCAFile            string
	tlsCert, tlsKey, caFile string
	worker, thief, expired  *testcert.Cert
	foreign, edge           *testcert.Cert
	workerCert, workerKey   string
}

func newMTLSWorld(t *testing.T) *mtlsWorld {
	t.Helper()
	w := &mtlsWorld{dir: t.TempDir()}
	w.data = filepath.Join(w.dir, "data")
	w.serverCA = testcert.NewCA(t, "server CA")
	w.server = w.serverCA.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "127.0.0.1"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	w.tlsCert, w.tlsKey = w.server.WriteFiles(t, w.dir, "tls")
	w.serverCAFile = filepath.Join(w.dir, "server-ca.pem")
	clientCA := testcert.NewCA(t, "client CA")
	w.caFile = filepath.Join(w.dir, "client-ca.pem")
	for f, b := range map[string][]byte{w.serverCAFile: w.serverCA.PEM(), w.caFile: clientCA.PEM()} {
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w.worker = clientCA.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "worker"}})
	w.workerCert, w.workerKey = w.worker.WriteFiles(t, w.dir, "worker")
	w.thief = clientCA.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "thief"}})
	w.expired = clientCA.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "worker"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	w.foreign = testcert.NewCA(t, "other CA").Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "worker"}})
	w.edge = testcert.SelfSigned(t, testcert.Options{Subject: pkix.Name{CommonName: "edge"}})
	pub, err := jwk.FromPublic(&w.edge.Key.PublicKey, "edge-1", "")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jwk.MarshalSet(*pub)
	if err != nil {
		t.Fatal(err)
	}
	jwksFile := filepath.Join(w.dir, "edge.jwks")
	if err := os.WriteFile(jwksFile, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, nil, "", "init", "--data", w.data); code != 0 {
		t.Fatalf("m2m init: exit %d: %s", code, stderr)
	}
	for _, args := range [][]string{
		{"--id", "worker", "--auth-method", "tls_client_auth", "--tls-subject", "CN=worker"},
		{"--id", "edge", "--auth-method", "self_signed_tls_client_auth", "--jwks", jwksFile},
	} {
		args = append([]string{"client", "create", "--data", w.data, "--name", "w", "--audience", mtlsAudience}, args...)
		if code, _, stderr := run(t, nil, "", args...); code != 0 {
			t.Fatalf("m2m %s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
	}
	return w
}

// trusting returns a transport that trusts the server CA.
func (w *mtlsWorld) trusting() *http.Transport {
	return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: w.serverCA.Pool(), MinVersion: tls.VersionTLS12}}
}

// api starts an API that accepts the tokens of issuer bound to the
// certificate of the connection, and answers the client id.
func (w *mtlsWorld) api(t *testing.T, issuer string, jwksClient *http.Client) *httptest.Server {
	t.Helper()
	tokens, err := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer: issuer, Audiences: []string{mtlsAudience}, Algorithms: []string{"ES256"}, Profile: jwtauth.ProfileRFC9068,
		Keys: &jwk.RemoteKeySet{URL: issuer + "/.well-known/jwks.json", HTTPClient: jwksClient},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := (&httpauth.Middleware{Verifiers: []m2m.Verifier{&jwtauth.CertificateBoundTokens{Tokens: tokens, RequireBinding: true}}}).
		Handler(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			pr, _ := m2m.FromContext(r.Context())
			io.WriteString(rw, pr.ClientID)
		}))
	ts := httptest.NewUnstartedServer(h)
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{w.server.TLS()}, ClientAuth: tls.RequestClientCert}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts
}

// cnfX5t returns the cnf.x5t#S256 of a JWT.
func cnfX5t(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Cnf map[string]string `json:"cnf"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c.Cnf["x5t#S256"]
}

// certificateClient is a clientcred client presenting cert, sending its
// token requests to tokenURL and its API requests through a transport
// that trusts the server CA.
func (w *mtlsWorld) certificateClient(t *testing.T, id, tokenURL string, cert *clientcred.ClientCertificate) *clientcred.Client {
	t.Helper()
	c, err := clientcred.NewClient(clientcred.Config{
		ClientID: id, TokenURL: tokenURL, Audience: mtlsAudience, ClientCertificate: cert,
		HTTPClient: &http.Client{Transport: w.trusting()}, Retry: clientcred.RetryPolicy{MaxAttempts: 1},
		LookupEnv: func(string) (string, bool) { return "", false },
	})
	if err != nil {
		t.Fatal(err)
	}
	c.HTTPClient.Transport.(*clientcred.Transport).Base = cert.RoundTripper(w.trusting())
	return c
}

func fixedCert(t *testing.T, c *testcert.Cert) *clientcred.ClientCertificate {
	t.Helper()
	cc, err := clientcred.NewClientCertificate(c.TLS())
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

// refusedInvalidClient reports whether err is the token endpoint's 401
// invalid_client.
func refusedInvalidClient(err error) bool {
	var re *clientcred.RetrieveError
	return errors.As(err, &re) && re.StatusCode == http.StatusUnauthorized && re.ErrorCode == "invalid_client"
}

// TestClientCredMutualTLS runs a clientcred client with a certificate
// against the real m2m serve with --tls-cert and --client-ca: it gets a
// token bound to its certificate (authenticating with client_id alone)
// and calls an API that checks the binding; the certificates of another
// subject, an expired one and one from another CA are refused.
func TestClientCredMutualTLS(t *testing.T) {
	w := newMTLSWorld(t)
	p := startServe(t, nil, "--data", w.data, "--addr", "127.0.0.1:0", "--tls-cert", w.tlsCert, "--tls-key", w.tlsKey, "--client-ca", w.caFile)
	defer p.stop()
	api := w.api(t, p.url, &http.Client{Transport: w.trusting()})

	cc, err := clientcred.LoadClientCertificate(w.workerCert, w.workerKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, id string
		cert     *clientcred.ClientCertificate
	}{
		{"tls_client_auth from files", "worker", cc},
		{"self_signed_tls_client_auth", "edge", fixedCert(t, w.edge)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.boundTokenCallsAPI(t, w.certificateClient(t, tc.id, p.url+"/oauth/token", tc.cert), tc.id, tc.cert, api.URL)
		})
	}

	for _, tc := range []struct {
		name string
		cert *testcert.Cert
	}{
		{"wrong subject", w.thief},
		{"expired", w.expired},
		{"untrusted CA", w.foreign},
	} {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			c := w.certificateClient(t, "worker", p.url+"/oauth/token", fixedCert(t, tc.cert))
			if _, err := c.Source.Token(context.Background()); !refusedInvalidClient(err) {
				t.Errorf("Token() with the %s certificate = %v; want 401 invalid_client", tc.name, err)
			}
		})
	}

	// A bound token over another certificate is refused by the API.
	c := w.certificateClient(t, "worker", p.url+"/oauth/token", cc)
	tok, err := c.Source.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", api.URL+"/", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := (&http.Client{Transport: fixedCert(t, w.thief).RoundTripper(w.trusting())}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API with the token over another certificate = %d; want 401", resp.StatusCode)
	}
}

// loopbackProxyAddr is the address the TLS-terminating proxy of the
// tests connects from: the one peer m2m serve trusts. Any other loopback
// address is an untrusted peer.
const loopbackProxyAddr = "127.0.0.2"

// forwardingProxy starts a TLS-terminating reverse proxy to target that
// asks for client certificates without verifying them (m2m verifies) and
// forwards the client's certificate as RFC 9440 Client-Cert, removing any
// Client-Cert the client sent. It connects to target from
// loopbackProxyAddr.
func (w *mtlsWorld) forwardingProxy(t *testing.T, target string) *httptest.Server {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(loopbackProxyAddr)}, Timeout: 5 * time.Second}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
			pr.Out.Header.Del(httpauth.DefaultClientCertHeader)
			if tls := pr.In.TLS; tls != nil && len(tls.PeerCertificates) > 0 {
				pr.Out.Header.Set(httpauth.DefaultClientCertHeader, ":"+base64.StdEncoding.EncodeToString(tls.PeerCertificates[0].Raw)+":")
			}
		},
		Transport: &http.Transport{DialContext: dialer.DialContext},
	}
	ts := httptest.NewUnstartedServer(rp)
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{w.server.TLS()}, ClientAuth: tls.RequestClientCert}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts
}

// TestServeClientCertHeader runs m2m serve on plain HTTP behind a
// TLS-terminating proxy that forwards the client certificate in the RFC
// 9440 Client-Cert header (--client-cert-header, --trusted-proxies,
// --client-ca without --tls-cert): a clientcred client with a certificate
// gets a bound token through the proxy and calls an API with it; the
// certificates of another subject, an expired one and one from another
// CA are refused, and so is the header sent by a peer that is not the
// proxy.
func TestServeClientCertHeader(t *testing.T) {
	if c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(loopbackProxyAddr)}}).Dial("tcp", "127.0.0.1:9"); err != nil && strings.Contains(err.Error(), "assign") {
		t.Skipf("cannot connect from %s (not Linux?): %v", loopbackProxyAddr, err)
	} else if err == nil {
		c.Close()
	}
	w := newMTLSWorld(t)
	p := startServe(t, nil, "--data", w.data, "--addr", "127.0.0.1:0", "--client-ca", w.caFile,
		"--client-cert-header", "Client-Cert", "--trusted-proxies", loopbackProxyAddr+"/32")
	defer p.stop()
	proxy := w.forwardingProxy(t, p.url)
	api := w.api(t, p.url, http.DefaultClient)
	tokenURL := proxy.URL + "/oauth/token"

	cc, err := clientcred.LoadClientCertificate(w.workerCert, w.workerKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, id string
		cert     *clientcred.ClientCertificate
	}{
		{"tls_client_auth", "worker", cc},
		{"self_signed_tls_client_auth", "edge", fixedCert(t, w.edge)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.boundTokenCallsAPI(t, w.certificateClient(t, tc.id, tokenURL, tc.cert), tc.id, tc.cert, api.URL)
		})
	}

	for _, tc := range []struct {
		name string
		cert *testcert.Cert
	}{
		{"wrong subject", w.thief},
		{"expired", w.expired},
		{"untrusted CA", w.foreign},
	} {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			c := w.certificateClient(t, "worker", tokenURL, fixedCert(t, tc.cert))
			if _, err := c.Source.Token(context.Background()); !refusedInvalidClient(err) {
				t.Errorf("Token() through the proxy with the %s certificate = %v; want 401 invalid_client", tc.name, err)
			}
		})
	}

	// The header from a peer that is not the proxy (here 127.0.0.1) is
	// ignored, and the same request from the proxy's address is believed:
	// the refusal is the peer, not the request.
	header := ":" + base64.StdEncoding.EncodeToString(w.worker.Cert.Raw) + ":"
	for _, tc := range []struct {
		name string
		from string
		want int
	}{
		{"header from a non-proxy", "127.0.0.1", http.StatusUnauthorized},
		{"header from the proxy", loopbackProxyAddr, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(tc.from)}}
			hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 10 * time.Second}
			req, _ := http.NewRequest("POST", p.url+"/oauth/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "client_id": {"worker"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Client-Cert", header)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				Error string `json:"error"`
			}
			json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != tc.want || tc.want != 200 && body.Error != "invalid_client" {
				t.Errorf("token request with Client-Cert from %s = %d %s; want %d", tc.from, resp.StatusCode, body.Error, tc.want)
			}
		})
	}
}

// TestServeClientCertHeaderSettings checks the settings of the header:
// it needs --trusted-proxies and a known format, --client-ca needs TLS
// or the header, and the header may not be one that carries something
// else. Every problem names its flag (exit 2).
func TestServeClientCertHeaderSettings(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no trusted proxies", []string{"--client-cert-header", "Client-Cert"}, "--trusted-proxies"},
		{"unknown format", []string{"--client-cert-header", "Client-Cert", "--trusted-proxies", "10.0.0.0/8", "--client-cert-header-format", "der"}, "--client-cert-header-format"},
		{"format without header", []string{"--client-cert-header-format", "escaped-pem"}, "--client-cert-header-format"},
		{"not a header name", []string{"--client-cert-header", "Client Cert", "--trusted-proxies", "10.0.0.0/8"}, "not a header name"},
		{"a header that carries something else", []string{"--client-cert-header", "authorization", "--trusted-proxies", "10.0.0.0/8"}, "carries something else"},
		{"client CA without TLS or header", []string{"--client-ca", "ca.pem"}, "--client-cert-header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"serve", "--data", data, "--addr", "127.0.0.1:0"}, tc.args...)
			code, _, stderr := run(t, nil, "", args...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("m2m %s = exit %d, %q; want 2 naming %s", strings.Join(args, " "), code, stderr, tc.want)
			}
		})
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("a refused start created %s", data)
	}
}

// TestTokenClientCert runs "m2m token" and "m2m request" with
// --client-cert, --client-key and --server-ca against m2m serve with
// mutual TLS: the token is bound to the certificate, the API request
// presents it; a certificate of another subject is refused (exit 1), and
// so are a key file others may read and half a pair.
func TestTokenClientCert(t *testing.T) {
	w := newMTLSWorld(t)
	p := startServe(t, nil, "--data", w.data, "--addr", "127.0.0.1:0", "--tls-cert", w.tlsCert, "--tls-key", w.tlsKey, "--client-ca", w.caFile)
	defer p.stop()
	api := w.api(t, p.url, &http.Client{Transport: w.trusting()})
	tokenURL := p.url + "/oauth/token"
	common := []string{"--token-url", tokenURL, "--audience", mtlsAudience, "--server-ca", w.serverCAFile}

	code, stdout, stderr := run(t, nil, "", append([]string{"token", "--client-id", "worker", "--client-cert", w.workerCert, "--client-key", w.workerKey, "--json"}, common...)...)
	if code != 0 {
		t.Fatalf("m2m token --client-cert: exit %d: %s", code, stderr)
	}
	var out struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("m2m token --json printed %q: %v", stdout, err)
	}
	if got, want := cnfX5t(t, out.AccessToken), httpauth.CertificateThumbprint(w.worker.Cert); got != want || out.TokenType != "Bearer" {
		t.Errorf("m2m token: %s token with cnf.x5t#S256 %q; want a Bearer token bound to %q", out.TokenType, got, want)
	}

	// M2M_CLIENT_ID names the client of "m2m request".
	code, stdout, stderr = run(t, map[string]string{"M2M_CLIENT_ID": "worker"}, "",
		append([]string{"request", "GET", api.URL + "/", "--client-cert", w.workerCert, "--client-key", w.workerKey}, common...)...)
	if code != 0 || stdout != "worker" {
		t.Errorf("m2m request --client-cert = exit %d %q (%s); want 0 \"worker\"", code, stdout, stderr)
	}
	code, stdout, stderr = run(t, nil, "",
		append([]string{"request", "GET", api.URL + "/", "--client-id", "worker", "--client-cert", w.workerCert, "--client-key", w.workerKey}, common...)...)
	if code != 0 || stdout != "worker" {
		t.Errorf("m2m request --client-id --client-cert = exit %d %q (%s); want 0 \"worker\"", code, stdout, stderr)
	}

	thiefCert, thiefKey := w.thief.WriteFiles(t, w.dir, "thief")
	openKey := filepath.Join(w.dir, "open.key")
	if err := os.WriteFile(openKey, w.worker.KeyPEM(t), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"wrong subject", []string{"--client-cert", thiefCert, "--client-key", thiefKey}, 1, "invalid_client"},
		{"key readable by others", []string{"--client-cert", w.workerCert, "--client-key", openKey}, 1, "chmod 600"},
		{"certificate without key", []string{"--client-cert", w.workerCert}, 2, "--client-key"},
		{"no certificate and no secret", nil, 2, "--client-cert"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"token", "--client-id", "worker"}, tc.args...), common...)
			code, _, stderr := run(t, nil, "", args...)
			if code != tc.code || !strings.Contains(stderr, tc.contains) || strings.Contains(stderr, "PRIVATE KEY") {
				t.Errorf("m2m %s = exit %d, %q; want %d with %q", strings.Join(args, " "), code, stderr, tc.code, tc.contains)
			}
		})
	}
}

// TestServeClientCertHeaderDirectTLS: with --client-cert-header and no
// --client-ca, a TLS listener still asks clients connecting directly for
// a certificate, so a self_signed_tls_client_auth client that does not go
// through the proxy authenticates too.
func TestServeClientCertHeaderDirectTLS(t *testing.T) {
	w := newMTLSWorld(t)
	p := startServe(t, nil, "--data", w.data, "--addr", "127.0.0.1:0", "--tls-cert", w.tlsCert, "--tls-key", w.tlsKey,
		"--client-cert-header", "Client-Cert", "--trusted-proxies", loopbackProxyAddr+"/32")
	defer p.stop()
	cert := fixedCert(t, w.edge)
	w.boundTokenCallsAPI(t, w.certificateClient(t, "edge", p.url+"/oauth/token", cert), "edge", cert, "")
}

// boundTokenCallsAPI checks that c gets a token bound to cert and, when
// apiURL is given, that the API answers it as client id.
func (w *mtlsWorld) boundTokenCallsAPI(t *testing.T, c *clientcred.Client, id string, cert *clientcred.ClientCertificate, apiURL string) {
	t.Helper()
	tok, err := c.Source.Token(context.Background())
	if err != nil {
		t.Fatalf("Token() = %v", err)
	}
	if got := cnfX5t(t, tok.AccessToken); got != cert.Thumbprint() {
		t.Errorf("token cnf.x5t#S256 = %q; want %q", got, cert.Thumbprint())
	}
	if apiURL == "" {
		return
	}
	resp, err := c.Get(context.Background(), apiURL+"/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != id {
		t.Errorf("API = %d %q; want 200 %q", resp.StatusCode, b, id)
	}
}
