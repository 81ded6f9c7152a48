package authserver_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/ratelimit"
	"github.com/m2mkit/m2m/store"
)

func TestTokenIssued(t *testing.T) {
	tests := []struct {
		name    string
		profile jwtauth.Profile // server default
		client  string          // client's own profile
		req     func(f *fixture) *http.Request
		want    func(f *fixture) map[string]any // claims except iat/exp/jti
		typ     string
		scope   string
	}{
		{
			name: "form post, no scope: all the client's scopes, first audience",
			req: func(f *fixture) *http.Request {
				return form(f.creds().Encode())
			},
			want: func(f *fixture) map[string]any {
				return map[string]any{"iss": testIssuer, "sub": f.id, "client_id": f.id, "aud": "https://api.example.test", "scope": "read write"}
			},
			typ: "at+jwt", scope: "read write",
		},
		{
			name: "basic with form-urlencoded credentials, scope subset, audience",
			req: func(f *fixture) *http.Request {
				r := form(url.Values{"grant_type": {"client_credentials"}, "scope": {"write write"}, "audience": {"https://other.example.test"}}.Encode())
				r.SetBasicAuth(url.QueryEscape(f.id), url.QueryEscape(f.secret))
				return r
			},
			want: func(f *fixture) map[string]any {
				return map[string]any{"iss": testIssuer, "sub": f.id, "client_id": f.id, "aud": "https://other.example.test", "scope": "write"}
			},
			typ: "at+jwt", scope: "write",
		},
		{
			name: "JSON body as Auth0 SDKs send it, resource",
			req: func(f *fixture) *http.Request {
				r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(
					`{"grant_type":"client_credentials","client_id":"`+f.id+`","client_secret":"`+f.secret+`","resource":"https://other.example.test","scope":"read","organization":{"x":1}}`))
				r.Header.Set("Content-Type", "application/json; charset=utf-8")
				return r
			},
			want: func(f *fixture) map[string]any {
				return map[string]any{"iss": testIssuer, "sub": f.id, "client_id": f.id, "aud": "https://other.example.test", "scope": "read"}
			},
			typ: "at+jwt", scope: "read",
		},
		{
			name:    "auth0 profile server-wide",
			profile: jwtauth.ProfileAuth0,
			req:     func(f *fixture) *http.Request { return form(f.creds("audience", "https://api.example.test").Encode()) },
			want: func(f *fixture) map[string]any {
				return map[string]any{"iss": testIssuer + "/", "sub": f.id + "@clients", "azp": f.id, "gty": "client-credentials",
					"aud": "https://api.example.test", "scope": "read write"}
			},
			typ: "JWT", scope: "read write",
		},
		{
			name:   "auth0 profile for one client",
			client: string(jwtauth.ProfileAuth0),
			req:    func(f *fixture) *http.Request { return form(f.creds("scope", "read").Encode()) },
			want: func(f *fixture) map[string]any {
				return map[string]any{"iss": testIssuer + "/", "sub": f.id + "@clients", "azp": f.id, "gty": "client-credentials",
					"aud": "https://api.example.test", "scope": "read"}
			},
			typ: "JWT", scope: "read",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(cfg *authserver.Config, c *store.Client) {
				cfg.Profile = tc.profile
				c.Profile = tc.client
				c.TokenTTL = 10 * time.Minute
			})
			w := httptest.NewRecorder()
			f.srv.ServeHTTP(w, tc.req(f))
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d %s; want 200", w.Code, w.Body)
			}
			if got := w.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q; want no-store", got)
			}
			if got := w.Header().Get("X-RateLimit-Limit"); got != strconv.Itoa(authserver.DefaultRateLimit.Burst) {
				t.Errorf("X-RateLimit-Limit = %q; want %d", got, authserver.DefaultRateLimit.Burst)
			}
			resp := decodeResponse(t, w)
			if resp.TokenType != "Bearer" || resp.ExpiresIn != 600 || resp.Scope != tc.scope {
				t.Errorf("response = %+v; want Bearer, 600 s, scope %q", resp, tc.scope)
			}
			hdr, claims := f.signer.verify(t, resp.AccessToken)
			if hdr.Typ != tc.typ || hdr.Kid != f.signer.kid || hdr.Alg != "ES256" {
				t.Errorf("header = %+v; want typ %s kid %s ES256", hdr, tc.typ, f.signer.kid)
			}
			now := float64(f.clock.Now().Unix())
			if claims["iat"] != now || claims["exp"] != now+600 {
				t.Errorf("iat, exp = %v, %v; want %v, %v", claims["iat"], claims["exp"], now, now+600)
			}
			if jti, _ := claims["jti"].(string); len(jti) != 22 {
				t.Errorf("jti = %v; want 22 characters", claims["jti"])
			}
			delete(claims, "iat")
			delete(claims, "exp")
			delete(claims, "jti")
			if diff := cmp.Diff(tc.want(f), claims); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
}

func form(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func TestTokenRefused(t *testing.T) {
	basic := func(id, secret string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
	}
	tests := []struct {
		name      string
		profile   jwtauth.Profile
		req       func(f *fixture) *http.Request
		status    int
		code      string
		challenge bool
	}{
		{"GET", "", func(f *fixture) *http.Request { return httptest.NewRequest(http.MethodGet, "/oauth/token", nil) }, 405, "invalid_request", false},
		{"no grant_type", "", func(f *fixture) *http.Request {
			v := f.creds()
			v.Del("grant_type")
			return form(v.Encode())
		}, 400, "invalid_request", false},
		{"repeated parameter", "", func(f *fixture) *http.Request {
			return form(f.creds().Encode() + "&scope=read&scope=write")
		}, 400, "invalid_request", false},
		{"text/plain body", "", func(f *fixture) *http.Request {
			r := form(f.creds().Encode())
			r.Header.Set("Content-Type", "text/plain")
			return r
		}, 400, "invalid_request", false},
		{"JSON value not a string", "", func(f *fixture) *http.Request {
			r := form(`{"grant_type":"client_credentials","client_id":1}`)
			r.Header.Set("Content-Type", "application/json")
			return r
		}, 400, "invalid_request", false},
		{"body too large", "", func(f *fixture) *http.Request {
			return form(f.creds("audience", strings.Repeat("a", 9000)).Encode())
		}, 413, "invalid_request", false},
		{"both basic and post", "", func(f *fixture) *http.Request {
			r := form(f.creds().Encode())
			r.Header.Set("Authorization", basic(f.id, f.secret))
			return r
		}, 400, "invalid_request", false},
		{"unsupported grant type", "", func(f *fixture) *http.Request {
			return form(f.creds("grant_type", "password").Encode())
		}, 400, "unsupported_grant_type", false},
		{"no credentials", "", func(f *fixture) *http.Request {
			return form("grant_type=client_credentials")
		}, 401, "invalid_client", false},
		{"wrong secret, post", "", func(f *fixture) *http.Request {
			return form(f.creds("client_secret", "nope").Encode())
		}, 401, "invalid_client", false},
		{"wrong secret, basic: challenge", "", func(f *fixture) *http.Request {
			r := form("grant_type=client_credentials")
			r.Header.Set("Authorization", basic(f.id, "nope"))
			return r
		}, 401, "invalid_client", true},
		{"unknown client", "", func(f *fixture) *http.Request {
			return form(f.creds("client_id", "nobody").Encode())
		}, 401, "invalid_client", false},
		{"Basic with an empty client id", "", func(f *fixture) *http.Request {
			r := form("grant_type=client_credentials")
			r.Header.Set("Authorization", basic("", f.secret))
			return r
		}, 401, "invalid_client", true},
		{"Bearer instead of Basic", "", func(f *fixture) *http.Request {
			r := form("grant_type=client_credentials")
			r.Header.Set("Authorization", "Bearer abc")
			return r
		}, 401, "invalid_client", true},
		{"audience not granted", "", func(f *fixture) *http.Request {
			return form(f.creds("audience", "https://evil.example.test").Encode())
		}, 403, "access_denied", false},
		{"resource not absolute", "", func(f *fixture) *http.Request {
			return form(f.creds("resource", "api").Encode())
		}, 400, "invalid_target", false},
		{"audience and resource disagree", "", func(f *fixture) *http.Request {
			return form(f.creds("resource", "https://api.example.test", "audience", "https://other.example.test").Encode())
		}, 400, "invalid_target", false},
		{"scope not granted", "", func(f *fixture) *http.Request {
			return form(f.creds("scope", "read admin").Encode())
		}, 400, "invalid_scope", false},
		{"malformed scope", "", func(f *fixture) *http.Request {
			return form(f.creds("scope", `re"ad`).Encode())
		}, 400, "invalid_scope", false},
		{"auth0 shape: bad credentials", jwtauth.ProfileAuth0, func(f *fixture) *http.Request {
			return form(f.creds("client_secret", "nope").Encode())
		}, 401, "access_denied", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(cfg *authserver.Config, _ *store.Client) { cfg.Profile = tc.profile })
			w := httptest.NewRecorder()
			f.srv.ServeHTTP(w, tc.req(f))
			resp := decodeResponse(t, w)
			if w.Code != tc.status || resp.Error != tc.code {
				t.Errorf("response = %d %s; want %d %s", w.Code, w.Body, tc.status, tc.code)
			}
			if resp.AccessToken != "" {
				t.Error("refusal carries a token")
			}
			ch := w.Header().Get("WWW-Authenticate")
			if got := strings.HasPrefix(ch, "Basic "); got != tc.challenge {
				t.Errorf("WWW-Authenticate = %q; want a Basic challenge: %v", ch, tc.challenge)
			}
		})
	}
}

func TestDisabledClient(t *testing.T) {
	f := newFixture(t, func(_ *authserver.Config, c *store.Client) { c.Disabled = true })
	w := f.post(f.creds())
	if resp := decodeResponse(t, w); w.Code != 400 || resp.Error != "unauthorized_client" {
		t.Errorf("disabled client: %d %s; want 400 unauthorized_client", w.Code, w.Body)
	}
	// A wrong secret for a disabled client is still invalid_client: the
	// state of a client is not revealed before authentication.
	w = f.post(f.creds("client_secret", "nope"))
	if resp := decodeResponse(t, w); w.Code != 401 || resp.Error != "invalid_client" {
		t.Errorf("disabled client, bad secret: %d %s; want 401 invalid_client", w.Code, w.Body)
	}
}

// TestClientCache checks both halves of the cache's contract: no store
// read per token in steady state, and changes honoured within the TTL.
func TestClientCache(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	for range 20 {
		if w := f.post(f.creds()); w.Code != 200 {
			t.Fatalf("token: %d %s", w.Code, w.Body)
		}
	}
	if got := f.clients.reads.Load(); got != 1 {
		t.Errorf("store reads for 20 tokens within the TTL = %d; want 1", got)
	}
	if _, err := f.clients.UpdateClient(ctx, f.id, func(c *store.Client) error { c.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(authserver.DefaultClientCacheTTL)
	if w := f.post(f.creds()); w.Code != 400 {
		t.Errorf("token after disabling + TTL: %d; want 400", w.Code)
	}
}

func TestRotateSecret(t *testing.T) {
	f := newFixture(t, nil)
	old := f.secret
	newSecret, err := authserver.RotateSecret(context.Background(), f.clients, f.id, time.Hour, f.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(authserver.DefaultClientCacheTTL)
	for _, s := range []string{old, newSecret} {
		if w := f.post(f.creds("client_secret", s)); w.Code != 200 {
			t.Errorf("secret within grace: %d %s; want 200", w.Code, w.Body)
		}
	}
	f.clock.Add(time.Hour)
	if w := f.post(f.creds("client_secret", old)); w.Code != 401 {
		t.Errorf("old secret after grace: %d; want 401", w.Code)
	}
	if w := f.post(f.creds("client_secret", newSecret)); w.Code != 200 {
		t.Errorf("new secret after grace: %d; want 200", w.Code)
	}
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, func(_ *authserver.Config, c *store.Client) { c.RateLimitPerSecond, c.RateLimitBurst = 1, 3 })
	for i := range 3 {
		w := f.post(f.creds())
		if w.Code != 200 || w.Header().Get("X-RateLimit-Remaining") != strconv.Itoa(2-i) {
			t.Fatalf("request %d: %d remaining %q; want 200 remaining %d", i, w.Code, w.Header().Get("X-RateLimit-Remaining"), 2-i)
		}
	}
	w := f.post(f.creds())
	resp := decodeResponse(t, w)
	h := w.Header()
	if w.Code != 429 || resp.Error != "too_many_requests" || h.Get("Retry-After") != "1" ||
		h.Get("X-RateLimit-Limit") != "3" || h.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("4th request: %d %s %v; want 429 too_many_requests, Retry-After 1, limit 3, remaining 0", w.Code, w.Body, h)
	}
	reset, _ := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64)
	if now := f.clock.Now().Unix(); reset <= now || reset > now+3 {
		t.Errorf("X-RateLimit-Reset = %d; want unix seconds in (%d, %d]", reset, now, now+3)
	}
	f.clock.Add(time.Second)
	if w := f.post(f.creds()); w.Code != 200 {
		t.Errorf("after a second: %d; want 200", w.Code)
	}
}

func TestFailureThrottle(t *testing.T) {
	f := newFixture(t, func(cfg *authserver.Config, _ *store.Client) {
		cfg.FailureLimit = ratelimit.Limit{Rate: 0.1, Burst: 3}
	})
	for range 3 {
		if w := f.post(f.creds("client_secret", "wrong")); w.Code != 401 {
			t.Fatalf("failure: %d; want 401", w.Code)
		}
	}
	// Failures for one id from one address throttle that id there, even
	// with the right secret: the secret is not compared again until the
	// bucket refills.
	w := f.post(f.creds())
	if resp := decodeResponse(t, w); w.Code != 429 || resp.Error != "too_many_requests" || w.Header().Get("Retry-After") == "" {
		t.Errorf("after 3 failures: %d %s; want 429 with Retry-After", w.Code, w.Body)
	}
	f.clock.Add(10 * time.Second)
	if w := f.post(f.creds()); w.Code != 200 {
		t.Errorf("after the wait: %d %s; want 200", w.Code, w.Body)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  authserver.Config
		want []string
	}{
		{"empty", authserver.Config{}, []string{"Issuer is required", "Clients is required", "Signer is required"}},
		{"bad issuer and profile", authserver.Config{Issuer: "auth.example", Clients: &fakeClients{}, Signer: &testSigner{}, Profile: "hydra"},
			[]string{"must be an absolute", "unknown Profile"}},
		{"NaN failure rate", authserver.Config{Issuer: testIssuer, Clients: &fakeClients{}, Signer: &testSigner{}, FailureLimit: ratelimit.Limit{Rate: math.NaN(), Burst: 1}},
			[]string{"not a finite number"}},
		{"infinite rate", authserver.Config{Issuer: testIssuer, Clients: &fakeClients{}, Signer: &testSigner{}, RateLimit: ratelimit.Limit{Rate: math.Inf(1), Burst: 1}},
			[]string{"not a finite number"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := authserver.New(tc.cfg)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("New() = %v; want an error containing %q", err, w)
				}
			}
		})
	}
}

func TestWellKnown(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		path, want string
		status     int
	}{
		{"/.well-known/jwks.json", `"kid":"test-key"`, 200},
		{"/.well-known/oauth-authorization-server", `"token_endpoint":"https://auth.example.test/oauth/token"`, 200},
		{"/.well-known/openid-configuration", `"jwks_uri":"https://auth.example.test/.well-known/jwks.json"`, 200},
		{"/healthz", `"ok"`, 200},
		{"/readyz", `"ok"`, 200},
		{"/metrics", "m2m_token_request_duration_seconds", 200},
		{"/nothing", "not found", 404},
	} {
		t.Run(tc.path, func(t *testing.T) {
			f.post(f.creds())
			w := httptest.NewRecorder()
			f.srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.want) {
				t.Errorf("GET %s = %d %s; want %d containing %s", tc.path, w.Code, w.Body, tc.status, tc.want)
			}
			// The JWKS is cached by verifiers for a short max-age only, the
			// bound on how long a revoked key keeps verifying there.
			if cc := w.Header().Get("Cache-Control"); tc.path == "/.well-known/jwks.json" && cc != "public, max-age=60" {
				t.Errorf("GET %s Cache-Control = %q; want public, max-age=60", tc.path, cc)
			}
		})
	}
}

func BenchmarkTokenEndpoint(b *testing.B) {
	f := newFixture(b, func(_ *authserver.Config, c *store.Client) { c.RateLimitPerSecond, c.RateLimitBurst = 1e6, 1e6 })
	body := f.creds().Encode()
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		f.srv.ServeHTTP(w, form(body))
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}

func TestAudienceProfile(t *testing.T) {
	f := newFixture(t, func(cfg *authserver.Config, _ *store.Client) {
		cfg.AudienceProfiles = map[string]jwtauth.Profile{"https://other.example.test": jwtauth.ProfileAuth0}
	})
	for _, tc := range []struct{ aud, typ, sub string }{
		{"https://api.example.test", "at+jwt", f.id},
		{"https://other.example.test", "JWT", f.id + "@clients"},
	} {
		w := f.post(f.creds("audience", tc.aud))
		hdr, claims := f.signer.verify(t, decodeResponse(t, w).AccessToken)
		if hdr.Typ != tc.typ || claims["sub"] != tc.sub {
			t.Errorf("token for %s: typ %q sub %v; want %q %q", tc.aud, hdr.Typ, claims["sub"], tc.typ, tc.sub)
		}
	}
}

// pingClients is a store whose Ping fails on demand.
type pingClients struct {
	fakeClients
	err error
}

func (p *pingClients) Ping(context.Context) error { return p.err }

func TestReadyz(t *testing.T) {
	pc := &pingClients{}
	srv, err := authserver.New(authserver.Config{Issuer: testIssuer, Clients: pc, Signer: newTestSigner(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		err    error
		status int
	}{
		{"store up", nil, 200},
		{"store down", errors.New("connection refused"), 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pc.err = tc.err
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if w.Code != tc.status || strings.Contains(w.Body.String(), "connection refused") {
				t.Errorf("GET /readyz = %d %s; want %d without the error text", w.Code, w.Body, tc.status)
			}
		})
	}
}

// TestLogs checks that refusals and (at Debug) issued tokens are logged
// with client_id and reason, and that no secret or token is.
func TestLogs(t *testing.T) {
	var buf bytes.Buffer
	var tok string
	f := newFixture(t, func(cfg *authserver.Config, _ *store.Client) {
		cfg.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	tok = decodeResponse(t, f.post(f.creds())).AccessToken
	f.post(f.creds("client_secret", "wrong-"+f.secret))
	logs := buf.String()
	for _, want := range []string{`"msg":"authserver: token issued"`, `"reason":"bad_secret"`, `"client_id":"` + f.id + `"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, f.secret) || strings.Contains(logs, tok) {
		t.Errorf("logs contain a secret or a token:\n%s", logs)
	}
}

// TestConcurrentTokens issues tokens from many goroutines while the client
// is updated in the store; run with -race.
func TestConcurrentTokens(t *testing.T) {
	f := newFixture(t, func(cfg *authserver.Config, c *store.Client) {
		cfg.ClientCacheTTL = -1 // read the store every time: the most sharing
		c.RateLimitPerSecond, c.RateLimitBurst = 1e6, 1e6
	})
	body := f.creds().Encode()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				w := httptest.NewRecorder()
				f.srv.ServeHTTP(w, form(body))
				if w.Code != 200 {
					t.Errorf("status %d %s", w.Code, w.Body)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 50 {
			f.clients.UpdateClient(context.Background(), f.id, func(c *store.Client) error {
				c.Name = strconv.Itoa(i)
				return nil
			})
		}
	})
	wg.Wait()
}

// blockedClients holds every GetClient until release is closed, so that
// concurrent misses overlap.
type blockedClients struct {
	*fakeClients
	release chan struct{}
}

func (s blockedClients) GetClient(ctx context.Context, id string) (*store.Client, error) {
	<-s.release
	return s.fakeClients.GetClient(ctx, id)
}

// TestClientCacheSingleRead checks that concurrent requests for one client
// whose cache entry is missing cause a single store read. In a synctest
// bubble, synctest.Wait returns once every request is blocked: on the
// store read or waiting for it.
func TestClientCacheSingleRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fc := &fakeClients{}
		c := &store.Client{Audiences: []string{"https://api.example.test"}, RateLimitPerSecond: 1e6, RateLimitBurst: 1e6}
		secret, err := authserver.CreateClient(context.Background(), fc, c, nil)
		if err != nil {
			t.Fatal(err)
		}
		bc := blockedClients{fc, make(chan struct{})}
		srv, err := authserver.New(authserver.Config{Issuer: testIssuer, Clients: bc, Signer: newTestSigner(t)})
		if err != nil {
			t.Fatal(err)
		}
		body := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ID}, "client_secret": {secret}}.Encode()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, form(body))
				if w.Code != 200 {
					t.Errorf("status %d %s", w.Code, w.Body)
				}
			})
		}
		synctest.Wait()
		close(bc.release)
		wg.Wait()
		if got := fc.reads.Load(); got != 1 {
			t.Errorf("store reads for 8 concurrent requests = %d; want 1", got)
		}
	})
}

// TestRotateSecretGraceBounded checks that RotateSecret refuses a grace
// longer than MaxSecretGrace, as the admin API does, and changes nothing.
func TestRotateSecretGraceBounded(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := authserver.RotateSecret(context.Background(), f.clients, f.id, authserver.MaxSecretGrace+time.Second, f.clock.Now); err == nil {
		t.Fatal("RotateSecret(grace over MaxSecretGrace) = nil error; want a refusal")
	}
	if _, err := authserver.RotateSecret(context.Background(), f.clients, f.id, authserver.MaxSecretGrace, f.clock.Now); err != nil {
		t.Fatalf("RotateSecret(MaxSecretGrace) = %v", err)
	}
}
