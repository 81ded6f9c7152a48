package clientcred_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/clientcred"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/keyring"
	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/memstore"
)

// realServer runs m2m's real token server (authserver + keyring) on an
// in-memory store, behind a clock the test moves.
type realServer struct {
	srv     *httptest.Server
	kr      *keyring.Keyring
	st      *memstore.Store
	now     atomic.Int64
	id      string
	secret  string
	jwksHit atomic.Int64
}

const e2eAudience = "https://api.example.com"

func newRealServer(t *testing.T, profile jwtauth.Profile) *realServer {
	t.Helper()
	ts := &realServer{st: memstore.New()}
	ts.now.Store(time.Now().UnixNano())
	clock := func() time.Time { return time.Unix(0, ts.now.Load()) }
	ctx := context.Background()
	kr, err := keyring.New(ctx, keyring.Config{Store: ts.st, Master: []byte(strings.Repeat("m", 32)), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	ts.kr = kr
	var handler http.Handler
	ts.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/jwks.json" {
			ts.jwksHit.Add(1)
		}
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.srv.Close)
	as, err := authserver.New(authserver.Config{Issuer: ts.srv.URL, Clients: ts.st, Signer: kr, Profile: profile, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	handler = as.Handler()
	c := &store.Client{Name: "worker", Audiences: []string{e2eAudience}, Scopes: []string{"read", "write"}}
	ts.secret, err = authserver.CreateClient(ctx, ts.st, c, clock)
	if err != nil {
		t.Fatal(err)
	}
	ts.id = c.ID
	return ts
}

func (ts *realServer) clock() time.Time { return time.Unix(0, ts.now.Load()) }

// api is an API protected by jwtauth.AccessTokens with the token
// server's JWKS.
func (ts *realServer) api(t *testing.T, profile jwtauth.Profile, issuer string, scopes ...string) (*httptest.Server, *jwk.RemoteKeySet) {
	t.Helper()
	keys := &jwk.RemoteKeySet{URL: ts.srv.URL + "/.well-known/jwks.json", Now: ts.clock}
	at, err := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer: issuer, Audiences: []string{e2eAudience}, Algorithms: []string{"ES256", "EdDSA", "RS256"},
		Keys: keys, Profile: profile, RequiredScopes: scopes, Now: ts.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{at}}
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := m2m.FromContext(r.Context())
		fmt.Fprintf(w, "%s %s %v", r.Method, p.ClientID, p.Scopes)
	})))
	t.Cleanup(srv.Close)
	return srv, keys
}

func TestEndToEndTokenServer(t *testing.T) {
	for _, tt := range []struct {
		name    string
		profile jwtauth.Profile
		verify  jwtauth.Profile
		slash   bool
	}{
		{"rfc9068", jwtauth.ProfileRFC9068, jwtauth.ProfileRFC9068, false},
		{"auth0", jwtauth.ProfileAuth0, jwtauth.ProfileAuth0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := newRealServer(t, tt.profile)
			iss := ts.srv.URL
			if tt.slash {
				iss += "/"
			}
			api, _ := ts.api(t, tt.verify, iss, "read")
			// The endpoint found by RFC 8414 discovery from the issuer.
			c, err := clientcred.NewClient(clientcred.Config{
				ClientID: ts.id, ClientSecret: ts.secret, Audience: e2eAudience,
				Scopes: []string{"read"}, Issuer: ts.srv.URL, Now: ts.clock,
			})
			if err != nil {
				t.Fatal(err)
			}
			c.ErrorOnStatus = true
			ctx := context.Background()
			for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
				resp, err := c.Do(ctx, m, api.URL+"/things", clientcred.JSON(map[string]int{"n": 1}))
				if err != nil {
					t.Fatalf("%s: %v", m, err)
				}
				resp.Body.Close()
			}
			tok, err := c.Source.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tok.Scope != "read" {
				t.Errorf("granted scope %q; want read", tok.Scope)
			}
			// Wrong secret: the server's refusal comes back as RetrieveError.
			bad, _ := clientcred.NewTokenSource(clientcred.Config{
				ClientID: ts.id, ClientSecret: "wrong", Audience: e2eAudience, TokenURL: ts.srv.URL + "/oauth/token",
				Retry: clientcred.RetryPolicy{MaxAttempts: 1},
			})
			_, err = bad.Token(ctx)
			var re *clientcred.RetrieveError
			if !errors.As(err, &re) || re.StatusCode != 401 || re.ErrorCode == "" {
				t.Errorf("wrong secret: %v; want a 401 RetrieveError with an error code", err)
			}
			// A scope the client does not have.
			greedy, _ := clientcred.NewTokenSource(clientcred.Config{
				ClientID: ts.id, ClientSecret: ts.secret, Audience: e2eAudience, Scopes: []string{"admin"},
				TokenURL: ts.srv.URL + "/oauth/token", Retry: clientcred.RetryPolicy{MaxAttempts: 1},
			})
			if _, err := greedy.Token(ctx); !errors.As(err, &re) || re.ErrorCode != "invalid_scope" {
				t.Errorf("unknown scope: %v; want invalid_scope", err)
			}
		})
	}
}

func TestEndToEndKeyRotation(t *testing.T) {
	ts := newRealServer(t, jwtauth.ProfileRFC9068)
	api, keys := ts.api(t, jwtauth.ProfileRFC9068, ts.srv.URL)
	ctx := context.Background()
	newClient := func() *clientcred.Client {
		c, err := clientcred.NewClient(clientcred.Config{
			ClientID: ts.id, ClientSecret: ts.secret, Audience: e2eAudience,
			TokenURL: ts.srv.URL + "/oauth/token", Now: ts.clock,
		})
		if err != nil {
			t.Fatal(err)
		}
		c.ErrorOnStatus = true
		return c
	}
	get := func(c *clientcred.Client) error {
		resp, err := c.Get(ctx, api.URL)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	c1 := newClient()
	if err := get(c1); err != nil {
		t.Fatal(err)
	}
	oldTok, _ := c1.Source.Token(ctx)
	before := keys.Current().Len()
	// Rotate: the next key is published at once and signs after
	// PrePublish.
	if err := ts.kr.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	ts.now.Add(int64(keyring.DefaultPrePublish + time.Second))
	if err := ts.kr.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	// A new client (new cache key: other scopes) gets a token from the new
	// key; the API refetches the JWKS on the unknown kid.
	c2, err := clientcred.NewClient(clientcred.Config{
		ClientID: ts.id, ClientSecret: ts.secret, Audience: e2eAudience, Scopes: []string{"read", "write"},
		TokenURL: ts.srv.URL + "/oauth/token", Now: ts.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	c2.ErrorOnStatus = true
	newTok, err := c2.Source.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if hdr := func(s string) string { return strings.SplitN(s, ".", 2)[0] }; hdr(newTok.AccessToken) == hdr(oldTok.AccessToken) {
		t.Fatalf("the token after rotation has the old header; want the new kid")
	}
	if err := get(c2); err != nil {
		t.Fatalf("new-key token: %v", err)
	}
	if err := get(c1); err != nil {
		t.Errorf("old-key token during the overlap: %v", err)
	}
	if keys.Current().Len() <= before {
		t.Errorf("API key set has %d keys; want the new one added", keys.Current().Len())
	}
}

func TestEndToEndSingleFlight(t *testing.T) {
	ts := newRealServer(t, jwtauth.ProfileRFC9068)
	var tokenReqs atomic.Int64
	counting := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if strings.HasSuffix(r.URL.Path, "/oauth/token") {
			tokenReqs.Add(1)
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	src, err := clientcred.NewTokenSource(clientcred.Config{
		ClientID: ts.id, ClientSecret: ts.secret, Audience: e2eAudience, Scopes: []string{"write"},
		TokenURL: ts.srv.URL + "/oauth/token", HTTPClient: counting,
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 10000)
	for range 10000 {
		go func() { _, err := src.Token(context.Background()); done <- err }()
	}
	for range 10000 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if got := tokenReqs.Load(); got != 1 {
		t.Errorf("token requests for 10000 concurrent callers = %d; want 1", got)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
