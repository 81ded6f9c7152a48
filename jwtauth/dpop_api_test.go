package jwtauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/clientaddr"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/replay"
)

// dpopAPI is a resource server that accepts DPoP-bound and bearer tokens
// of testIss for testAud, tokens signed by testKeys.ec, proofs at dpopNow.
type dpopAPI struct {
	handler http.Handler
	nonces  *jwtauth.HMACNonces
}

func newDPoPAPI(t testing.TB, edit func(*jwtauth.Config)) *dpopAPI {
	t.Helper()
	clock := func() time.Time { return dpopNow }
	cfg := jwtauth.Config{
		Issuer: testIss, Audiences: []string{testAud}, Algorithms: []string{"ES256"},
		Keys:           jwk.NewStaticKeySet(jwk.NewSet(pubKey(t, &testKeys.ec.PublicKey, "ec1"))),
		RequiredScopes: []string{"read:messages"},
		Now:            clock,
		DPoP:           &jwtauth.DPoPVerifier{Replay: &replay.Memory{Now: clock}, Now: clock},
		PublicURL:      "https://api.example.com",
	}
	if edit != nil {
		edit(&cfg)
	}
	tokens, err := jwtauth.NewAccessTokens(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{tokens}}
	api := &dpopAPI{handler: m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := m2m.FromContext(r.Context())
		w.Write([]byte(p.Scheme + " " + p.ClientID))
	}))}
	if cfg.DPoP.Nonces != nil {
		api.nonces = cfg.DPoP.Nonces.(*jwtauth.HMACNonces)
	}
	return api
}

// boundToken is an access token bound to the proof key testKeys.other.
func boundToken(t testing.TB, extra ...any) string {
	t.Helper()
	jkt := pubKey(t, &testKeys.other.PublicKey, "").Thumbprint
	c := with(baseClaims(), "iat", dpopNow.Unix()-10, "exp", dpopNow.Unix()+3600, "cnf", map[string]any{"jkt": jkt})
	return mint(t, "ES256", "ec1", "at+jwt", testKeys.ec, with(c, extra...))
}

// apiProof is a proof by testKeys.other for token, method and url.
func apiProof(t testing.TB, jti, method, url, token string, extra ...any) string {
	t.Helper()
	c := map[string]any{"jti": jti, "htm": method, "htu": url, "iat": dpopNow.Unix(), "ath": ath(token)}
	return makeProof(t, proofSpec{key: testKeys.other, claims: with(c, extra...)})
}

func TestAccessTokensDPoP(t *testing.T) {
	const url = "https://api.example.com/v1/things"
	bound := boundToken(t)
	unbound := mint(t, "ES256", "ec1", "at+jwt", testKeys.ec, with(baseClaims(), "iat", dpopNow.Unix()-10, "exp", dpopNow.Unix()+3600))
	certBound := boundToken(t, "cnf", map[string]any{"x5t#S256": "abc"})
	bothBound := boundToken(t, "cnf", map[string]any{"jkt": pubKey(t, &testKeys.other.PublicKey, "").Thumbprint, "x5t#S256": "abc"})
	noScope := boundToken(t, "scope", "other")
	used := apiProof(t, "used-once-abcdefgh", "GET", url, bound)
	api := newDPoPAPI(t, nil)
	{ // spend it
		r := httptest.NewRequest("GET", "http://10.0.0.7:8080/v1/things", nil)
		r.Header.Set("Authorization", "DPoP "+bound)
		r.Header.Set("DPoP", used)
		w := httptest.NewRecorder()
		api.handler.ServeHTTP(w, r)
		if w.Code != 200 {
			t.Fatalf("first use: %d %s", w.Code, w.Body)
		}
	}
	wrongAth := makeProof(t, proofSpec{key: testKeys.other, claims: map[string]any{
		"jti": "wrong-ath-abcdefgh", "htm": "GET", "htu": url, "iat": dpopNow.Unix(), "ath": ath(unbound)}})
	tests := []struct {
		name, method, target string
		authz                string
		proofs               []string
		status               int
		body                 string // the JSON error code, or the response
		challenges           []string
	}{
		{name: "DPoP token with its proof", authz: "DPoP " + bound,
			proofs: []string{apiProof(t, "ok-1-abcdefghijkl", "GET", url, bound)}, status: 200, body: "dpop client-1"},
		{name: "scheme in lower case, query ignored", target: "/v1/things?page=2", authz: "dpop " + bound,
			proofs: []string{apiProof(t, "ok-2-abcdefghijkl", "GET", url, bound)}, status: 200, body: "dpop client-1"},
		{name: "POST", method: "POST", authz: "DPoP " + bound,
			proofs: []string{apiProof(t, "ok-3-abcdefghijkl", "POST", url, bound)}, status: 200, body: "dpop client-1"},
		{name: "unbound token as Bearer", authz: "Bearer " + unbound, status: 200, body: "bearer client-1"},
		{name: "no credentials", status: 401, body: "missing_credentials",
			challenges: []string{`DPoP algs="ES256 ES384 ES512 EdDSA PS256 RS256"`, `Bearer`}},
		{name: "bound token as Bearer", authz: "Bearer " + bound, status: 401, body: "bad_credentials",
			challenges: []string{`DPoP algs="ES256 ES384 ES512 EdDSA PS256 RS256"`, `Bearer error="invalid_token", error_description="the token is bound to a key (cnf) and is not accepted as a bearer token"`}},
		{name: "bound token as Bearer with its proof", authz: "Bearer " + bound,
			proofs: []string{apiProof(t, "bearer-abcdefghijkl", "GET", url, bound)}, status: 401, body: "bad_credentials"},
		{name: "DPoP token without proof", authz: "DPoP " + bound, status: 401, body: "invalid_dpop_proof",
			challenges: []string{`DPoP algs="ES256 ES384 ES512 EdDSA PS256 RS256", error="invalid_dpop_proof", error_description="DPoP proof: the request has no DPoP header"`, `Bearer`}},
		{name: "two proofs", authz: "DPoP " + bound, proofs: []string{
			apiProof(t, "two-1-abcdefghijkl", "GET", url, bound), apiProof(t, "two-2-abcdefghijkl", "GET", url, bound)},
			status: 401, body: "invalid_dpop_proof"},
		{name: "replayed proof", authz: "DPoP " + bound, proofs: []string{used}, status: 401, body: "invalid_dpop_proof"},
		{name: "proof for another URL", authz: "DPoP " + bound,
			proofs: []string{apiProof(t, "url-abcdefghijkl", "GET", "https://api.example.com/v1/other", bound)}, status: 401, body: "invalid_dpop_proof"},
		{name: "proof for another host", authz: "DPoP " + bound,
			proofs: []string{apiProof(t, "host-abcdefghijkl", "GET", "http://10.0.0.7:8080/v1/things", bound)}, status: 401, body: "invalid_dpop_proof"},
		{name: "proof for another method", method: "DELETE", authz: "DPoP " + bound,
			proofs: []string{apiProof(t, "method-abcdefghijkl", "GET", url, bound)}, status: 401, body: "invalid_dpop_proof"},
		{name: "proof from another key", authz: "DPoP " + bound,
			proofs: []string{makeProof(t, proofSpec{claims: map[string]any{"jti": "key-abcdefghijkl", "htm": "GET", "htu": url, "iat": dpopNow.Unix(), "ath": ath(bound)}})},
			status: 401, body: "invalid_dpop_proof"},
		{name: "proof for another token", authz: "DPoP " + bound, proofs: []string{wrongAth}, status: 401, body: "invalid_dpop_proof"},
		{name: "proof without ath", authz: "DPoP " + bound,
			proofs: []string{makeProof(t, proofSpec{key: testKeys.other, claims: map[string]any{"jti": "noath-abcdefghijkl", "htm": "GET", "htu": url, "iat": dpopNow.Unix()}})},
			status: 401, body: "invalid_dpop_proof"},
		{name: "stale proof", authz: "DPoP " + bound,
			proofs: []string{apiProof(t, "stale-abcdefghijkl", "GET", url, bound, "iat", dpopNow.Unix()-3600)}, status: 401, body: "invalid_dpop_proof"},
		{name: "unbound token as DPoP", authz: "DPoP " + unbound,
			proofs: []string{apiProof(t, "unbound-abcdefghijkl", "GET", url, unbound)}, status: 401, body: "bad_credentials",
			challenges: []string{`DPoP algs="ES256 ES384 ES512 EdDSA PS256 RS256", error="invalid_token", error_description="the token is not bound to a DPoP key (no cnf.jkt): send it as a bearer token"`, `Bearer`}},
		{name: "certificate-bound token as DPoP", authz: "DPoP " + certBound,
			proofs: []string{apiProof(t, "cert-abcdefghijkl", "GET", url, certBound)}, status: 401, body: "bad_credentials"},
		{name: "token bound twice as DPoP", authz: "DPoP " + bothBound,
			proofs: []string{apiProof(t, "both-abcdefghijkl", "GET", url, bothBound)}, status: 401, body: "bad_credentials"},
		{name: "forged token as DPoP", authz: "DPoP " + bound[:len(bound)-4] + "AAAA",
			proofs: []string{apiProof(t, "forged-abcdefghijkl", "GET", url, bound[:len(bound)-4]+"AAAA")}, status: 401, body: "bad_signature"},
		{name: "DPoP without token", authz: "DPoP", status: 401, body: "malformed"},
		{name: "lacks scope", authz: "DPoP " + noScope,
			proofs: []string{apiProof(t, "scope-abcdefghijkl", "GET", url, noScope)}, status: 403, body: "insufficient_scope",
			challenges: []string{`DPoP algs="ES256 ES384 ES512 EdDSA PS256 RS256", error="insufficient_scope", error_description="the token lacks a required scope", scope="read:messages"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method, target := tc.method, tc.target
			if method == "" {
				method = "GET"
			}
			if target == "" {
				target = "/v1/things"
			}
			r := httptest.NewRequest(method, "http://10.0.0.7:8080"+target, nil)
			if tc.authz != "" {
				r.Header.Set("Authorization", tc.authz)
			}
			for _, p := range tc.proofs {
				r.Header.Add("DPoP", p)
			}
			w := httptest.NewRecorder()
			api.handler.ServeHTTP(w, r)
			body := w.Body.String()
			if tc.status != 200 {
				var eb httpauth.ErrorBody
				if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil {
					t.Fatalf("body %q: %v", body, err)
				}
				body = eb.Error
			}
			if w.Code != tc.status || body != tc.body {
				t.Errorf("%s %s = %d %q; want %d %q", method, target, w.Code, body, tc.status, tc.body)
			}
			if got := w.Header().Values("WWW-Authenticate"); tc.challenges != nil && strings.Join(got, "\n") != strings.Join(tc.challenges, "\n") {
				t.Errorf("WWW-Authenticate = %q; want %q", got, tc.challenges)
			}
			if n := w.Header().Get("DPoP-Nonce"); n != "" {
				t.Errorf("DPoP-Nonce = %q without nonces", n)
			}
		})
	}
}

func TestAccessTokensDPoPNonce(t *testing.T) {
	const url = "https://api.example.com/v1/things"
	clock := func() time.Time { return dpopNow }
	api := newDPoPAPI(t, func(c *jwtauth.Config) {
		c.DPoP.Nonces = &jwtauth.HMACNonces{Secrets: []m2m.Secret{m2m.Secret(strings.Repeat("k", 32))}, Window: time.Minute, Now: clock}
	})
	bound := boundToken(t)
	send := func(proof string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/v1/things", nil)
		r.Header.Set("Authorization", "DPoP "+bound)
		r.Header.Set("DPoP", proof)
		w := httptest.NewRecorder()
		api.handler.ServeHTTP(w, r)
		return w
	}
	w := send(apiProof(t, "nonce-1-abcdefghijkl", "GET", url, bound))
	nonce := w.Header().Get("DPoP-Nonce")
	want := `DPoP algs="ES256 ES384 ES512 EdDSA PS256 RS256", error="use_dpop_nonce", error_description="the DPoP proof must carry the server's nonce"`
	if w.Code != 401 || nonce == "" || w.Header().Values("WWW-Authenticate")[0] != want {
		t.Fatalf("proof without nonce = %d, DPoP-Nonce %q, %q; want 401, a nonce, %q", w.Code, nonce, w.Header().Values("WWW-Authenticate"), want)
	}
	stale := func() string {
		old := &jwtauth.HMACNonces{Secrets: api.nonces.Secrets, Window: time.Minute, Now: func() time.Time { return dpopNow.Add(-10 * time.Minute) }}
		n, _ := old.Nonce(t.Context())
		return n
	}()
	w = send(apiProof(t, "nonce-2-abcdefghijkl", "GET", url, bound, "nonce", stale))
	if w.Code != 401 || w.Header().Get("DPoP-Nonce") != nonce {
		t.Fatalf("proof with a stale nonce = %d, DPoP-Nonce %q; want 401 and %q", w.Code, w.Header().Get("DPoP-Nonce"), nonce)
	}
	if w := send(apiProof(t, "nonce-3-abcdefghijkl", "GET", url, bound, "nonce", nonce)); w.Code != 200 {
		t.Fatalf("proof with the fresh nonce = %d %s; want 200", w.Code, w.Body)
	}
}

func TestAccessTokensDPoPBehindProxy(t *testing.T) {
	api := newDPoPAPI(t, func(c *jwtauth.Config) {
		c.PublicURL = ""
		c.TrustedProxies = clientaddr.TrustedProxies{netip.MustParsePrefix("10.0.0.0/8")}
	})
	bound := boundToken(t)
	tests := []struct {
		name, peer, proto, host, htu string
		status                       int
	}{
		{"through the proxy", "10.0.0.1:1", "https", "api.example.com", "https://api.example.com/v1/things", 200},
		{"proxy names another host", "10.0.0.1:1", "https", "other.example", "https://api.example.com/v1/things", 401},
		{"proxy names plain http", "10.0.0.1:1", "http", "api.example.com", "https://api.example.com/v1/things", 401},
		{"direct, headers ignored", "198.51.100.1:1", "https", "api.example.com", "https://api.example.com/v1/things", 401},
		{"proxy without headers", "10.0.0.1:1", "", "", "https://api.example.com/v1/things", 401},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/things", nil)
			r.RemoteAddr = tc.peer
			r.Host = "api.example.com" // never read
			r.Header.Set("Authorization", "DPoP "+bound)
			r.Header.Set("DPoP", apiProof(t, "proxy-abcdefghijkl-"+string(rune('a'+i)), "GET", tc.htu, bound))
			if tc.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tc.proto)
				r.Header.Set("X-Forwarded-Host", tc.host)
			}
			w := httptest.NewRecorder()
			api.handler.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Errorf("GET from %s (%s://%s) = %d %s; want %d", tc.peer, tc.proto, tc.host, w.Code, w.Body, tc.status)
			}
		})
	}
}

func TestAccessTokensDPoPConfig(t *testing.T) {
	clock := func() time.Time { return dpopNow }
	tests := []struct {
		name string
		edit func(*jwtauth.Config)
		want string // "" means valid
	}{
		{"public URL", nil, ""},
		{"trusted proxies", func(c *jwtauth.Config) {
			c.PublicURL = ""
			c.TrustedProxies = clientaddr.TrustedProxies{netip.MustParsePrefix("10.0.0.0/8")}
		}, ""},
		{"neither", func(c *jwtauth.Config) { c.PublicURL = "" }, "DPoP needs PublicURL or TrustedProxies"},
		{"public URL with a query", func(c *jwtauth.Config) { c.PublicURL = "https://api.example.com/?x" }, "PublicURL is not an absolute"},
		{"relative public URL", func(c *jwtauth.Config) { c.PublicURL = "/api" }, "PublicURL is not an absolute"},
		{"verifier without replay cache", func(c *jwtauth.Config) { c.DPoP = &jwtauth.DPoPVerifier{Now: clock} }, "no Replay cache"},
		{"public URL without DPoP", func(c *jwtauth.Config) { c.DPoP = nil }, "PublicURL or TrustedProxies without DPoP"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := jwtauth.Config{
				Issuer: testIss, Audiences: []string{testAud}, Algorithms: []string{"ES256"},
				Keys:      jwk.NewStaticKeySet(jwk.NewSet(pubKey(t, &testKeys.ec.PublicKey, "ec1"))),
				DPoP:      &jwtauth.DPoPVerifier{Replay: &replay.Memory{Now: clock}, Now: clock},
				PublicURL: "https://api.example.com",
			}
			if tc.edit != nil {
				tc.edit(&cfg)
			}
			_, err := jwtauth.NewAccessTokens(cfg)
			if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewAccessTokens = %v; want an error containing %q", err, tc.want)
			}
		})
	}
}

// revokedJTIs is a store.Revocations holding a fixed set.
type revokedJTIs map[string]bool

func (r revokedJTIs) RevokeToken(context.Context, string, time.Time) error { return nil }
func (r revokedJTIs) IsRevoked(_ context.Context, jti string) (bool, error) {
	return r[jti], nil
}

// TestRevocableTokensDPoP: RevocableTokens over an AccessTokens with DPoP
// accepts a DPoP-bound token with its proof, refuses it once revoked
// (under the DPoP scheme), and offers both challenges.
func TestRevocableTokensDPoP(t *testing.T) {
	const url = "https://api.example.com/v1/things"
	clock := func() time.Time { return dpopNow }
	tokens, err := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer: testIss, Audiences: []string{testAud}, Algorithms: []string{"ES256"},
		Keys: jwk.NewStaticKeySet(jwk.NewSet(pubKey(t, &testKeys.ec.PublicKey, "ec1"))),
		Now:  clock, DPoP: &jwtauth.DPoPVerifier{Replay: &replay.Memory{Now: clock}, Now: clock},
		PublicURL: "https://api.example.com",
	})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := jwtauth.NewRevocableTokens(tokens, jwtauth.RevocationConfig{Revocations: revokedJTIs{"gone": true}, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{rt}}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	good, revoked := boundToken(t, "jti", "kept"), boundToken(t, "jti", "gone")
	for _, tc := range []struct {
		name, token, jti string
		status           int
		body             string
	}{
		{"not revoked", good, "rev-1-abcdefghijkl", 200, ""},
		{"revoked", revoked, "rev-2-abcdefghijkl", 401, "revoked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/things", nil)
			r.Header.Set("Authorization", "DPoP "+tc.token)
			r.Header.Set("DPoP", apiProof(t, tc.jti, "GET", url, tc.token))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.body) {
				t.Fatalf("GET = %d %s; want %d %q", w.Code, w.Body, tc.status, tc.body)
			}
			if tc.status == 401 {
				want := `DPoP algs="ES256 ES384 ES512 EdDSA PS256 RS256", error="invalid_token", error_description="the token has been revoked"|Bearer`
				if got := strings.Join(w.Header().Values("WWW-Authenticate"), "|"); got != want {
					t.Errorf("WWW-Authenticate = %q; want %q", got, want)
				}
			}
		})
	}
}
