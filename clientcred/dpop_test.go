package clientcred_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/authserver/authservertest"
	"github.com/m2mkit/m2m/clientcred"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/replay"
	"github.com/m2mkit/m2m/store"
)

// dpopStack is a real token server that binds tokens to DPoP keys and an
// API that accepts them, both requiring server nonces.
type dpopStack struct {
	srv    *authservertest.Server
	api    *httptest.Server
	id     string
	secret string
	calls  atomic.Int64
}

func newDPoPStack(t *testing.T) *dpopStack {
	t.Helper()
	nonces := func() jwtauth.NonceSource {
		n, err := jwtauth.NewHMACNonces()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	s := &dpopStack{}
	s.srv = authservertest.NewServer(t, &authservertest.Options{
		DPoP: &jwtauth.DPoPVerifier{Replay: &replay.Memory{}, Nonces: nonces()}})
	s.id, s.secret = s.srv.CreateClient(t, store.Client{Audiences: []string{e2eAudience}, Scopes: []string{"read"}})
	s.api = httptest.NewUnstartedServer(nil)
	tokens, err := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer: s.srv.URL, Audiences: []string{e2eAudience}, Algorithms: []string{"ES256"},
		Keys:      jwk.NewRemoteKeySet(s.srv.JWKSURL),
		DPoP:      &jwtauth.DPoPVerifier{Replay: &replay.Memory{}, Nonces: nonces()},
		PublicURL: "http://" + s.api.Listener.Addr().String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	auth := &httpauth.Middleware{Verifiers: []m2m.Verifier{tokens}}
	s.api.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		auth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, _ := m2m.FromContext(r.Context())
			b, _ := io.ReadAll(r.Body)
			io.WriteString(w, p.Scheme+" "+p.ClientID+" "+string(b))
		})).ServeHTTP(w, r)
	})
	s.api.Start()
	t.Cleanup(s.api.Close)
	return s
}

func TestDPoPClient(t *testing.T) {
	s := newDPoPStack(t)
	key, err := clientcred.GenerateDPoPKey()
	if err != nil {
		t.Fatal(err)
	}
	src, err := clientcred.NewTokenSource(clientcred.Config{ClientID: s.id, ClientSecret: s.secret,
		TokenURL: s.srv.TokenURL, Audience: e2eAudience, DPoP: key})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatalf("Token() with a nonce-requiring server = %v", err)
	}
	if tok.TokenType != "DPoP" {
		t.Fatalf("TokenType = %q; want DPoP", tok.TokenType)
	}
	// The token is bound to the key.
	parts := strings.Split(tok.AccessToken, ".")
	var claims struct {
		Cnf struct{ JKT string } `json:"cnf"`
	}
	if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err != nil || json.Unmarshal(b, &claims) != nil || claims.Cnf.JKT != key.Thumbprint() {
		t.Fatalf("cnf.jkt = %q; want %q", claims.Cnf.JKT, key.Thumbprint())
	}

	hc := &http.Client{Transport: &clientcred.Transport{Source: src}}
	for i, method := range []string{"GET", "POST", "GET"} {
		var body io.Reader
		if method == "POST" {
			body = strings.NewReader("payload")
		}
		req, _ := http.NewRequestWithContext(t.Context(), method, s.api.URL+"/things?page=1", body)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := "dpop " + s.id + " "
		if method == "POST" {
			want += "payload"
		}
		if resp.StatusCode != 200 || string(b) != want {
			t.Fatalf("request %d: %s = %d %q; want 200 %q", i, method, resp.StatusCode, b, want)
		}
	}
	// One extra call for the API's first nonce, none after.
	if got := s.calls.Load(); got != 4 {
		t.Errorf("API calls = %d; want 4 (one use_dpop_nonce retry)", got)
	}

	// The same token as a bearer token is refused.
	req, _ := http.NewRequest("GET", s.api.URL+"/things", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("stolen token as Bearer = %d; want 401", resp.StatusCode)
	}
}

func TestDPoPClientServerWithoutDPoP(t *testing.T) {
	srv := authservertest.NewServer(t, nil)
	id, secret := srv.CreateClient(t, store.Client{Audiences: []string{e2eAudience}})
	key, _ := clientcred.GenerateDPoPKey()
	src, err := clientcred.NewTokenSource(clientcred.Config{ClientID: id, ClientSecret: secret,
		TokenURL: srv.TokenURL, Audience: e2eAudience, DPoP: key})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Token(t.Context()); err == nil || !strings.Contains(err.Error(), "not DPoP") {
		t.Fatalf("Token() from a server without DPoP = %v; want a token_type error", err)
	}
}

func TestParseDPoPKey(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	rsaJWK := func(alg string) []byte {
		b, err := json.Marshal(jose.JSONWebKey{Key: rsaKey, Algorithm: alg, Use: "sig"})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ecJWK := func() []byte {
		b, _ := os.ReadFile("testdata/dpop-ec-private.jwk")
		return b
	}()
	tests := []struct {
		name, alg string
		data      []byte
		err       string
	}{
		{"PKCS#8 P-256", "ES256", pkcs8(ec), ""},
		{"PKCS#8 P-384", "ES384", pkcs8(ec384), ""},
		{"PKCS#8 Ed25519", "EdDSA", pkcs8(ed), ""},
		{"PKCS#8 RSA", "RS256", pkcs8(rsaKey), ""},
		{"RSA JWK asking for PS256", "PS256", rsaJWK("PS256"), ""},
		{"RSA JWK asking for RS512", "RS256", rsaJWK("RS512"), ""},
		{"private JWK", "ES256", ecJWK, ""},
		{"public JWK", "", []byte(`{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`), "public key"},
		{"symmetric JWK", "", []byte(`{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}`), "unsupported JWK key type"},
		{"SEC1 PEM", "", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1}}), "private key"},
		{"garbage", "", []byte("hello"), "no PEM private key"},
		{"broken JWK", "", []byte(`{"kty":`), "malformed"},
		{"encryption JWK", "", []byte(`{"kty":"EC","use":"enc","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","d":"870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE"}`), "use"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := clientcred.ParseDPoPKey(tc.data)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseDPoPKey = %v; want an error containing %q", err, tc.err)
				}
				if bytes.Contains([]byte(err.Error()), bytes.TrimSpace(tc.data)) {
					t.Fatalf("error quotes the key: %v", err)
				}
				return
			}
			if err != nil || k.Algorithm() != tc.alg {
				t.Fatalf("ParseDPoPKey = %v, %v; want alg %s", k, err, tc.alg)
			}
			if _, err := k.Proof("GET", "https://api.example.com/x", "tok"); err != nil {
				t.Fatalf("Proof() = %v", err)
			}
		})
	}
}

func TestNewDPoPKeyRefusesBrokenKeys(t *testing.T) {
	for _, k := range []crypto.Signer{&rsa.PrivateKey{}, (*ecdsa.PrivateKey)(nil), ed25519.PrivateKey{1, 2}} {
		if _, err := clientcred.NewDPoPKey(k); err == nil {
			t.Errorf("NewDPoPKey(%T) = nil error; want a refusal", k)
		}
	}
}

func TestLoadDPoPKeyCreates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dpop.pem")
	k1, err := clientcred.LoadDPoPKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", fi.Mode(), err)
	}
	k2, err := clientcred.LoadDPoPKey(path)
	if err != nil || k2.Thumbprint() != k1.Thumbprint() {
		t.Fatalf("reloaded key = %v, %v; want thumbprint %s", k2, err, k1.Thumbprint())
	}
	if strings.Contains(k1.String(), "PRIVATE") || !strings.Contains(k1.String(), k1.Thumbprint()) {
		t.Errorf("String() = %q; want the thumbprint only", k1)
	}
	if _, err := clientcred.LoadDPoPKey(filepath.Join(t.TempDir(), "no", "such", "dir", "k.pem")); err == nil || errors.Is(err, os.ErrExist) {
		t.Errorf("LoadDPoPKey in a missing directory = %v; want an error", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := clientcred.LoadDPoPKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("LoadDPoPKey(a key file others may read) = %v; want a chmod 600 error", err)
	}
}
