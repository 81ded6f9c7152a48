package jwtauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/authserver/authservertest"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/store"
)

// countingRevocations counts IsRevoked calls and can fail them.
type countingRevocations struct {
	store.Revocations
	calls atomic.Int64
	fail  atomic.Bool
}

func (c *countingRevocations) IsRevoked(ctx context.Context, jti string) (bool, error) {
	c.calls.Add(1)
	if c.fail.Load() {
		return false, errors.New("backend down")
	}
	return c.Revocations.IsRevoked(ctx, jti)
}

type settableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settableClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *settableClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func issue(t testing.TB, srv *authservertest.Server, id, secret string) string {
	t.Helper()
	resp, err := http.PostForm(srv.TokenURL, url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token = %d, %v", resp.StatusCode, err)
	}
	return body.AccessToken
}

func revoke(t testing.TB, srv *authservertest.Server, id, secret, tok string) {
	t.Helper()
	resp, err := http.PostForm(srv.URL+"/oauth/revoke", url.Values{"token": {tok}, "client_id": {id}, "client_secret": {secret}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("revoke = %d; want 200", resp.StatusCode)
	}
}

func TestRevocableTokens(t *testing.T) {
	// One injected clock for the server, the verifier and the revocation
	// checks, a little after a whole second (near the wall clock, which
	// the store's revocation expiry uses).
	clk := &settableClock{t: time.Now().Truncate(time.Second).Add(250 * time.Millisecond)}
	srv := authservertest.NewServer(t, &authservertest.Options{Now: clk.Now})
	id, secret := srv.CreateClient(t, store.Client{Name: "svc", Audiences: []string{"https://api.test"}})
	tokens, err := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer: srv.URL, Audiences: []string{"https://api.test"}, Algorithms: []string{"ES256"},
		Keys: jwk.NewRemoteKeySet(srv.JWKSURL), Profile: jwtauth.ProfileRFC9068, Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	revs := &countingRevocations{Revocations: srv.Store}
	v, err := jwtauth.NewRevocableTokens(tokens, jwtauth.RevocationConfig{Revocations: revs, Clients: srv.Store, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	reason := func(err error) m2m.Reason {
		var ce *m2m.CredentialError
		if errors.As(err, &ce) {
			return ce.Reason
		}
		return ""
	}

	tok := issue(t, srv, id, secret)
	other := issue(t, srv, id, secret)
	for range 3 {
		if _, err := v.VerifyToken(ctx, tok); err != nil {
			t.Fatalf("VerifyToken(fresh token) = %v; want nil", err)
		}
	}
	if n := revs.calls.Load(); n != 1 {
		t.Errorf("IsRevoked calls for 3 verifications within the cache TTL = %d; want 1", n)
	}

	revoke(t, srv, id, secret, tok)
	if _, err := v.VerifyToken(ctx, tok); err != nil {
		t.Errorf("VerifyToken(revoked token) within the cache TTL = %v; want nil (cached)", err)
	}
	clk.Add(jwtauth.DefaultRevocationCacheTTL)
	if _, err := v.VerifyToken(ctx, tok); reason(err) != m2m.ReasonRevoked {
		t.Errorf("VerifyToken(revoked token) after the cache TTL = %v; want %s", err, m2m.ReasonRevoked)
	}
	if _, err := v.VerifyToken(ctx, other); err != nil {
		t.Errorf("VerifyToken(unrevoked token) = %v; want nil", err)
	}

	// The store cannot answer: a technical error, never a pass.
	revs.fail.Store(true)
	clk.Add(jwtauth.DefaultRevocationCacheTTL)
	if _, err := v.VerifyToken(ctx, other); err == nil || reason(err) != "" {
		t.Errorf("VerifyToken with the store down = %v; want a technical error", err)
	}
	// A revoked jti is remembered until the token expires.
	if _, err := v.VerifyToken(ctx, tok); reason(err) != m2m.ReasonRevoked {
		t.Errorf("VerifyToken(revoked token) with the store down = %v; want %s from the cache", err, m2m.ReasonRevoked)
	}
	revs.fail.Store(false)

	// Everything the client was issued so far.
	clk.Add(10 * time.Millisecond)
	if _, err := authserver.RevokeClientTokens(ctx, srv.Store, id, clk.Now); err != nil {
		t.Fatal(err)
	}
	clk.Add(jwtauth.DefaultRevocationCacheTTL)
	if _, err := v.VerifyToken(ctx, other); reason(err) != m2m.ReasonRevoked {
		t.Errorf("VerifyToken(token issued before RevokedBefore) = %v; want %s", err, m2m.ReasonRevoked)
	}
	// A token issued in the next second is not revoked.
	clk.Add(clk.Now().Truncate(time.Second).Add(time.Second).Sub(clk.Now()))
	if _, err := v.VerifyToken(ctx, issue(t, srv, id, secret)); err != nil {
		t.Errorf("VerifyToken(token issued after RevokedBefore) = %v; want nil", err)
	}

	// Through the middleware: 401 invalid_token for a revoked token.
	h := v
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	_, err = h.Verify(req)
	if reason(err) != m2m.ReasonRevoked {
		t.Errorf("Verify(revoked token) = %v; want %s", err, m2m.ReasonRevoked)
	}
	if c := h.Challenge(err); !strings.Contains(c.String(), "invalid_token") {
		t.Errorf("Challenge = %s; want invalid_token", c)
	}
}

func TestNewRevocableTokensConfig(t *testing.T) {
	if _, err := jwtauth.NewRevocableTokens(nil, jwtauth.RevocationConfig{}); err == nil {
		t.Errorf("NewRevocableTokens(nil, {}) = nil error; want an error")
	}
}

func ExampleNewRevocableTokens() {
	// A token server (in memory here; in production the API reads the
	// token server's database or Redis revocations).
	t := &testing.T{}
	srv := authservertest.NewServer(t, nil)
	id, secret := srv.CreateClient(t, store.Client{Name: "svc", Audiences: []string{"https://api.example.com"}})

	tokens, _ := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer: srv.URL, Audiences: []string{"https://api.example.com"}, Algorithms: []string{"ES256"},
		Keys: jwk.NewRemoteKeySet(srv.JWKSURL), Profile: jwtauth.ProfileRFC9068,
	})
	verifier, err := jwtauth.NewRevocableTokens(tokens, jwtauth.RevocationConfig{
		Revocations: srv.Store, // a store.Revocations: sqlstore, redisstore.Revocations, ...
		Clients:     srv.Store, // optional: honours "m2m client revoke-tokens"
		CacheTTL:    -1,        // no cache in this example (default: 1s)
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	tok := issue(t, srv, id, secret)
	_, err = verifier.VerifyToken(context.Background(), tok)
	fmt.Println("before revocation:", err)
	revoke(t, srv, id, secret, tok)
	_, err = verifier.VerifyToken(context.Background(), tok)
	fmt.Println("after revocation:", err)
	// Output:
	// before revocation: <nil>
	// after revocation: bearer: invalid credentials: revoked: the token has been revoked
}

// BenchmarkRevocableTokens is the hot path: a token verified before and a
// "not revoked" answer in the cache.
func BenchmarkRevocableTokens(b *testing.B) {
	srv := authservertest.NewServer(b, nil)
	id, secret := srv.CreateClient(b, store.Client{Name: "svc", Audiences: []string{"https://api.test"}})
	tokens, err := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer: srv.URL, Audiences: []string{"https://api.test"}, Algorithms: []string{"ES256"},
		Keys: jwk.NewRemoteKeySet(srv.JWKSURL), Profile: jwtauth.ProfileRFC9068,
	})
	if err != nil {
		b.Fatal(err)
	}
	v, _ := jwtauth.NewRevocableTokens(tokens, jwtauth.RevocationConfig{Revocations: srv.Store, Clients: srv.Store})
	tok := issue(b, srv, id, secret)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.VerifyToken(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}
