package jwtauth_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/keyring"
	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/memstore"
)

// TestKeyRevocationReachesVerifier drives an emergency key revocation from
// the token server's keyring to a long-running verifier that caches the
// JWKS and its verified tokens: the revoked key's token keeps passing for
// at most the JWKS max-age (authserver.JWKSMaxAge), then is refused, and
// the successor's tokens pass at once. The server is served in process
// inside a synctest bubble, so time is the bubble's and no test sleeps.
func TestKeyRevocationReachesVerifier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		st := memstore.New()
		master := make([]byte, keyring.MinMasterSize)
		rand.Read(master)
		kr, err := keyring.New(ctx, keyring.Config{Store: st, Master: master})
		if err != nil {
			t.Fatal(err)
		}
		const issuer = "https://auth.example.test"
		as, err := authserver.New(authserver.Config{Issuer: issuer, Clients: st, Signer: kr, KeyRotator: kr})
		if err != nil {
			t.Fatal(err)
		}
		h := as.Handler()
		c := store.Client{Name: "svc", Audiences: []string{"https://api.test"}}
		secret, err := authserver.CreateClient(ctx, st, &c, nil)
		if err != nil {
			t.Fatal(err)
		}
		token := func() string {
			r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.SetBasicAuth(c.ID, secret)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			var body struct {
				AccessToken string `json:"access_token"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != 200 {
				t.Fatalf("token = %d %s", w.Code, w.Body)
			}
			return body.AccessToken
		}
		inProcess := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w.Result(), nil
		})}
		verifier := func() *jwtauth.AccessTokens {
			v, err := jwtauth.NewAccessTokens(jwtauth.Config{
				Issuer: issuer, Audiences: []string{"https://api.test"}, Algorithms: []string{"ES256"}, Profile: jwtauth.ProfileRFC9068,
				Keys: &jwk.RemoteKeySet{URL: issuer + "/.well-known/jwks.json", HTTPClient: inProcess},
			})
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		// tokens sees the successor's tokens; idle only ever the old one.
		tokens, idle := verifier(), verifier()
		old := token()
		for _, v := range []*jwtauth.AccessTokens{tokens, idle} {
			if _, err := v.VerifyToken(ctx, old); err != nil {
				t.Fatalf("VerifyToken(token) = %v", err)
			}
		}
		if err := kr.Revoke(ctx, kr.Keys()[0].ID); err != nil {
			t.Fatal(err)
		}
		fresh := token()
		// The successor signs at once, without pre-publication: a verifier
		// that fetched the key set less than MinRefetchInterval ago
		// refuses its tokens until then (the documented cost), and the
		// revoked key's cached token still passes (within the bound).
		if _, err := tokens.VerifyToken(ctx, fresh); m2m.ReasonOf(err) != m2m.ReasonUnknownKey {
			t.Errorf("VerifyToken(successor's token) within MinRefetchInterval = %v; want unknown_key", err)
		}
		if _, err := tokens.VerifyToken(ctx, old); err != nil {
			t.Errorf("VerifyToken(revoked key's cached token) at once = %v; want still valid", err)
		}
		time.Sleep(jwk.DefaultMinRefetchInterval)
		if _, err := tokens.VerifyToken(ctx, fresh); err != nil {
			t.Errorf("VerifyToken(successor's token) after MinRefetchInterval = %v; want valid", err)
		}
		// The set fetched for the successor lacks the revoked key, well
		// within the JWKS max-age.
		if _, err := tokens.VerifyToken(ctx, old); m2m.ReasonOf(err) != m2m.ReasonUnknownKey {
			t.Errorf("VerifyToken(revoked key's token) after the refetch = %v; want unknown_key", err)
		}
		// A verifier that never sees an unknown kid drops the key when its
		// copy of the set reaches the response's max-age: the lookup at
		// that age starts the refresh (and still answers from the old set),
		// the next ones refuse.
		time.Sleep(authserver.JWKSMaxAge - jwk.DefaultMinRefetchInterval - time.Second)
		if _, err := idle.VerifyToken(ctx, old); err != nil {
			t.Errorf("idle VerifyToken(revoked key's token) before JWKSMaxAge = %v; want valid (cached set)", err)
		}
		time.Sleep(time.Second)
		idle.VerifyToken(ctx, old)
		synctest.Wait()
		if _, err := idle.VerifyToken(ctx, old); m2m.ReasonOf(err) != m2m.ReasonUnknownKey {
			t.Errorf("idle VerifyToken(revoked key's token) after JWKSMaxAge = %v; want unknown_key", err)
		}
	})
}
