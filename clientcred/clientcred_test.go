package clientcred

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestResolve(t *testing.T) {
	full := map[string]string{EnvClientID: "id", EnvClientSecret: "sec", EnvAudience: "aud", EnvTokenURL: "https://a.example/oauth/token"}
	tests := []struct {
		name    string
		cfg     Config
		env     map[string]string
		want    []error
		notWant []error
		check   func(t *testing.T, c Config)
	}{
		{name: "all from env", env: full, check: func(t *testing.T, c Config) {
			if c.ClientID != "id" || c.ClientSecret != "sec" || c.Audience != "aud" || c.TokenURL != full[EnvTokenURL] {
				t.Errorf("Resolve() = %+v; want the environment values", c)
			}
		}},
		{name: "arguments win", cfg: Config{ClientID: "arg", ClientSecret: "x", Audience: "a2", Domain: "t.auth0.com"}, env: full, check: func(t *testing.T, c Config) {
			if c.ClientID != "arg" || c.Audience != "a2" || c.TokenURL != "" || c.Domain != "t.auth0.com" {
				t.Errorf("Resolve() = %+v; want argument values and no env endpoint", c)
			}
		}},
		{name: "missing id", env: map[string]string{EnvClientSecret: "s", EnvAudience: "a", EnvDomain: "d.example"}, want: []error{ErrMissingClientID}, notWant: []error{ErrMissingClientSecret, ErrMissingAudience}},
		{name: "missing secret", env: map[string]string{EnvClientID: "i", EnvAudience: "a", EnvDomain: "d.example"}, want: []error{ErrMissingClientSecret}, notWant: []error{ErrMissingClientID}},
		{name: "missing audience", env: map[string]string{EnvClientID: "i", EnvClientSecret: "s", EnvIssuer: "https://i.example/"}, want: []error{ErrMissingAudience}},
		{name: "skip audience", cfg: Config{SkipAudience: true}, env: map[string]string{EnvClientID: "i", EnvClientSecret: "s", EnvIssuer: "https://i.example/"}},
		{name: "nothing", env: map[string]string{}, want: []error{ErrMissingClientID, ErrMissingClientSecret, ErrMissingAudience, ErrMissingEndpoint}},
		{name: "two endpoints", cfg: Config{ClientID: "i", ClientSecret: "s", Audience: "a", TokenURL: "https://x/t", Domain: "y"}, want: []error{ErrConflictingEndpoint}},
		{name: "bad domain", cfg: Config{ClientID: "i", ClientSecret: "s", Audience: "a", Domain: "https://y/"}, want: []error{nil}},
		{name: "relative token url", cfg: Config{ClientID: "i", ClientSecret: "s", Audience: "a", TokenURL: "/oauth/token"}, want: []error{nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.LookupEnv = env(tt.env)
			c, err := tt.cfg.Resolve()
			if len(tt.want) == 0 && err != nil {
				t.Fatalf("Resolve() error = %v; want nil", err)
			}
			if len(tt.want) > 0 && err == nil {
				t.Fatalf("Resolve() error = nil; want %v", tt.want)
			}
			for _, w := range tt.want {
				if w != nil && !errors.Is(err, w) {
					t.Errorf("Resolve() = %v; want it to wrap %v", err, w)
				}
			}
			for _, w := range tt.notWant {
				if errors.Is(err, w) {
					t.Errorf("Resolve() = %v; want no %v", err, w)
				}
			}
			if err != nil && strings.Contains(err.Error(), "sec") && tt.env[EnvClientSecret] == "sec" {
				t.Errorf("Resolve() error %q contains the secret", err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestAuthStyles(t *testing.T) {
	for _, tt := range []struct {
		name  string
		style AuthStyle
		basic bool
	}{{"post", AuthStyleInParams, false}, {"basic", AuthStyleInHeader, true}, {"json", AuthStyleJSON, false}} {
		t.Run(tt.name, func(t *testing.T) {
			a := newAuth0(t)
			cfg := a.config()
			cfg.AuthStyle = tt.style
			cfg.Scopes = []string{"read:x", "write:x"}
			cfg.EndpointParams = url.Values{"organization": {"org_1"}}
			s, err := NewTokenSource(cfg)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := s.Token(context.Background())
			if err != nil {
				t.Fatalf("Token() error = %v", err)
			}
			if tok.AccessToken != "tok-1" || tok.TokenType != "Bearer" || tok.Scope != "read:x write:x" {
				t.Errorf("Token() = %+v; want tok-1 Bearer with the scopes", *tok)
			}
			if a.lastBasic != tt.basic || a.lastForm["organization"] != "org_1" || a.lastForm["audience"] != a.audience {
				t.Errorf("request basic=%v form=%v; want basic=%v with organization and audience", a.lastBasic, a.lastForm, tt.basic)
			}
			if strings.Contains(tok.String(), "tok-1") {
				t.Errorf("Token.String() = %q reveals the token", tok.String())
			}
		})
	}
}

func TestDiscoveryAndDomain(t *testing.T) {
	a := newAuth0(t)
	var metaHits atomic.Int64
	meta := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		metaHits.Add(1)
		switch r.URL.Path {
		case "/.well-known/oauth-authorization-server/tenant":
			http.NotFound(w, r) // RFC 8414 absent: fall back to OIDC
		case "/tenant/.well-known/openid-configuration":
			io.WriteString(w, `{"issuer":"https://`+r.Host+`/tenant/","token_endpoint":"https://`+r.Host+`/oauth/token"}`)
		case "/oauth/token":
			r.URL.Host = ""
			a.token(w, r)
		default:
			http.NotFound(w, r)
		}
	}))
	defer meta.Close()
	host := strings.TrimPrefix(meta.URL, "https://")

	t.Run("issuer", func(t *testing.T) {
		cfg := a.config()
		cfg.TokenURL, cfg.Issuer, cfg.HTTPClient = "", meta.URL+"/tenant/", meta.Client()
		s, err := NewTokenSource(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Token(context.Background()); err != nil {
			t.Fatalf("Token() error = %v", err)
		}
		if got := metaHits.Load(); got != 3 {
			t.Errorf("requests = %d; want 3 (RFC 8414 miss, OIDC, token)", got)
		}
	})
	t.Run("issuer mismatch", func(t *testing.T) {
		cfg := a.config()
		cfg.TokenURL, cfg.Issuer, cfg.HTTPClient = "", meta.URL+"/other/", meta.Client()
		s, _ := NewTokenSource(cfg)
		if _, err := s.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "discovery") {
			t.Errorf("Token() error = %v; want a discovery error", err)
		}
	})
	t.Run("metadata redirected to http", func(t *testing.T) {
		// Metadata read over plain http could name any token endpoint,
		// and the client secret would follow it.
		var plainHits atomic.Int64
		plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			plainHits.Add(1)
			io.WriteString(w, `{"issuer":"`+meta.URL+`/tenant/","token_endpoint":"`+meta.URL+`/oauth/token"}`)
		}))
		defer plain.Close()
		base := meta.Client().Transport // shared by the other subtests: do not modify
		hc := &http.Client{Transport: rtFunc(func(r *http.Request) (*http.Response, error) {
			if r.URL.Scheme == "https" && strings.Contains(r.URL.Path, ".well-known") {
				return &http.Response{StatusCode: http.StatusFound, Header: http.Header{"Location": {plain.URL + r.URL.Path}}, Body: http.NoBody, Request: r}, nil
			}
			return base.RoundTrip(r)
		})}
		cfg := a.config()
		cfg.TokenURL, cfg.Issuer, cfg.HTTPClient = "", meta.URL+"/tenant/", hc
		cfg.Scopes = []string{"not-the-cached-token"} // the "issuer" subtest cached one
		s, _ := NewTokenSource(cfg)
		if _, err := s.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "https to plain http") {
			t.Errorf("Token() error = %v; want a refused redirect", err)
		}
		if got := plainHits.Load(); got != 0 {
			t.Errorf("plain http metadata requests = %d; want 0", got)
		}
	})
	t.Run("auth0 domain", func(t *testing.T) {
		cfg := a.config()
		cfg.TokenURL, cfg.Domain, cfg.HTTPClient = "", host, meta.Client()
		cfg.Audience = a.audience
		s, err := NewTokenSource(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Token(context.Background()); err != nil {
			t.Fatalf("Token() error = %v", err)
		}
	})
}

func TestRefusals(t *testing.T) {
	tests := []struct {
		name     string
		fail     []failure
		mutate   func(*Config)
		wantCode string
		wantDesc string
		wantRL   bool
		wantWait time.Duration
		attempts int64
	}{
		{name: "wrong secret", mutate: func(c *Config) { c.ClientSecret = "nope" }, wantCode: "access_denied", wantDesc: "Unauthorized", attempts: 1},
		{name: "unknown audience", mutate: func(c *Config) { c.Audience = "https://other" }, wantCode: "access_denied", wantDesc: "Service not found: https://other", attempts: 1},
		{name: "management style body", fail: []failure{{status: 400, body: `{"statusCode":400,"error":"Bad Request","message":"Payload validation error","errorCode":"invalid_body"}`}}, wantCode: "invalid_body", wantDesc: "Payload validation error", attempts: 1},
		{name: "not json", fail: []failure{{status: 403, body: `<html>nope</html>`}}, attempts: 1},
		{name: "429 exhausted", fail: repeat(failure{status: 429, header: map[string]string{"x-ratelimit-limit": "1000", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1700000002"}, body: `{"error":"too_many_requests","error_description":"Global limit has been reached"}`}, 4),
			wantRL: true, wantCode: "too_many_requests", wantDesc: "Global limit has been reached", wantWait: 2 * time.Second, attempts: 4},
		{name: "429 wait beyond budget", fail: []failure{{status: 429, header: map[string]string{"Retry-After": "3600"}, body: `{"error":"too_many_requests"}`}},
			wantRL: true, wantCode: "too_many_requests", wantWait: time.Hour, attempts: 1},
		{name: "redirect not followed", fail: []failure{{status: 307, header: map[string]string{"Location": "https://elsewhere.example/token"}, body: `{}`}}, attempts: 1},
		{name: "500 exhausted", fail: repeat(failure{status: 500, body: `{"error":"server_error"}`}, 4), wantCode: "server_error", attempts: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAuth0(t)
			a.failWith(tt.fail...)
			cfg := a.config()
			clk := newClock()
			cfg.Now = clk.Now
			if tt.mutate != nil {
				tt.mutate(&cfg)
			}
			s, err := NewTokenSource(cfg)
			if err != nil {
				t.Fatal(err)
			}
			sl := &sleeps{}
			s.sleep = sl.sleep
			_, err = s.Token(context.Background())
			if err == nil {
				t.Fatal("Token() error = nil; want a refusal")
			}
			if strings.Contains(err.Error(), cfg.ClientSecret) {
				t.Errorf("error %q contains the secret", err)
			}
			var re *RetrieveError
			if !errors.As(err, &re) {
				t.Fatalf("Token() error = %T %v; want a *RetrieveError in the chain", err, err)
			}
			if re.ErrorCode != tt.wantCode || re.Description != tt.wantDesc {
				t.Errorf("RetrieveError = %q %q; want %q %q", re.ErrorCode, re.Description, tt.wantCode, tt.wantDesc)
			}
			var rl *RateLimitError
			if got := errors.As(err, &rl); got != tt.wantRL {
				t.Fatalf("errors.As(RateLimitError) = %v; want %v (%v)", got, tt.wantRL, err)
			}
			if rl != nil {
				if rl.RetryAfter != tt.wantWait || rl.StatusCode != 429 {
					t.Errorf("RateLimitError = %+v; want RetryAfter %v", rl, tt.wantWait)
				}
				if tt.name == "429 exhausted" && (rl.Limit != 1000 || rl.Remaining != 0 || !rl.Reset.Equal(time.Unix(1700000002, 0))) {
					t.Errorf("RateLimitError = %+v; want limit 1000, remaining 0, reset 1700000002", rl)
				}
			}
			if got := a.requests.Load(); got != tt.attempts {
				t.Errorf("token requests = %d; want %d", got, tt.attempts)
			}
		})
	}
}

func repeat(f failure, n int) []failure {
	out := make([]failure, n)
	for i := range out {
		out[i] = f
	}
	return out
}

func TestRetryBackoff(t *testing.T) {
	a := newAuth0(t)
	a.failWith(
		failure{status: 503, body: `{}`},
		failure{status: 429, header: map[string]string{"Retry-After": "7"}, body: `{"error":"too_many_requests"}`},
		failure{status: 429, header: map[string]string{"X-RateLimit-Reset": "1700000005"}, body: `{"error":"too_many_requests"}`},
	)
	cfg := a.config()
	clk := newClock()
	cfg.Now = clk.Now
	cfg.Retry = RetryPolicy{MaxAttempts: 5, BaseDelay: time.Second, MaxDelay: 4 * time.Second, MaxElapsed: time.Minute}
	s, _ := NewTokenSource(cfg)
	sl := &sleeps{}
	s.sleep = sl.sleep
	tok, err := s.Token(context.Background())
	if err != nil {
		t.Fatalf("Token() error = %v", err)
	}
	if tok.AccessToken != "tok-1" {
		t.Errorf("Token() = %q; want tok-1", tok.AccessToken)
	}
	got := sl.all()
	if len(got) != 3 || got[0] > time.Second || got[1] != 7*time.Second || got[2] != 5*time.Second {
		t.Errorf("sleeps = %v; want [<=1s 7s 5s] (full jitter, Retry-After, X-RateLimit-Reset)", got)
	}
	// Full jitter stays within the exponential cap.
	p := cfg.Retry.withDefaults()
	for n := 1; n < 10; n++ {
		for range 50 {
			if d := p.backoff(n); d < 0 || d > p.MaxDelay || d > p.BaseDelay<<(n-1) {
				t.Fatalf("backoff(%d) = %v; want within [0, min(%v, %v)]", n, d, p.MaxDelay, p.BaseDelay<<(n-1))
			}
		}
	}
}

func TestRetryStopsWithContext(t *testing.T) {
	a := newAuth0(t)
	a.failWith(repeat(failure{status: 503, body: `{}`}, 10)...)
	cfg := a.config()
	cfg.Retry = RetryPolicy{MaxAttempts: 10, BaseDelay: time.Hour, MaxDelay: time.Hour, MaxElapsed: 10 * time.Hour}
	s, _ := NewTokenSource(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Token(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Token() error = %v; want context.DeadlineExceeded", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Token() took %v; want it to stop when the context ends", el)
	}
}

func TestConnectionErrorRetried(t *testing.T) {
	a := newAuth0(t)
	cfg := a.config()
	var calls atomic.Int64
	cfg.HTTPClient = &http.Client{Transport: rtFunc(func(r *http.Request) (*http.Response, error) {
		if calls.Add(1) == 1 {
			return nil, errors.New("connection reset by peer")
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	s, _ := NewTokenSource(cfg)
	s.sleep = (&sleeps{}).sleep
	if _, err := s.Token(context.Background()); err != nil {
		t.Fatalf("Token() error = %v; want a retry after the connection error", err)
	}
	if calls.Load() != 2 {
		t.Errorf("attempts = %d; want 2", calls.Load())
	}
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestOneFetchFor10000Callers(t *testing.T) {
	a := newAuth0(t)
	synctest.Test(t, func(t *testing.T) {
		a.gate = make(chan struct{}) // made in the bubble: waiting on it is durable
		s, err := NewTokenSource(a.inProcess(t))
		if err != nil {
			t.Fatal(err)
		}
		const n = 10000
		var wg sync.WaitGroup
		var ok atomic.Int64
		tokens := make([]*Token, n)
		// One impatient waiter: its context ends while the fetch is blocked.
		impatient, cancel := context.WithCancel(context.Background())
		impatientDone := make(chan error, 1)
		go func() { _, err := s.Token(impatient); impatientDone <- err }()
		for i := range n {
			wg.Go(func() {
				tok, err := s.Token(context.Background())
				if err == nil {
					ok.Add(1)
					tokens[i] = tok
				}
			})
		}
		// Every caller waits: the single request is at the server.
		synctest.Wait()
		if got := a.requests.Load(); got != 1 {
			t.Fatalf("token requests while %d callers wait = %d; want 1", n, got)
		}
		cancel()
		if err := <-impatientDone; !errors.Is(err, context.Canceled) {
			t.Errorf("impatient Token() = %v; want context.Canceled", err)
		}
		close(a.gate)
		wg.Wait()
		if got := a.requests.Load(); got != 1 {
			t.Errorf("token requests = %d; want exactly 1 for %d callers", got, n)
		}
		if ok.Load() != n {
			t.Errorf("successful callers = %d; want %d", ok.Load(), n)
		}
		for i, tok := range tokens {
			if tok == nil || tok.AccessToken != "tok-1" {
				t.Fatalf("caller %d got %v; want tok-1", i, tok)
			}
		}
	})
}

func TestEarlyRefreshAndKeepOnFailure(t *testing.T) {
	a := newAuth0(t)
	synctest.Test(t, func(t *testing.T) { earlyRefreshAndKeepOnFailure(t, a) })
}

func earlyRefreshAndKeepOnFailure(t *testing.T, a *auth0) {
	a.lifetime = 1000
	cfg := a.inProcess(t)
	clk := newClock()
	cfg.Now = clk.Now
	cfg.Retry = RetryPolicy{MaxAttempts: 1}
	var logs strings.Builder
	var logMu sync.Mutex
	cfg.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, nil))
	s, _ := NewTokenSource(cfg)
	s.jitter = func() float64 { return 1 } // refresh at 80%
	ctx := context.Background()
	get := func() string {
		t.Helper()
		tok, err := s.Token(ctx)
		if err != nil {
			t.Fatalf("Token() error = %v", err)
		}
		return tok.AccessToken
	}
	wait := func(want int64) {
		t.Helper()
		synctest.Wait() // the background refresh has finished
		if got := s.c.fetches.Load(); got != want || s.inFlight() {
			t.Fatalf("fetches = %d, in flight %v; want %d, none", got, s.inFlight(), want)
		}
	}
	if got := get(); got != "tok-1" {
		t.Fatalf("first token = %s; want tok-1", got)
	}
	clk.Advance(790 * time.Second)
	if got := get(); got != "tok-1" || s.c.fetches.Load() != 1 {
		t.Fatalf("at 79%%: token %s, fetches %d; want tok-1 and no refresh", got, s.c.fetches.Load())
	}
	// Past 80%: the refresh fails (500), the old token stays in use.
	a.failWith(failure{status: 500, body: `{"error":"server_error"}`})
	clk.Advance(20 * time.Second)
	if got := get(); got != "tok-1" {
		t.Fatalf("at 81%%: token %s; want tok-1 while refreshing", got)
	}
	wait(2)
	if got := get(); got != "tok-1" || s.c.fetches.Load() != 2 {
		t.Fatalf("after failed refresh: token %s, fetches %d; want tok-1 and no immediate retry", got, s.c.fetches.Load())
	}
	logMu.Lock()
	if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "client_id=client-1") || strings.Contains(l, a.secret) {
		t.Errorf("log after a failed refresh = %q; want a warning with the client id and no secret", l)
	}
	logMu.Unlock()
	// After the retry delay, the next call refreshes in the background.
	clk.Advance(refreshRetryDelay + time.Second)
	get()
	wait(3)
	if got := get(); got != "tok-2" {
		t.Fatalf("after a successful refresh: token %s; want tok-2", got)
	}
	// A token past its expiry margin is never returned: the caller waits.
	a.failWith(failure{status: 400, body: `{"error":"invalid_client"}`})
	clk.Advance(1000 * time.Second)
	if _, err := s.Token(ctx); err == nil {
		t.Errorf("Token() with expired cache and failing server = nil error; want the refusal")
	}
}

func (s *TokenSource) inFlight() bool {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.c.flight != nil
}

func TestSharedCache(t *testing.T) {
	a := newAuth0(t)
	s1, _ := NewTokenSource(a.config())
	s2, _ := NewTokenSource(a.config())
	other := a.config()
	other.Scopes = []string{"x"}
	s3, _ := NewTokenSource(other)
	two := a.config()
	two.Scopes = []string{"x", "y"}
	s4, _ := NewTokenSource(two)
	two.Scopes = []string{"y", "x"}
	s5, _ := NewTokenSource(two)
	if s4.c != s5.c {
		t.Errorf("scopes [x y] and [y x] have separate caches; want one")
	}
	ctx := context.Background()
	t1, _ := s1.Token(ctx)
	t2, _ := s2.Token(ctx)
	t3, _ := s3.Token(ctx)
	if t1 != t2 {
		t.Errorf("equal configs got %v and %v; want one shared token", t1.AccessToken, t2.AccessToken)
	}
	if t3 == t1 {
		t.Errorf("different scopes share a token; want separate caches")
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
