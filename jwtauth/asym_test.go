package jwtauth_test

import (
	"bytes"
	"context"
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
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
)

// asymKeys are test keys: ES256 and EdDSA generated here, RS256 the
// throwaway k1 key of the Auth0 vectors.
type asymKeys struct {
	ec    *ecdsa.PrivateKey
	ed    ed25519.PrivateKey
	rsa   *rsa.PrivateKey
	other *ecdsa.PrivateKey
}

var testKeys = func() asymKeys {
	var k asymKeys
	k.ec, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k.other, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, k.ed, _ = ed25519.GenerateKey(rand.Reader)
	data, err := os.ReadFile("testdata/auth0.json")
	if err != nil {
		panic(err)
	}
	var top struct {
		Keys map[string]string `json:"test_private_keys_pem"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		panic(err)
	}
	b, _ := pem.Decode([]byte(top.Keys["k1"]))
	pk, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		panic(err)
	}
	k.rsa = pk.(*rsa.PrivateKey)
	return k
}()

func pubKey(t testing.TB, pub any, kid string) jwk.Key {
	t.Helper()
	k, err := jwk.FromPublic(pub, kid, "")
	if err != nil {
		t.Fatal(err)
	}
	return *k
}

// mint signs claims with a header of alg, kid and typ ("" omits them).
func mint(t testing.TB, alg, kid, typ string, key any, claims map[string]any) string {
	t.Helper()
	payload, _ := json.Marshal(claims)
	tok, err := jws.Sign(alg, key, jws.HeaderJSON(alg, kid, typ), payload)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

const (
	testIss = "https://issuer.example/"
	testAud = "https://api.example.com"
)

func baseClaims() map[string]any {
	return map[string]any{
		"iss": testIss, "aud": testAud, "sub": "client-1@clients", "azp": "client-1",
		"client_id": "client-1", "iat": 1700000000, "exp": 1700003600, "jti": "j1",
		"scope": "read:messages write:messages",
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func TestAccessTokens(t *testing.T) {
	k := testKeys
	ecK, edK, rsaK := pubKey(t, &k.ec.PublicKey, "ec1"), pubKey(t, k.ed.Public(), "ed1"), pubKey(t, &k.rsa.PublicKey, "rs1")
	bare := pubKey(t, &k.ec.PublicKey, "")
	three := jwk.NewSet(ecK, edK, rsaK)
	now := time.Unix(1700000100, 0)
	ecPEM, _ := x509.MarshalPKIXPublicKey(&k.ec.PublicKey)
	hmacWithPublic, _ := jws.Sign("HS256", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecPEM}), jws.HeaderJSON("HS256", "ec1", ""), []byte(`{"iss":"https://issuer.example/","aud":"https://api.example.com","exp":1700003600}`))
	embedded := func() string {
		// A header with jku, x5u and an embedded jwk of the attacker's key:
		// never used, so the token needs a key from the set.
		h := `{"alg":"ES256","kid":"ec1","jku":"https://evil.example/jwks","x5u":"https://evil.example/c","jwk":{"kty":"EC","crv":"P-256"}}`
		p, _ := json.Marshal(baseClaims())
		tok, _ := jws.Sign("ES256", k.other, []byte(h), p)
		return tok
	}()
	tests := []struct {
		name    string
		cfg     func(*jwtauth.Config)
		token   string
		reason  m2m.Reason // "" means accepted
		client  string
		scopes  string
		status  int
		skipSet bool
	}{
		{name: "ES256", token: mint(t, "ES256", "ec1", "JWT", k.ec, baseClaims()), client: "client-1", scopes: "read:messages write:messages"},
		{name: "EdDSA", token: mint(t, "EdDSA", "ed1", "", k.ed, baseClaims()), client: "client-1", scopes: "read:messages write:messages"},
		{name: "RS256", token: mint(t, "RS256", "rs1", "", k.rsa, baseClaims()), client: "client-1", scopes: "read:messages write:messages"},
		{name: "alg not allowed", cfg: func(c *jwtauth.Config) { c.Algorithms = []string{"ES256"} }, token: mint(t, "EdDSA", "ed1", "", k.ed, baseClaims()), reason: m2m.ReasonBadAlgorithm},
		{name: "HMAC with the public key", cfg: func(c *jwtauth.Config) { c.Algorithms = []string{"ES256"} }, token: hmacWithPublic, reason: m2m.ReasonBadAlgorithm},
		{name: "none", token: forgeToken(`{"alg":"none","kid":"ec1"}`, baseClaims(), nil), reason: m2m.ReasonBadAlgorithm},
		{name: "kid names a key of another type", token: mint(t, "ES256", "ed1", "", k.ec, baseClaims()), reason: m2m.ReasonBadAlgorithm},
		{name: "no kid, several keys", token: mint(t, "ES256", "", "", k.ec, baseClaims()), reason: m2m.ReasonUnknownKey},
		{name: "no kid, one unnamed key", cfg: func(c *jwtauth.Config) { c.Keys = jwk.NewStaticKeySet(jwk.NewSet(bare)) }, token: mint(t, "ES256", "", "", k.ec, baseClaims())},
		{name: "no kid, one named key", cfg: func(c *jwtauth.Config) { c.Keys = jwk.NewStaticKeySet(jwk.NewSet(ecK)) }, token: mint(t, "ES256", "", "", k.ec, baseClaims()), reason: m2m.ReasonUnknownKey},
		{name: "unnamed entry ignored, kid of another entry verifies", cfg: func(c *jwtauth.Config) { c.Keys = jwk.NewStaticKeySet(jwk.NewSet(bare, edK)) }, token: mint(t, "EdDSA", "ed1", "", k.ed, baseClaims())},
		{name: "unknown kid", token: mint(t, "ES256", "zz", "", k.ec, baseClaims()), reason: m2m.ReasonUnknownKey},
		{name: "wrong key same kid", token: mint(t, "ES256", "ec1", "", k.other, baseClaims()), reason: m2m.ReasonBadSignature},
		{name: "embedded jwk, jku, x5u ignored", token: embedded, reason: m2m.ReasonBadSignature},
		{name: "too large", token: strings.Repeat("a", jwtauth.DefaultMaxTokenBytes+1), reason: m2m.ReasonTooLarge},
		{name: "no exp", token: mint(t, "ES256", "ec1", "", k.ec, with(baseClaims(), "exp", nil)), reason: m2m.ReasonMissingClaim},
		{name: "no aud", token: mint(t, "ES256", "ec1", "", k.ec, with(baseClaims(), "aud", nil)), reason: m2m.ReasonMissingClaim},
		{name: "exp == now - leeway", cfg: func(c *jwtauth.Config) { c.Leeway = 100 * time.Second }, token: mint(t, "ES256", "ec1", "", k.ec, with(baseClaims(), "exp", 1700000000)), reason: m2m.ReasonExpired},
		{name: "exp one second inside leeway", cfg: func(c *jwtauth.Config) { c.Leeway = 100 * time.Second }, token: mint(t, "ES256", "ec1", "", k.ec, with(baseClaims(), "exp", 1700000001))},
		{name: "iat beyond leeway", cfg: func(c *jwtauth.Config) { c.Leeway = jwtauth.NoLeeway }, token: mint(t, "ES256", "ec1", "", k.ec, with(baseClaims(), "iat", 1700000101)), reason: m2m.ReasonNotYetValid},
		{name: "wrong issuer", token: mint(t, "ES256", "ec1", "", k.ec, with(baseClaims(), "iss", "https://issuer.example")), reason: m2m.ReasonWrongIssuer},
		{name: "wrong audience", token: mint(t, "ES256", "ec1", "", k.ec, with(baseClaims(), "aud", []string{"x", "y"})), reason: m2m.ReasonWrongAudience},
		{name: "required scope", cfg: func(c *jwtauth.Config) { c.RequiredScopes = []string{"admin"} }, token: mint(t, "ES256", "ec1", "", k.ec, baseClaims()), reason: m2m.ReasonInsufficientScope, status: 403},
		{name: "auth0 permissions count as scopes", cfg: func(c *jwtauth.Config) { c.Profile = jwtauth.ProfileAuth0; c.RequiredScopes = []string{"admin"} },
			token: mint(t, "ES256", "ec1", "", k.ec, with(baseClaims(), "permissions", []string{"admin"}, "client_id", nil)), client: "client-1", scopes: "read:messages write:messages admin"},
		{name: "client allowed", cfg: func(c *jwtauth.Config) { c.AllowedClients = []string{"client-1"} }, token: mint(t, "ES256", "ec1", "", k.ec, baseClaims()), client: "client-1", scopes: "read:messages write:messages"},
		{name: "client not allowed", cfg: func(c *jwtauth.Config) { c.AllowedClients = []string{"client-2"} }, token: mint(t, "ES256", "ec1", "", k.ec, baseClaims()), reason: m2m.ReasonForbidden, status: 403},
		{name: "rfc9068 needs at+jwt", cfg: func(c *jwtauth.Config) { c.Profile = jwtauth.ProfileRFC9068 }, token: mint(t, "ES256", "ec1", "JWT", k.ec, baseClaims()), reason: m2m.ReasonMalformed},
		{name: "rfc9068 at+jwt", cfg: func(c *jwtauth.Config) { c.Profile = jwtauth.ProfileRFC9068 }, token: mint(t, "ES256", "ec1", "at+jwt", k.ec, baseClaims()), client: "client-1", scopes: "read:messages write:messages"},
		{name: "rfc9068 needs jti", cfg: func(c *jwtauth.Config) { c.Profile = jwtauth.ProfileRFC9068 }, token: mint(t, "ES256", "ec1", "at+jwt", k.ec, with(baseClaims(), "jti", nil)), reason: m2m.ReasonMissingClaim},
		{name: "JWK alg restricts the key", cfg: func(c *jwtauth.Config) {
			c.Algorithms = []string{"PS256"}
			k, _ := jwk.FromPublic(&testKeys.rsa.PublicKey, "rs1", "RS256")
			c.Keys = jwk.NewStaticKeySet(jwk.NewSet(*k))
		}, token: mint(t, "PS256", "rs1", "", testKeys.rsa, baseClaims()), reason: m2m.ReasonBadAlgorithm},
		{name: "scp array", token: mint(t, "ES256", "ec1", "", k.ec, with(baseClaims(), "scope", nil, "scp", []string{"a", "b"})), client: "client-1", scopes: "a b"},
		{name: "scp string", token: mint(t, "ES256", "ec1", "", k.ec, with(baseClaims(), "scope", nil, "scp", "a b")), client: "client-1", scopes: "a b"},
		{name: "scope not a string", token: mint(t, "ES256", "ec1", "", k.ec, with(baseClaims(), "scope", 7)), reason: m2m.ReasonMalformed},
		// A DPoP- or mTLS-bound token sent as a bearer token (RFC 9449 7.1).
		{name: "DPoP-bound token as bearer", token: mint(t, "ES256", "ec1", "", k.ec, with(baseClaims(), "cnf", map[string]any{"jkt": "B5e2rDvzwcOIaklUnKuxBMj7hylxJHayFEVgoqGq4lY"})), reason: m2m.ReasonBadCredentials},
		{name: "certificate-bound token as bearer", token: mint(t, "ES256", "ec1", "", k.ec, with(baseClaims(), "cnf", map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"})), reason: m2m.ReasonBadCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := jwtauth.Config{
				Issuer: testIss, Audiences: []string{testAud}, Algorithms: []string{"ES256", "EdDSA", "RS256"},
				Keys: jwk.NewStaticKeySet(three), Now: func() time.Time { return now },
			}
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			at, err := jwtauth.NewAccessTokens(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for round := range 2 { // the second round exercises the cache
				vt, err := at.VerifyToken(context.Background(), tt.token)
				if tt.reason == "" {
					if err != nil {
						t.Fatalf("round %d: VerifyToken() = %v; want accepted", round, err)
					}
					if tt.client != "" && (vt.ClientID != tt.client || strings.Join(vt.Scopes, " ") != tt.scopes) {
						t.Errorf("VerifyToken() client %q scopes %q; want %q %q", vt.ClientID, vt.Scopes, tt.client, tt.scopes)
					}
					continue
				}
				var ce *m2m.CredentialError
				if !errors.As(err, &ce) || ce.Reason != tt.reason {
					t.Fatalf("round %d: VerifyToken() = %v; want reason %s", round, err, tt.reason)
				}
				if tt.status != 0 && ce.HTTPStatus() != tt.status {
					t.Errorf("status %d; want %d", ce.HTTPStatus(), tt.status)
				}
			}
		})
	}
}

func forgeToken(header string, claims map[string]any, sig []byte) string {
	e := base64.RawURLEncoding
	p, _ := json.Marshal(claims)
	return e.EncodeToString([]byte(header)) + "." + e.EncodeToString(p) + "." + e.EncodeToString(sig)
}

func TestAccessTokensConfig(t *testing.T) {
	ks := jwk.NewStaticKeySet(jwk.NewSet(pubKey(t, &testKeys.ec.PublicKey, "a")))
	tests := []struct {
		name string
		cfg  jwtauth.Config
		want string
	}{
		{"empty", jwtauth.Config{}, "no Issuer; no Audiences; no Algorithms; no Keys"},
		{"hmac", jwtauth.Config{Issuer: "i", Audiences: []string{"a"}, Algorithms: []string{"HS256"}, Keys: ks}, "needs a shared secret"},
		{"none", jwtauth.Config{Issuer: "i", Audiences: []string{"a"}, Algorithms: []string{"none"}, Keys: ks}, "unsupported algorithm"},
		{"profile", jwtauth.Config{Issuer: "i", Audiences: []string{"a"}, Algorithms: []string{"ES256"}, Keys: ks, Profile: "hydra"}, "unknown Profile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := jwtauth.NewAccessTokens(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewAccessTokens() = %v; want an error containing %q", err, tt.want)
			}
		})
	}
	if _, err := jwtauth.NewAuth0("", "tenant.auth0.com"); err == nil {
		t.Errorf("NewAuth0 with no audience: nil error")
	}
	if _, err := jwtauth.NewAuth0("aud", "https://t/x"); err == nil {
		t.Errorf("NewAuth0 with a URL path as domain: nil error")
	}
}

// countingKeys counts lookups on a KeySet.
type countingKeys struct {
	jwk.KeySet
	n atomic.Int64
}

func (c *countingKeys) Lookup(ctx context.Context, kid string) ([]jwk.Key, error) {
	c.n.Add(1)
	return c.KeySet.Lookup(ctx, kid)
}

// swappableKeys is a key set whose current set can be replaced.
type swappableKeys struct{ set atomic.Pointer[jwk.Set] }

func (s *swappableKeys) Lookup(_ context.Context, kid string) ([]jwk.Key, error) {
	return s.set.Load().Lookup(kid), nil
}
func (s *swappableKeys) Current() *jwk.Set { return s.set.Load() }

func TestVerificationCache(t *testing.T) {
	k1 := pubKey(t, &testKeys.ec.PublicKey, "k1")
	k2 := pubKey(t, testKeys.ed.Public(), "k2")
	sw := &swappableKeys{}
	sw.set.Store(jwk.NewSet(k1, k2))
	ck := &countingKeys{KeySet: sw}
	now := time.Unix(1700000100, 0)
	at, err := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer: testIss, Audiences: []string{testAud}, Algorithms: []string{"ES256", "EdDSA"},
		Keys: ck, Leeway: jwtauth.NoLeeway, Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok := mint(t, "ES256", "k1", "", testKeys.ec, baseClaims())
	first, err := at.VerifyToken(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		vt, err := at.VerifyToken(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		if vt != first {
			t.Errorf("VerifyToken() of a verified token made a new result; want the cached one")
		}
	}
	if got := ck.n.Load(); got != 4 {
		t.Errorf("key lookups = %d; want 4 (one per call: a cached result is re-checked against the set)", got)
	}
	// The token expires while cached: refused.
	now = time.Unix(1700003600, 0)
	if _, err := at.VerifyToken(ctx, tok); m2m.ReasonOf(err) != m2m.ReasonExpired {
		t.Errorf("cached token after exp: %v; want expired", err)
	}
	now = time.Unix(1700000100, 0)
	if _, err := at.VerifyToken(ctx, tok); err != nil {
		t.Fatalf("re-verify: %v", err)
	}
	// Its key leaves the set: the cached result is dropped and the token
	// refused.
	sw.set.Store(jwk.NewSet(k2))
	if _, err := at.VerifyToken(ctx, tok); m2m.ReasonOf(err) != m2m.ReasonUnknownKey {
		t.Errorf("cached token after its key left the set: %v; want unknown_key", err)
	}
	// A different key under the same kid does not keep the cache entry.
	sw.set.Store(jwk.NewSet(k1, k2))
	at.VerifyToken(ctx, tok)
	sw.set.Store(jwk.NewSet(pubKey(t, &testKeys.other.PublicKey, "k1"), k2))
	if _, err := at.VerifyToken(ctx, tok); m2m.ReasonOf(err) != m2m.ReasonBadSignature {
		t.Errorf("cached token after its kid was re-keyed: %v; want bad_signature", err)
	}
}

// TestRotationAtIssuer runs the verifier against an httptest issuer that
// publishes a JWKS, rotates its signing key (publishing the new key
// first), then retires the old one.
func TestRotationAtIssuer(t *testing.T) {
	// In a synctest bubble, with the issuer served in process, so that
	// synctest.Wait observes the end of a background refresh.
	synctest.Test(t, testRotationAtIssuer)
}

func testRotationAtIssuer(t *testing.T) {
	k1 := pubKey(t, &testKeys.ec.PublicKey, "2026-01")
	k2 := pubKey(t, testKeys.ed.Public(), "2026-02")
	var doc atomic.Value
	set := func(keys ...jwk.Key) {
		b, _ := jwk.MarshalSet(keys...)
		doc.Store(b)
	}
	set(k1)
	var fetches atomic.Int64
	issuer := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		fetches.Add(1)
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(bytes.NewReader(doc.Load().([]byte))), Request: r}, nil
	})}
	clk := time.Unix(1700000100, 0)
	var mu atomic.Int64
	mu.Store(clk.UnixNano())
	now := func() time.Time { return time.Unix(0, mu.Load()) }
	advance := func(d time.Duration) { mu.Add(int64(d)) }
	remote := &jwk.RemoteKeySet{URL: "https://issuer.example/.well-known/jwks.json", HTTPClient: issuer, Now: now}
	at, err := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer: testIss, Audiences: []string{testAud}, Algorithms: []string{"ES256", "EdDSA"},
		Keys: remote, Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{at}}
	call := func(tok string) int {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})).ServeHTTP(rec, r)
		return rec.Code
	}
	old := mint(t, "ES256", "2026-01", "", testKeys.ec, baseClaims())
	if got := call(old); got != 200 {
		t.Fatalf("old-key token: %d; want 200", got)
	}
	// The issuer publishes k2 and starts signing with it.
	set(k1, k2)
	advance(jwk.DefaultMinRefetchInterval)
	fresh := mint(t, "EdDSA", "2026-02", "", testKeys.ed, baseClaims())
	if got := call(fresh); got != 200 {
		t.Fatalf("new-key token after rotation: %d; want 200", got)
	}
	if got := call(old); got != 200 {
		t.Errorf("old-key token during overlap: %d; want 200", got)
	}
	// k1 retires; after the refresh interval the cached result for the
	// old token goes with it.
	set(k2)
	advance(jwk.DefaultRefreshInterval)
	call(fresh) // starts the background refresh, answers from the stale set
	synctest.Wait()
	if remote.Current().Has("2026-01", k1.Thumbprint) {
		t.Fatal("background refresh did not drop k1")
	}
	if got := call(old); got != 401 {
		t.Errorf("old-key token after retirement: %d; want 401", got)
	}
	if got := call(fresh); got != 200 {
		t.Errorf("new-key token after retirement: %d; want 200", got)
	}
	if got := fetches.Load(); got != 3 {
		t.Errorf("JWKS fetches = %d; want 3 (initial, unknown kid, background refresh)", got)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestPublicKeys(t *testing.T) {
	ec := pubKey(t, &testKeys.ec.PublicKey, "k1")
	v := &jwtauth.Validator{Algorithms: []string{"ES256", "HS256"}, SkipIssuerCheck: true, SkipAudienceCheck: true,
		Now: func() time.Time { return time.Unix(1700000000, 0) }}
	kf := jwtauth.PublicKeys(jwk.NewStaticKeySet(jwk.NewSet(ec)))
	good := mint(t, "ES256", "k1", "", testKeys.ec, map[string]any{"exp": 1700003600})
	if _, err := v.Verify(context.Background(), good, kf); err != nil {
		t.Errorf("Verify(ES256 via PublicKeys) = %v; want valid", err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&testKeys.ec.PublicKey)
	hs, _ := jws.Sign("HS256", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), jws.HeaderJSON("HS256", "k1", ""), []byte(`{"exp":1700003600}`))
	if _, err := v.Verify(context.Background(), hs, kf); m2m.ReasonOf(err) != m2m.ReasonBadAlgorithm {
		t.Errorf("Verify(HS256 MACed with the public key) = %v; want bad_algorithm (no key fits)", err)
	}
}

func TestAccessTokensChallenge(t *testing.T) {
	at, err := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer: testIss, Audiences: []string{testAud}, Algorithms: []string{"ES256"}, Realm: "api",
		Keys: jwk.NewStaticKeySet(jwk.NewSet(pubKey(t, &testKeys.ec.PublicKey, "k1"))), RequiredScopes: []string{"admin", "write"},
		Now: func() time.Time { return time.Unix(1700000100, 0) },
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, auth, want string
		status           int
	}{
		{"no token", "", `Bearer realm="api"`, 401},
		{"bad token", "Bearer abc", `Bearer realm="api", error="invalid_token", error_description="the token is not a well-formed JWS"`, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			(&httpauth.Middleware{Verifiers: []m2m.Verifier{at}}).Handler(http.NotFoundHandler()).ServeHTTP(w, r)
			if got := w.Header().Get("WWW-Authenticate"); got != tt.want || w.Code != tt.status {
				t.Errorf("response %d %q; want %d %q", w.Code, got, tt.status, tt.want)
			}
		})
	}
	// httpauth sends no challenge with a 403; the challenge itself is RFC
	// 6750 section 3.1's insufficient_scope with the scope needed.
	_, err = at.VerifyToken(context.Background(), mint(t, "ES256", "k1", "", testKeys.ec, baseClaims()))
	want := `Bearer realm="api", error="insufficient_scope", error_description="the token lacks a required scope", scope="admin write"`
	if got := at.Challenge(err).String(); got != want {
		t.Errorf("Challenge(insufficient scope) = %q; want %q", got, want)
	}
}
