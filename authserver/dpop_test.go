package authserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/replay"
	"github.com/m2mkit/m2m/store"
)

// dpopClient makes DPoP proofs with one P-256 key.
type dpopClient struct {
	key *ecdsa.PrivateKey
	pub *jwk.Key
	jwk json.RawMessage
	n   int
}

func newDPoPClient(t testing.TB) *dpopClient {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, err := jwk.FromPublic(&key.PublicKey, "", "")
	if err != nil {
		t.Fatal(err)
	}
	set, _ := jwk.MarshalSet(*pub)
	var doc struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(set, &doc); err != nil {
		t.Fatal(err)
	}
	return &dpopClient{key: key, pub: pub, jwk: doc.Keys[0]}
}

func (c *dpopClient) proof(t testing.TB, method, htu string, iat time.Time, extra map[string]any) string {
	t.Helper()
	c.n++
	claims := map[string]any{"jti": "jti-" + strings.Repeat("x", c.n), "htm": method, "htu": htu, "iat": iat.Unix()}
	for k, v := range extra {
		claims[k] = v
	}
	h, _ := json.Marshal(map[string]any{"alg": "ES256", "typ": "dpop+jwt", "jwk": c.jwk})
	p, _ := json.Marshal(claims)
	proof, err := jws.Sign("ES256", c.key, h, p)
	if err != nil {
		t.Fatal(err)
	}
	return proof
}

func (f *fixture) postDPoP(form url.Values, proofs ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Host = "evil.example" // never used for htu
	for _, p := range proofs {
		r.Header.Add("DPoP", p)
	}
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, r)
	return w
}

func TestTokenDPoP(t *testing.T) {
	f := newFixture(t, func(cfg *authserver.Config, _ *store.Client) {
		cfg.DPoP = &jwtauth.DPoPVerifier{Replay: &replay.Memory{Now: cfg.Now}, Now: cfg.Now}
	})
	c := newDPoPClient(t)
	tokenURL := testIssuer + "/oauth/token"
	now := f.clock.Now()
	replayed := c.proof(t, "POST", tokenURL, now, nil)

	tests := []struct {
		name     string
		proofs   []string
		wantType string // token_type, or "" for a refusal
		wantErr  string
	}{
		{name: "no proof: Bearer", wantType: "Bearer"},
		{name: "valid proof: DPoP", proofs: []string{replayed}, wantType: "DPoP"},
		{name: "replayed proof", proofs: []string{replayed}, wantErr: "invalid_dpop_proof"},
		{name: "proof for another URL", proofs: []string{c.proof(t, "POST", "https://evil.example/oauth/token", now, nil)}, wantErr: "invalid_dpop_proof"},
		{name: "proof for another method", proofs: []string{c.proof(t, "GET", tokenURL, now, nil)}, wantErr: "invalid_dpop_proof"},
		{name: "stale proof", proofs: []string{c.proof(t, "POST", tokenURL, now.Add(-2*time.Minute), nil)}, wantErr: "invalid_dpop_proof"},
		{name: "two proofs", proofs: []string{c.proof(t, "POST", tokenURL, now, nil), c.proof(t, "POST", tokenURL, now, nil)}, wantErr: "invalid_dpop_proof"},
		{name: "garbage proof", proofs: []string{"not.a.proof"}, wantErr: "invalid_dpop_proof"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := f.postDPoP(f.creds("audience", "https://api.example.test"), tc.proofs...)
			tr := decodeResponse(t, w)
			if tc.wantErr != "" {
				if w.Code != http.StatusBadRequest || tr.Error != tc.wantErr {
					t.Fatalf("token request = %d %q; want 400 %s", w.Code, w.Body, tc.wantErr)
				}
				return
			}
			if w.Code != http.StatusOK || tr.TokenType != tc.wantType {
				t.Fatalf("token request = %d %q; want 200 token_type %s", w.Code, w.Body, tc.wantType)
			}
			_, claims := f.signer.verify(t, tr.AccessToken)
			cnf, _ := claims["cnf"].(map[string]any)
			if tc.wantType == "DPoP" {
				if cnf["jkt"] != c.pub.Thumbprint {
					t.Errorf("token cnf = %v; want jkt %s", claims["cnf"], c.pub.Thumbprint)
				}
			} else if claims["cnf"] != nil {
				t.Errorf("Bearer token cnf = %v; want none", claims["cnf"])
			}
		})
	}
}

func TestTokenDPoPNonce(t *testing.T) {
	nonces := &jwtauth.HMACNonces{Secrets: []m2m.Secret{m2m.Secret(strings.Repeat("k", 32))}}
	f := newFixture(t, func(cfg *authserver.Config, _ *store.Client) {
		nonces.Now = cfg.Now
		cfg.DPoP = &jwtauth.DPoPVerifier{Replay: &replay.Memory{Now: cfg.Now}, Nonces: nonces, Now: cfg.Now}
	})
	c := newDPoPClient(t)
	tokenURL := testIssuer + "/oauth/token"
	w := f.postDPoP(f.creds("audience", "https://api.example.test"), c.proof(t, "POST", tokenURL, f.clock.Now(), nil))
	nonce := w.Header().Get("DPoP-Nonce")
	if tr := decodeResponse(t, w); w.Code != http.StatusBadRequest || tr.Error != "use_dpop_nonce" || nonce == "" {
		t.Fatalf("token request without nonce = %d %q, DPoP-Nonce %q; want 400 use_dpop_nonce and a nonce", w.Code, w.Body, nonce)
	}
	w = f.postDPoP(f.creds("audience", "https://api.example.test"), c.proof(t, "POST", tokenURL, f.clock.Now(), map[string]any{"nonce": nonce}))
	if tr := decodeResponse(t, w); w.Code != http.StatusOK || tr.TokenType != "DPoP" {
		t.Fatalf("token request with nonce = %d %q; want 200 DPoP", w.Code, w.Body)
	}
	if err := nonces.CheckNonce(context.Background(), nonce); err != nil {
		t.Fatal(err)
	}
}

func TestMetadataDPoP(t *testing.T) {
	for _, tc := range []struct {
		name string
		dpop *jwtauth.DPoPVerifier
		want []string
	}{
		{name: "no DPoP"},
		{name: "default algorithms", dpop: &jwtauth.DPoPVerifier{Replay: &replay.Memory{}}, want: jwtauth.DefaultDPoPAlgorithms},
		{name: "ES256 only", dpop: &jwtauth.DPoPVerifier{Replay: &replay.Memory{}, Algorithms: []string{"ES256"}}, want: []string{"ES256"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(cfg *authserver.Config, _ *store.Client) { cfg.DPoP = tc.dpop })
			w := httptest.NewRecorder()
			f.srv.ServeHTTP(w, httptest.NewRequest("GET", "/.well-known/oauth-authorization-server", nil))
			var doc struct {
				Algs []string `json:"dpop_signing_alg_values_supported"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(doc.Algs, tc.want) {
				t.Errorf("dpop_signing_alg_values_supported = %v; want %v", doc.Algs, tc.want)
			}
		})
	}
	if _, err := authserver.New(authserver.Config{Issuer: testIssuer, Clients: &fakeClients{}, Signer: newTestSigner(t),
		DPoP: &jwtauth.DPoPVerifier{}}); err == nil {
		t.Errorf("New(DPoP without a replay cache) = nil error; want a configuration error")
	}
}
