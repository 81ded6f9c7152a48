package clientcred

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2mkit/m2m/internal/testcert"
)

func thumbprint(c *testcert.Cert) string {
	sum := sha256.Sum256(c.Cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// mtlsPeer is a TLS server that asks for a client certificate without
// verifying it, answers token requests with a token named after the
// certificate's thumbprint, and API requests with 200 when the token
// names the certificate of the connection (as a certificate-bound token
// is checked) and 401 otherwise.
type mtlsPeer struct {
	srv *httptest.Server

	mu     sync.Mutex
	forms  []map[string]string // token request bodies
	authz  []string            // Authorization headers of token requests
	tokens int
}

func newMTLSPeer(t *testing.T) *mtlsPeer {
	p := &mtlsPeer{}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x5t := ""
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			sum := sha256.Sum256(r.TLS.PeerCertificates[0].Raw)
			x5t = base64.RawURLEncoding.EncodeToString(sum[:])
		}
		switch r.URL.Path {
		case "/token":
			form := map[string]string{}
			if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				json.NewDecoder(r.Body).Decode(&form)
			} else {
				r.ParseForm()
				for k := range r.PostForm {
					form[k] = r.PostForm.Get(k)
				}
			}
			p.mu.Lock()
			p.forms = append(p.forms, form)
			p.authz = append(p.authz, r.Header.Get("Authorization"))
			p.tokens++
			p.mu.Unlock()
			if x5t == "" {
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"error":"invalid_client"}`)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"access_token": "bound-to-" + x5t, "token_type": "Bearer", "expires_in": 3600})
		default:
			if r.Header.Get("Authorization") != "Bearer bound-to-"+x5t || x5t == "" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			io.WriteString(w, x5t)
		}
	}))
	p.srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	return p
}

// trusting returns a transport that trusts the peer's certificate.
func (p *mtlsPeer) trusting() *http.Transport {
	return p.srv.Client().Transport.(*http.Transport).Clone()
}

func (p *mtlsPeer) lastForm() (map[string]string, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.forms[len(p.forms)-1], p.authz[len(p.authz)-1]
}

func TestLoadClientCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "client CA")
	good := ca.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "worker"}})
	other := ca.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "other"}})
	expired := ca.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "worker"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	certFile, keyFile := good.WriteFiles(t, dir, "good")
	_, otherKey := other.WriteFiles(t, dir, "other")
	expCert, expKey := expired.WriteFiles(t, dir, "expired")
	openKey := filepath.Join(dir, "open.key")
	if err := os.WriteFile(openKey, good.KeyPEM(t), 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.crt")
	if err := os.WriteFile(big, make([]byte, 2<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, cert, key string
		want            string // in the error; "" means success
	}{
		{"good", certFile, keyFile, ""},
		{"key readable by others", certFile, openKey, "chmod 600"},
		{"key of another certificate", certFile, otherKey, "private key does not match"},
		{"expired", expCert, expKey, "expired"},
		{"missing certificate", filepath.Join(dir, "none.crt"), keyFile, "none.crt"},
		{"certificate file too large", big, keyFile, "want at most"},
		{"key file as certificate", keyFile, keyFile, "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "key readable by others" && runtime.GOOS == "windows" {
				t.Skip("file modes mean nothing on Windows")
			}
			cc, err := LoadClientCertificate(tc.cert, tc.key)
			if tc.name == "missing certificate" && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("LoadClientCertificate(missing file) = %v; want fs.ErrNotExist", err)
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("LoadClientCertificate(%s, %s) = %v; want success", tc.cert, tc.key, err)
			case tc.want == "":
				if cc.Thumbprint() != thumbprint(good) || cc.Leaf().Subject.CommonName != "worker" {
					t.Errorf("Thumbprint() = %s, Leaf %v; want the certificate's %s", cc.Thumbprint(), cc.Leaf().Subject, thumbprint(good))
				}
			case err == nil || !strings.Contains(err.Error(), tc.want):
				t.Fatalf("LoadClientCertificate(%s, %s) = %v; want an error with %q", tc.cert, tc.key, err, tc.want)
			case strings.Contains(err.Error(), "PRIVATE KEY-----") || strings.Contains(err.Error(), "tlsreload"):
				t.Errorf("error quotes the key or names an internal package: %v", err)
			}
		})
	}
}

func TestNewClientCertificate(t *testing.T) {
	c := testcert.SelfSigned(t, testcert.Options{Subject: pkix.Name{CommonName: "edge"}})
	tc := c.TLS()
	tc.Leaf = nil
	cc, err := NewClientCertificate(tc)
	if err != nil || cc.Thumbprint() != thumbprint(c) {
		t.Fatalf("NewClientCertificate = %v, %v; want the certificate", cc, err)
	}
	if got, _ := cc.GetClientCertificate(nil); got.Leaf == nil || got.Leaf.Subject.CommonName != "edge" {
		t.Errorf("GetClientCertificate() = %v; want the certificate with its leaf", got)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "cert", cc)
	for _, out := range []string{cc.String(), fmt.Sprintf("%v %+v", cc, cc), logged.String()} {
		if !strings.Contains(out, "edge") || strings.Contains(out, "PRIVATE") || strings.Contains(out, c.Key.D.String()) {
			t.Errorf("ClientCertificate printed as %q; want its subject and no key", out)
		}
	}
	for name, bad := range map[string]tls.Certificate{
		"empty":  {},
		"no key": {Certificate: tc.Certificate},
		"no DER": {PrivateKey: c.Key},
	} {
		if _, err := NewClientCertificate(bad); err == nil {
			t.Errorf("NewClientCertificate(%s) = nil error", name)
		}
	}
}

// TestClientCertificateAuth checks the token request of a client that
// authenticates with its certificate (RFC 8705 section 2): client_id
// alone, in the body of every AuthStyle, over a connection presenting the
// certificate; and that a secret, when there is one, is still sent.
func TestClientCertificateAuth(t *testing.T) {
	p := newMTLSPeer(t)
	c := testcert.NewCA(t, "ca").Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "worker"}})
	cc, err := NewClientCertificate(c.TLS())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		style      AuthStyle
		secret     string
		wantSecret bool
		wantBasic  bool
	}{
		{"post", AuthStyleInParams, "", false, false},
		{"basic", AuthStyleInHeader, "", false, false},
		{"json", AuthStyleJSON, "", false, false},
		{"post with a secret", AuthStyleInParams, "s3cret", true, false},
		{"basic with a secret", AuthStyleInHeader, "s3cret", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := NewTokenSource(Config{
				// A client id of its own: sources share a token cache.
				ClientID: "worker " + tc.name, ClientSecret: tc.secret, TokenURL: p.srv.URL + "/token", SkipAudience: true,
				AuthStyle: tc.style, ClientCertificate: cc, LookupEnv: noEnv,
				HTTPClient: &http.Client{Transport: p.trusting()},
			})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := src.Token(context.Background())
			if err != nil {
				t.Fatalf("Token() = %v", err)
			}
			if tok.AccessToken != "bound-to-"+thumbprint(c) {
				t.Errorf("Token() = %s; want a token bound to the certificate", tok.AccessToken)
			}
			form, authz := p.lastForm()
			_, hasSecret := form["client_secret"]
			if form["client_id"] != "worker "+tc.name && !tc.wantBasic || hasSecret != tc.wantSecret || (authz != "") != tc.wantBasic {
				t.Errorf("token request body %v, Authorization %q; want client_id, secret %v, Basic %v", form, authz, tc.wantSecret, tc.wantBasic)
			}
		})
	}
}

func noEnv(string) (string, bool) { return "", false }

func TestResolveClientCertificate(t *testing.T) {
	c := testcert.SelfSigned(t, testcert.Options{})
	cc, err := NewClientCertificate(c.TLS())
	if err != nil {
		t.Fatal(err)
	}
	base := Config{ClientID: "worker", TokenURL: "https://auth.example.com/token", SkipAudience: true, LookupEnv: noEnv}
	if _, err := base.Resolve(); !errors.Is(err, ErrMissingClientSecret) {
		t.Errorf("Resolve() without a secret or a certificate = %v; want ErrMissingClientSecret", err)
	}
	withCert := base
	withCert.ClientCertificate = cc
	if _, err := withCert.Resolve(); err != nil {
		t.Errorf("Resolve() with a certificate and no secret = %v; want nil", err)
	}
	withCert.ClientID = ""
	if _, err := withCert.Resolve(); !errors.Is(err, ErrMissingClientID) {
		t.Errorf("Resolve() with a certificate and no client id = %v; want ErrMissingClientID", err)
	}
}

// TestClientCertificateRotation replaces the certificate files between
// requests, as cert-manager or a SPIFFE agent does: the next token
// request presents the new certificate, the cached token bound to the
// old one is not used, and API requests move to connections presenting
// the new certificate, with no 401 on the way.
func TestClientCertificateRotation(t *testing.T) {
	p := newMTLSPeer(t)
	dir := t.TempDir()
	ca := testcert.NewCA(t, "ca")
	first := ca.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "worker"}})
	second := ca.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "worker"}})
	certFile, keyFile := first.WriteFiles(t, dir, "client")
	cc, err := LoadClientCertificate(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	src, err := NewTokenSource(Config{
		ClientID: "worker", TokenURL: p.srv.URL + "/token", SkipAudience: true, ClientCertificate: cc, LookupEnv: noEnv,
		HTTPClient: &http.Client{Transport: p.trusting()}, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	api := &http.Client{Transport: &Transport{Source: src, Base: cc.RoundTripper(p.trusting())}}
	call := func() string {
		t.Helper()
		resp, err := api.Get(p.srv.URL + "/api")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("API = %d; want 200", resp.StatusCode)
		}
		return string(b)
	}
	if got := call(); got != thumbprint(first) {
		t.Fatalf("API saw certificate %s; want the first %s", got, thumbprint(first))
	}
	if got := call(); got != thumbprint(first) {
		t.Fatalf("second call saw certificate %s; want the first %s", got, thumbprint(first))
	}
	p.mu.Lock()
	tokens := p.tokens
	p.mu.Unlock()
	if tokens != 1 {
		t.Errorf("token requests = %d; want 1 (cached)", tokens)
	}

	// Rotate: a rename, as cert-manager's atomic writer does.
	second.WriteFiles(t, dir, "next")
	for _, ext := range []string{".key", ".crt"} {
		if err := os.Rename(filepath.Join(dir, "next"+ext), filepath.Join(dir, "client"+ext)); err != nil {
			t.Fatal(err)
		}
	}
	// The throttle of the API path is CertificateCheckInterval; look now,
	// as the next handshake or token request does.
	if got, _ := cc.GetClientCertificate(nil); got.Leaf.Equal(first.Cert) {
		t.Fatal("GetClientCertificate() after the rotation = the first certificate")
	}
	if got := call(); got != thumbprint(second) {
		t.Errorf("API after the rotation saw certificate %s; want the second %s", got, thumbprint(second))
	}
	p.mu.Lock()
	tokens = p.tokens
	p.mu.Unlock()
	if tokens != 2 {
		t.Errorf("token requests = %d; want 2 (the token of the first certificate dropped)", tokens)
	}

	// A broken replacement keeps the second certificate in service, and
	// the next token request logs why.
	if err := os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\ntrunc"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := cc.GetClientCertificate(nil); !got.Leaf.Equal(second.Cert) {
		t.Error("GetClientCertificate() after a broken replacement is not the second certificate")
	}
	old, _ := src.Token(context.Background())
	src.Invalidate(old)
	if tok, err := src.Token(context.Background()); err != nil || tok.AccessToken != "bound-to-"+thumbprint(second) {
		t.Errorf("Token() after a broken replacement = %v, %v; want a token of the second certificate", tok, err)
	}
	if !strings.Contains(logs.String(), "client certificate files refused") || strings.Contains(logs.String(), "PRIVATE KEY") {
		t.Errorf("log = %q; want the refusal, without the key", logs.String())
	}
}

// TestTransportDefaultBase checks that a Transport without a Base sends
// API requests through the source's certificate-presenting transport.
func TestTransportDefaultBase(t *testing.T) {
	cc, err := NewClientCertificate(testcert.SelfSigned(t, testcert.Options{}).TLS())
	if err != nil {
		t.Fatal(err)
	}
	src, err := NewTokenSource(Config{ClientID: "w", TokenURL: "https://auth.example.com/token", SkipAudience: true, ClientCertificate: cc, LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	ct, ok := (&Transport{Source: src}).base().(*certTransport)
	if !ok || ct.cc != cc {
		t.Fatalf("Transport.base() = %T; want the source's certificate transport", (&Transport{Source: src}).base())
	}
	if src.httpClient().Transport != src.apiBase {
		t.Error("token requests do not present the certificate")
	}
	st, _ := cc.check()
	tr := ct.transport(st)
	if got, _ := tr.TLSClientConfig.GetClientCertificate(nil); got.Leaf != cc.Leaf() {
		t.Error("the certificate transport does not present the certificate")
	}
	// A session cache of the template is not shared: a resumed session
	// would present the certificate of the handshake it came from.
	tmpl := &http.Transport{TLSClientConfig: &tls.Config{ClientSessionCache: tls.NewLRUClientSessionCache(8)}}
	own := cc.RoundTripper(tmpl).(*certTransport).transport(st)
	if own.TLSClientConfig.ClientSessionCache == nil || own.TLSClientConfig.ClientSessionCache == tmpl.TLSClientConfig.ClientSessionCache {
		t.Error("the certificate transport shares the template's TLS session cache")
	}
	// An HTTPClient whose transport is not an *http.Transport is used as is.
	mine := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("x") })}
	src, err = NewTokenSource(Config{ClientID: "w", TokenURL: "https://auth.example.com/token", SkipAudience: true, ClientCertificate: cc, LookupEnv: noEnv, HTTPClient: mine})
	if err != nil {
		t.Fatal(err)
	}
	if src.httpClient() != mine {
		t.Error("an HTTPClient with its own RoundTripper was replaced")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// BenchmarkTokenCachedCertificate is BenchmarkTokenCached for a source
// with a client certificate: the hot path adds the comparison of the
// token's certificate with the one presented now.
func BenchmarkTokenCachedCertificate(b *testing.B) {
	cc, err := NewClientCertificate(testcert.SelfSigned(b, testcert.Options{}).TLS())
	if err != nil {
		b.Fatal(err)
	}
	s := &TokenSource{cfg: Config{ClientCertificate: cc}, c: new(cache), jitter: func() float64 { return 0 }}
	tok := s.newToken("t", "Bearer", "", s.cfg.now(), DefaultLifetime)
	tok.x5t = cc.Thumbprint()
	s.c.cur.Store(tok)
	ctx := context.Background()
	b.ReportAllocs()
	start := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if got, err := s.Token(ctx); err != nil || got != tok {
				b.Fatal(got, err)
			}
		}
	})
	reportCPU(b, start)
}
