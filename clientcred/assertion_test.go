package clientcred_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2mkit/m2m/authserver/authservertest"
	"github.com/m2mkit/m2m/clientcred"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/store"
)

func TestParsePrivateKey(t *testing.T) {
	tests := []struct {
		file, alg, kid string
		err            string
	}{
		{file: "ec-pkcs8.pem", alg: "ES256"},
		{file: "ec-sec1.pem", alg: "ES256"},
		{file: "ec384.pem", alg: "ES384"},
		{file: "rsa-pkcs8.pem", alg: "RS256"},
		{file: "rsa-pkcs1.pem", alg: "RS256"},
		{file: "ed25519.pem", alg: "EdDSA"},
		{file: "ec.jwk.json", alg: "ES256", kid: "worker-2026"},
		{file: "ec-set.jwks.json", alg: "ES256", kid: "worker-2026"},
		{file: "ed25519.jwk.json", alg: "EdDSA"},
		{file: "rsa1024.pem", err: "at least 2048"},
		{file: "encrypted.pem", err: "encrypted PEM"},
		{file: "public.pem", err: "no PEM private key"},
		{file: "public.jwk.json", err: "public key"},
		{file: "two-keys.jwks.json", err: "want exactly one"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "privatekey", tt.file)
			k, err := clientcred.ReadPrivateKeyFile(path)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ReadPrivateKeyFile(%s) = %v; want an error containing %q", tt.file, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadPrivateKeyFile(%s) = %v", tt.file, err)
			}
			if k.Algorithm != tt.alg {
				t.Errorf("Algorithm = %q; want %q", k.Algorithm, tt.alg)
			}
			// The kid: the JWK's, else the public key's thumbprint.
			set, err := jwk.ParseSet(mustJWKS(t, k))
			if err != nil {
				t.Fatalf("PublicJWKS does not parse: %v", err)
			}
			want := tt.kid
			if want == "" {
				want = set.Keys()[0].Thumbprint
			}
			if k.KeyID != want {
				t.Errorf("KeyID = %q; want %q", k.KeyID, want)
			}
			if s := fmt.Sprint(k); strings.Contains(s, "BEGIN") || !strings.Contains(s, "REDACTED") {
				t.Errorf("String() = %q; want the key redacted", s)
			}
		})
	}
}

func mustJWKS(t *testing.T, k *clientcred.PrivateKey) []byte {
	t.Helper()
	b, err := k.PublicJWKS()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzParsePrivateKey(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "privatekey", "*"))
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte(`{"keys":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := clientcred.ParsePrivateKey(data)
		if err == nil && (k.Algorithm == "" || k.KeyID == "") {
			t.Fatalf("ParsePrivateKey accepted a key without algorithm or kid")
		}
	})
}

// newPKJWTServer starts the real token server with a private_key_jwt
// client whose key is k.
func newPKJWTServer(t *testing.T, k *clientcred.PrivateKey) (*authservertest.Server, string) {
	t.Helper()
	srv := authservertest.NewServer(t, nil)
	id, _ := srv.CreateClient(t, store.Client{Name: "worker", Audiences: []string{e2eAudience}, Scopes: []string{"read", "write"},
		AuthMethod: store.AuthMethodPrivateKeyJWT, JWKS: mustJWKS(t, k)})
	return srv, id
}

func TestPrivateKeyAssertionRealServer(t *testing.T) {
	for _, file := range []string{"ec-pkcs8.pem", "rsa-pkcs1.pem", "ed25519.pem", "ec.jwk.json"} {
		t.Run(file, func(t *testing.T) {
			k, err := clientcred.ReadPrivateKeyFile(filepath.Join("testdata", "privatekey", file))
			if err != nil {
				t.Fatal(err)
			}
			srv, id := newPKJWTServer(t, k)
			src, err := clientcred.NewTokenSource(clientcred.Config{
				ClientID: id, Assertion: &clientcred.PrivateKeyAssertion{Key: k},
				TokenURL: srv.TokenURL, Audience: e2eAudience, Scopes: []string{"read"},
				LookupEnv: noEnv,
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			// Two fetches: each signs a fresh assertion with a new jti,
			// which the server (which accepts each jti once) takes.
			for i := range 2 {
				tok, err := src.Token(ctx)
				if err != nil {
					t.Fatalf("fetch %d: Token() = %v", i, err)
				}
				claims := verifyToken(t, srv, tok.AccessToken)
				if claims.Subject != id || tok.Scope != "read" {
					t.Errorf("fetch %d: sub %q scope %q; want %q, read", i, claims.Subject, tok.Scope, id)
				}
				src.Invalidate(tok)
			}
		})
	}
}

func TestPrivateKeyAssertionWrongKey(t *testing.T) {
	registered, _ := clientcred.ReadPrivateKeyFile(filepath.Join("testdata", "privatekey", "ec-pkcs8.pem"))
	other, _ := clientcred.ReadPrivateKeyFile(filepath.Join("testdata", "privatekey", "ec-sec1.pem"))
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	stranger, _ := clientcred.NewPrivateKey(ec, registered.KeyID, "") // the registered kid, another key
	srv, id := newPKJWTServer(t, registered)
	for name, k := range map[string]*clientcred.PrivateKey{"same key other spelling": other, "same kid other key": stranger} {
		t.Run(name, func(t *testing.T) {
			src, err := clientcred.NewTokenSource(clientcred.Config{ClientID: id, Assertion: &clientcred.PrivateKeyAssertion{Key: k},
				TokenURL: srv.TokenURL, Audience: e2eAudience, LookupEnv: noEnv})
			if err != nil {
				t.Fatal(err)
			}
			_, err = src.Token(context.Background())
			if name == "same key other spelling" {
				// ec-sec1.pem is ec-pkcs8.pem in SEC 1 form: it works.
				if err != nil {
					t.Fatalf("Token() = %v", err)
				}
				return
			}
			var re *clientcred.RetrieveError
			if !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
				t.Fatalf("Token() = %v; want invalid_client", err)
			}
		})
	}
}

func verifyToken(t *testing.T, srv *authservertest.Server, tok string) *jwtauth.Claims {
	t.Helper()
	v := jwtauth.Validator{Algorithms: []string{"ES256"}, Issuer: srv.URL, Audience: []string{e2eAudience}, Types: []string{"at+jwt"}}
	c, err := v.Verify(context.Background(), tok, jwtauth.PublicKeys(jwk.NewRemoteKeySet(srv.JWKSURL)))
	if err != nil {
		t.Fatalf("the issued token does not verify: %v", err)
	}
	return c
}

func noEnv(string) (string, bool) { return "", false }

// formRecorder is a token endpoint that records the forms it receives.
type formRecorder struct {
	mu    sync.Mutex
	forms []map[string]string
}

func (f *formRecorder) server(t *testing.T, status int, body string) *httptest.Server {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		m := map[string]string{}
		for k := range r.PostForm {
			m[k] = r.PostForm.Get(k)
		}
		f.mu.Lock()
		f.forms = append(f.forms, m)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func TestAssertionGrants(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	os.WriteFile(path, []byte("first.jwt.value\n"), 0o600)
	tests := []struct {
		name     string
		cfg      clientcred.Config
		want     map[string]string
		wantNone []string
	}{
		{"client assertion", clientcred.Config{ClientID: "c1"},
			map[string]string{"grant_type": "client_credentials", "client_assertion_type": clientcred.ClientAssertionType,
				"client_assertion": "first.jwt.value", "client_id": "c1", "audience": "https://api"},
			[]string{"client_secret", "assertion", "subject_token"}},
		{"client assertion without client id", clientcred.Config{},
			map[string]string{"grant_type": "client_credentials", "client_assertion": "first.jwt.value"},
			[]string{"client_id"}},
		{"jwt bearer", clientcred.Config{AssertionGrant: clientcred.AssertionJWTBearer, ClientID: "c1"},
			map[string]string{"grant_type": clientcred.GrantTypeJWTBearer, "assertion": "first.jwt.value"},
			[]string{"client_assertion", "client_id"}},
		{"token exchange", clientcred.Config{AssertionGrant: clientcred.AssertionTokenExchange},
			map[string]string{"grant_type": clientcred.GrantTypeTokenExchange, "subject_token": "first.jwt.value",
				"subject_token_type": clientcred.TokenTypeJWT},
			[]string{"client_assertion", "assertion"}},
		{"token exchange of an id token", clientcred.Config{AssertionGrant: clientcred.AssertionTokenExchange, SubjectTokenType: clientcred.TokenTypeIDToken},
			map[string]string{"subject_token_type": clientcred.TokenTypeIDToken}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec formRecorder
			ts := rec.server(t, 200, `{"access_token":"at","token_type":"Bearer","expires_in":60}`)
			cfg := tt.cfg
			cfg.Assertion = &clientcred.TokenFileAssertion{Path: path}
			cfg.TokenURL, cfg.Audience, cfg.LookupEnv = ts.URL, "https://api", noEnv
			src, err := clientcred.NewTokenSource(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := src.Token(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := rec.forms[0]
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("form %s = %q; want %q", k, got[k], v)
				}
			}
			for _, k := range tt.wantNone {
				if _, ok := got[k]; ok {
					t.Errorf("form has %s; want none", k)
				}
			}
		})
	}
}

// TestTokenFileReread: the token file is read at every fetch, so a
// rotated Kubernetes token is used by the next one.
func TestTokenFileReread(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	os.WriteFile(path, []byte("first.jwt.value"), 0o600)
	var rec formRecorder
	ts := rec.server(t, 200, `{"access_token":"at","expires_in":60}`)
	src, err := clientcred.NewTokenSource(clientcred.Config{Assertion: &clientcred.TokenFileAssertion{Path: path},
		AssertionGrant: clientcred.AssertionJWTBearer, TokenURL: ts.URL, SkipAudience: true, LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := src.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, []byte("second.jwt.value"), 0o600)
	src.Invalidate(tok)
	if _, err := src.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := []string{rec.forms[0]["assertion"], rec.forms[1]["assertion"]}; got[0] != "first.jwt.value" || got[1] != "second.jwt.value" {
		t.Errorf("assertions sent = %q; want the file's content at each fetch", got)
	}
}

func TestTokenFileBounds(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	os.WriteFile(big, []byte(strings.Repeat("a", clientcred.MaxAssertionBytes+1)), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte(" \n"), 0o600)
	for name, path := range map[string]string{"too large": big, "empty": empty, "missing": filepath.Join(dir, "none")} {
		t.Run(name, func(t *testing.T) {
			_, err := (&clientcred.TokenFileAssertion{Path: path}).Assertion(context.Background(), clientcred.AssertionRequest{})
			if err == nil {
				t.Fatalf("Assertion() = nil error; want one")
			}
		})
	}
}

// TestAssertionMaskedInRefusal: an endpoint that echoes the request
// must not put the assertion (an external token may be accepted again)
// into the error.
func TestAssertionMaskedInRefusal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	const assertion = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
	os.WriteFile(path, []byte(assertion), 0o600)
	var rec formRecorder
	ts := rec.server(t, 400, `{"error":"invalid_grant","error_description":"bad assertion `+assertion+`"}`)
	src, _ := clientcred.NewTokenSource(clientcred.Config{Assertion: &clientcred.TokenFileAssertion{Path: path},
		AssertionGrant: clientcred.AssertionJWTBearer, TokenURL: ts.URL, SkipAudience: true, LookupEnv: noEnv})
	_, err := src.Token(context.Background())
	var re *clientcred.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("Token() = %v; want invalid_grant", err)
	}
	if strings.Contains(err.Error(), assertion) || strings.Contains(string(re.Body), assertion) {
		t.Errorf("the refusal shows the assertion: %v", err)
	}
}

func TestAssertionConfigErrors(t *testing.T) {
	k, _ := clientcred.ReadPrivateKeyFile(filepath.Join("testdata", "privatekey", "ec-pkcs8.pem"))
	file := &clientcred.TokenFileAssertion{Path: "x"}
	tests := []struct {
		name string
		cfg  clientcred.Config
		want error
	}{
		{"secret and assertion", clientcred.Config{ClientID: "c", ClientSecret: "s", Assertion: file}, clientcred.ErrConflictingCredentials},
		{"private key without client id", clientcred.Config{Assertion: &clientcred.PrivateKeyAssertion{Key: k}}, clientcred.ErrMissingClientID},
		{"external token needs no client id", clientcred.Config{Assertion: file}, nil},
		{"env secret is not read with an assertion", clientcred.Config{Assertion: file, LookupEnv: func(n string) (string, bool) {
			return "leaked", n == clientcred.EnvClientSecret
		}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.TokenURL, cfg.SkipAudience = "https://auth.example.com/oauth/token", true
			if cfg.LookupEnv == nil {
				cfg.LookupEnv = noEnv
			}
			_, err := cfg.Resolve()
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Resolve() = %v; want %v", err, tt.want)
			}
		})
	}
}

func TestGitHubActionsAssertion(t *testing.T) {
	const bearer = "gh-request-token-do-not-log"
	var gotAuth, gotAud, gotVersion string
	status, body := 200, `{"count":1,"value":"eyJ.gh.token"}`
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotAud, gotVersion = r.Header.Get("Authorization"), r.URL.Query().Get("audience"), r.URL.Query().Get("api-version")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	defer gh.Close()
	env := map[string]string{clientcred.EnvGitHubTokenRequestURL: gh.URL + "/token?api-version=2.0", clientcred.EnvGitHubTokenRequestToken: bearer}
	look := func(n string) (string, bool) { v, ok := env[n]; return v, ok }
	a := &clientcred.GitHubActionsAssertion{Audience: "https://auth.example.com", LookupEnv: look}
	tok, err := a.Assertion(context.Background(), clientcred.AssertionRequest{})
	if err != nil || tok != "eyJ.gh.token" {
		t.Fatalf("Assertion() = %q, %v; want eyJ.gh.token", tok, err)
	}
	if gotAuth != "Bearer "+bearer || gotAud != "https://auth.example.com" || gotVersion != "2.0" {
		t.Errorf("request: Authorization %q, audience %q, api-version %q", gotAuth, gotAud, gotVersion)
	}
	refusals := []struct {
		name   string
		status int
		body   string
		env    map[string]string
	}{
		{"not in actions", 200, body, map[string]string{}},
		{"refused", 403, `{"message":"` + bearer + `"}`, env},
		{"no value", 200, `{}`, env},
		{"too large", 200, `{"value":"` + strings.Repeat("a", 70<<10) + `"}`, env},
		{"not a jwt", 200, `{"value":"a b"}`, env},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			status, body = tt.status, tt.body
			e := tt.env
			a := &clientcred.GitHubActionsAssertion{LookupEnv: func(n string) (string, bool) { v, ok := e[n]; return v, ok }}
			_, err := a.Assertion(context.Background(), clientcred.AssertionRequest{})
			if err == nil {
				t.Fatal("Assertion() = nil error; want a refusal")
			}
			if strings.Contains(err.Error(), bearer) {
				t.Errorf("the error shows the request token: %v", err)
			}
		})
	}
	t.Run("timeout", func(t *testing.T) {
		block := make(chan struct{})
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
		defer slow.Close()
		defer close(block)
		e := map[string]string{clientcred.EnvGitHubTokenRequestURL: slow.URL, clientcred.EnvGitHubTokenRequestToken: bearer}
		a := &clientcred.GitHubActionsAssertion{Timeout: 50 * time.Millisecond, LookupEnv: func(n string) (string, bool) { v, ok := e[n]; return v, ok }}
		if _, err := a.Assertion(context.Background(), clientcred.AssertionRequest{}); !errors.Is(err, context.DeadlineExceeded) && (err == nil || !strings.Contains(err.Error(), "deadline")) {
			t.Fatalf("Assertion() = %v; want a timeout", err)
		}
	})
}

// TestPrivateKeyAssertionClaims checks the assertion's claims: iss = sub
// = client id, aud the token URL, exp within the lifetime, a fresh jti.
func TestPrivateKeyAssertionClaims(t *testing.T) {
	k, _ := clientcred.ReadPrivateKeyFile(filepath.Join("testdata", "privatekey", "ec.jwk.json"))
	now := time.Unix(1_800_000_000, 0)
	a := &clientcred.PrivateKeyAssertion{Key: k, Now: func() time.Time { return now }}
	req := clientcred.AssertionRequest{ClientID: "worker", TokenURL: "https://auth.example.com/oauth/token"}
	jtis := map[string]bool{}
	for range 2 {
		tok, err := a.Assertion(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(tok, ".")
		hdr, _ := decodeSeg(parts[0])
		claims, _ := decodeSeg(parts[1])
		if hdr["kid"] != "worker-2026" || hdr["alg"] != "ES256" || hdr["typ"] != "JWT" {
			t.Errorf("header = %v", hdr)
		}
		if claims["iss"] != "worker" || claims["sub"] != "worker" || claims["aud"] != req.TokenURL ||
			claims["exp"] != float64(now.Add(clientcred.DefaultAssertionLifetime).Unix()) {
			t.Errorf("claims = %v", claims)
		}
		jtis[claims["jti"].(string)] = true
	}
	if len(jtis) != 2 {
		t.Errorf("two assertions share a jti")
	}
	if _, err := (&clientcred.PrivateKeyAssertion{Key: k, Lifetime: time.Hour}).Assertion(context.Background(), req); err == nil {
		t.Errorf("Lifetime of an hour accepted; want at most %v", clientcred.MaxAssertionLifetime)
	}
}

func decodeSeg(s string) (map[string]any, error) {
	b, err := jwtB64(s)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

func jwtB64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
