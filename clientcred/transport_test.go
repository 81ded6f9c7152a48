package clientcred

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// api is a protected API that accepts the stand-in's tokens except those
// in revoked, and records what it saw.
type api struct {
	srv     *httptest.Server
	revoked atomic.Value // string
	hits    atomic.Int64
	fail429 atomic.Int64 // answer 429 this many times
	last    atomic.Value // seen
}

type seen struct {
	Method, Auth, Query, Body, CType, Extra string
}

func newAPI(t *testing.T) *api {
	a := &api{}
	a.revoked.Store("")
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		a.last.Store(seen{r.Method, r.Header.Get("Authorization"), r.URL.RawQuery, string(b), r.Header.Get("Content-Type"), r.Header.Get("X-Extra")})
		if a.fail429.Load() > 0 {
			a.fail429.Add(-1)
			w.Header().Set("x-ratelimit-reset", "0")
			w.WriteHeader(429)
			return
		}
		auth := r.Header.Get("Authorization")
		if !strings.HasPrefix(auth, "Bearer tok-") || auth == "Bearer "+a.revoked.Load().(string) {
			w.WriteHeader(401)
			io.WriteString(w, `{"error":"invalid_token"}`)
			return
		}
		if r.URL.Path == "/missing" {
			w.WriteHeader(404)
			io.WriteString(w, "no such thing")
			return
		}
		io.WriteString(w, "ok "+string(b))
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *api) seen() seen { s, _ := a.last.Load().(seen); return s }

func TestClientMethods(t *testing.T) {
	idp := newAuth0(t)
	srv := newAPI(t)
	c, err := NewClient(idp.config())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		name string
		do   func() (*http.Response, error)
		want seen
	}{
		{"get with query", func() (*http.Response, error) {
			return c.Get(ctx, srv.srv.URL+"/x?a=1", Query(url.Values{"b": {"2 3"}}), Header("X-Extra", "e"))
		}, seen{Method: "GET", Auth: "Bearer tok-1", Query: "a=1&b=2+3", Extra: "e"}},
		{"post form", func() (*http.Response, error) {
			return c.Post(ctx, srv.srv.URL+"/x", Form(url.Values{"k": {"v"}}))
		}, seen{Method: "POST", Auth: "Bearer tok-1", Body: "k=v", CType: "application/x-www-form-urlencoded"}},
		{"put json", func() (*http.Response, error) {
			return c.Put(ctx, srv.srv.URL+"/x", JSON(map[string]int{"n": 1}))
		}, seen{Method: "PUT", Auth: "Bearer tok-1", Body: `{"n":1}`, CType: "application/json"}},
		{"patch body", func() (*http.Response, error) {
			return c.Patch(ctx, srv.srv.URL+"/x", Body([]byte("raw"), "text/plain"))
		}, seen{Method: "PATCH", Auth: "Bearer tok-1", Body: "raw", CType: "text/plain"}},
		{"delete", func() (*http.Response, error) { return c.Delete(ctx, srv.srv.URL+"/x") }, seen{Method: "DELETE", Auth: "Bearer tok-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := tt.do()
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("status = %d; want 200", resp.StatusCode)
			}
			if got := srv.seen(); got != tt.want {
				t.Errorf("API saw %+v; want %+v", got, tt.want)
			}
		})
	}
	t.Run("error on status", func(t *testing.T) {
		c2 := *c
		c2.ErrorOnStatus = true
		_, err := c2.Get(ctx, srv.srv.URL+"/missing?secret=x")
		var se *StatusError
		if !errors.As(err, &se) || se.StatusCode != 404 || string(se.Body) != "no such thing" || strings.Contains(se.Error(), "secret") {
			t.Errorf("Get(missing) error = %v; want a *StatusError 404 with the body and no query", err)
		}
		resp, err := c.Get(ctx, srv.srv.URL+"/missing")
		if err != nil || resp.StatusCode != 404 {
			t.Errorf("Get(missing) without ErrorOnStatus = %v, %v; want the 404 response", resp, err)
		}
		resp.Body.Close()
	})
}

func TestTransport401(t *testing.T) {
	idp := newAuth0(t)
	srv := newAPI(t)
	c, err := NewClient(idp.config())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	resp, err := c.Get(ctx, srv.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The server revokes tok-1: the transport drops it, fetches tok-2 and
	// replays the POST body.
	srv.revoked.Store("tok-1")
	before := srv.hits.Load()
	resp, err = c.Post(ctx, srv.srv.URL, Body([]byte("payload"), "text/plain"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok payload" || srv.seen().Auth != "Bearer tok-2" {
		t.Errorf("after revocation: %d %q auth %q; want 200 \"ok payload\" with tok-2", resp.StatusCode, b, srv.seen().Auth)
	}
	if got := srv.hits.Load() - before; got != 2 {
		t.Errorf("API requests = %d; want 2 (one 401, one retry)", got)
	}
	// A body that cannot be replayed is not retried: the 401 is returned.
	srv.revoked.Store("tok-2")
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.srv.URL, io.NopCloser(strings.NewReader("once")))
	before = srv.hits.Load()
	resp, err = c.HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || srv.hits.Load()-before != 1 {
		t.Errorf("non-replayable body: status %d after %d requests; want 401 after 1", resp.StatusCode, srv.hits.Load()-before)
	}
	// Only one retry: a token the server keeps refusing gives the 401.
	srv.revoked.Store("tok-3")
	idp.failWith() // nothing
	resp, err = c.Get(ctx, srv.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET after rotation: %d; want 200 with tok-3 refused then tok-4", resp.StatusCode)
	}
}

func TestTransport429(t *testing.T) {
	idp := newAuth0(t)
	srv := newAPI(t)
	c, err := NewClient(idp.config())
	if err != nil {
		t.Fatal(err)
	}
	sl := &sleeps{}
	c.HTTPClient.Transport.(*Transport).sleep = sl.sleep
	srv.fail429.Store(2)
	resp, err := c.Post(context.Background(), srv.srv.URL, JSON("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(sl.all()) != 2 {
		t.Errorf("status %d after sleeps %v; want 200 after two retries", resp.StatusCode, sl.all())
	}
}

// closeCounter is a request body that counts Close calls.
type closeCounter struct {
	io.Reader
	closed atomic.Int64
}

func (c *closeCounter) Close() error { c.closed.Add(1); return nil }

func TestTransportClosesBody(t *testing.T) {
	idp := newAuth0(t)
	srv := newAPI(t)
	tests := []struct {
		name  string
		setup func() *Transport
	}{
		{"no source", func() *Transport { return &Transport{} }},
		{"token error", func() *Transport {
			idp.failWith(failure{status: 401, body: `{"error":"access_denied"}`})
			s, _ := NewTokenSource(Config{ClientID: "other", ClientSecret: "x", Audience: "a", TokenURL: idp.srv.URL + "/oauth/token", Retry: RetryPolicy{MaxAttempts: 1}})
			return &Transport{Source: s}
		}},
		{"success", func() *Transport {
			s, _ := NewTokenSource(idp.config())
			return &Transport{Source: s}
		}},
		{"connection error", func() *Transport {
			s, _ := NewTokenSource(idp.config())
			return &Transport{Source: s, Base: rtFunc(func(r *http.Request) (*http.Response, error) {
				r.Body.Close()
				return nil, errors.New("refused")
			})}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := tt.setup()
			body := &closeCounter{Reader: strings.NewReader("b")}
			req, _ := http.NewRequest("POST", srv.srv.URL, body)
			req.Header.Set("X-Keep", "1")
			resp, err := tr.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
			if body.closed.Load() < 1 {
				t.Errorf("RoundTrip did not close the request body")
			}
			if req.Header.Get("Authorization") != "" {
				t.Errorf("RoundTrip modified the caller's request")
			}
		})
	}
}

func TestWaiterHonoursOwnContextDuringRetries(t *testing.T) {
	idp := newAuth0(t)
	synctest.Test(t, func(t *testing.T) {
		idp.failWith(failure{status: 503, body: `{}`}, failure{status: 503, body: `{}`})
		cfg := idp.inProcess(t)
		cfg.Retry = RetryPolicy{MaxAttempts: 5, BaseDelay: 200 * time.Millisecond, MaxDelay: 200 * time.Millisecond}
		s, _ := NewTokenSource(cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		if _, err := s.Token(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("impatient Token() = %v; want DeadlineExceeded", err)
		}
		// The detached fetch goes on and serves the next caller.
		tok, err := s.Token(context.Background())
		if err != nil || tok.AccessToken != "tok-1" {
			t.Errorf("Token() = %v, %v; want tok-1 from the detached fetch", tok, err)
		}
		if got := idp.requests.Load(); got != 3 {
			t.Errorf("token requests = %d; want 3 (one fetch, two retries)", got)
		}
	})
}

// TestTransportRedirectKeepsTokenAtOrigin checks that a redirect followed
// by http.Client carries the token only while it stays at the origin of
// the first request: a redirect to another host must not receive it.
func TestTransportRedirectKeepsTokenAtOrigin(t *testing.T) {
	idp := newAuth0(t)
	var elsewhereAuth atomic.Value
	elsewhereAuth.Store("unset")
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhereAuth.Store(r.Header.Get("Authorization"))
		io.WriteString(w, "elsewhere")
	}))
	t.Cleanup(elsewhere.Close)
	var homeAuth atomic.Value
	home := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, elsewhere.URL+"/landing", http.StatusFound)
		case "/here":
			http.Redirect(w, r, "/final", http.StatusFound)
		default:
			homeAuth.Store(r.Header.Get("Authorization"))
			io.WriteString(w, "home")
		}
	}))
	t.Cleanup(home.Close)
	c, err := NewClient(idp.config())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		name, path string
		got        *atomic.Value
		want       string
	}{
		{"same origin keeps the token", "/here", &homeAuth, "Bearer tok-1"},
		{"other origin gets no token", "/away", &elsewhereAuth, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.Get(ctx, home.URL+tc.path)
			if err != nil {
				t.Fatal(err)
			}
			discard(resp)
			if got := tc.got.Load(); got != tc.want {
				t.Errorf("Authorization after a redirect from %s = %q; want %q", tc.path, got, tc.want)
			}
		})
	}
}

// TestClientErrorHidesQuery checks that a transport error does not carry
// the request's query, which may hold secrets (as StatusError.URL does not).
func TestClientErrorHidesQuery(t *testing.T) {
	idp := newAuth0(t)
	c, err := NewClient(idp.config())
	if err != nil {
		t.Fatal(err)
	}
	c.HTTPClient.Transport.(*Transport).Base = rtFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("connection refused")
	})
	deadURL := "http://api.example"
	_, err = c.Get(context.Background(), deadURL+"/x?api_key=hunter2", Query(url.Values{"sig": {"s3cret"}}))
	if err == nil {
		t.Fatal("Get through a failing transport succeeded")
	}
	if msg := err.Error(); strings.Contains(msg, "hunter2") || strings.Contains(msg, "s3cret") || !strings.Contains(msg, deadURL+"/x") {
		t.Errorf("Get error = %q; want the URL without its query", msg)
	}
}

func TestZeroClient(t *testing.T) {
	var c Client
	if _, err := c.Get(context.Background(), "https://api.example/"); err == nil {
		t.Error("zero Client.Get() error = nil; want an error, not a request without a token")
	}
}
