package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m/redisstore"
)

// outageBound is how long a token request may take while a backend is
// cut: the store read bound (5 s) plus slack for a loaded machine. A
// request never hangs beyond it.
const outageBound = 8 * time.Second

// throughProxy starts a proxy to rawURL's host and returns it with rawURL
// pointing at it.
func throughProxy(t *testing.T, rawURL string) (*proxy, string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, u.Host)
	u.Host = p.addr()
	return p, u.String()
}

func status(t *testing.T, u string) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestPostgresFault cuts PostgreSQL from a running server through a proxy
// (connections refused, then a black hole) and checks that issued tokens
// keep verifying, /readyz turns unready, /oauth/token answers 503 within
// a bound, and service resumes on its own when PostgreSQL is back.
func TestPostgresFault(t *testing.T) {
	for _, mode := range []struct {
		name  string
		state proxyState
	}{{"refused", proxyRefuse}, {"blackhole", proxyBlackhole}} {
		t.Run(mode.name, func(t *testing.T) {
			be := sharedBackends(t)
			p, pg := throughProxy(t, be.postgres)
			data := t.TempDir()
			s := startServer(t, data, "--database", pg, "--redis", be.redis, "--redis-prefix", be.prefix)
			c := be.createClient(t, data, "--name", "svc", "--audience", audience)
			tok := requestToken(t, s.url, c.ClientID, c.ClientSecret)
			if tok.status != http.StatusOK {
				t.Fatalf("token = %d %s", tok.status, tok.error)
			}
			v := &jwksVerifier{url: s.url, issuer: s.url, audience: audience}
			if _, _, err := v.verify(tok.token); err != nil {
				t.Fatal(err)
			}

			p.cut(mode.state)
			// The server answers from its client cache until the bound
			// passes; wait for the first refusal, the event of its cache
			// entry expiring (one request at a time, each bounded by
			// outageBound below).
			waitFor(t, 4*outageBound, func() bool {
				return requestToken(t, s.url, c.ClientID, c.ClientSecret).status != http.StatusOK
			})
			for _, id := range []string{c.ClientID, "never-seen-client"} {
				start := time.Now()
				r := requestToken(t, s.url, id, c.ClientSecret)
				took := time.Since(start)
				if r.status != http.StatusServiceUnavailable || r.error != "temporarily_unavailable" || took > outageBound {
					t.Errorf("token for %s with PostgreSQL cut = %d %q after %v; want 503 temporarily_unavailable within %v", id, r.status, r.error, took, outageBound)
				}
				t.Logf("token with PostgreSQL cut (%s): %d after %v", mode.name, r.status, took.Round(time.Millisecond))
			}
			start := time.Now()
			if got := status(t, s.url+"/readyz"); got != http.StatusServiceUnavailable {
				t.Errorf("/readyz with PostgreSQL cut = %d; want 503", got)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("/readyz with PostgreSQL cut took %v; want at most 3s", took)
			}
			// Issued tokens keep verifying: the JWKS is served from memory.
			v2 := &jwksVerifier{url: s.url, issuer: s.url, audience: audience}
			if _, _, err := v2.verify(tok.token); err != nil {
				t.Errorf("an issued token with PostgreSQL cut: %v; want it to verify", err)
			}

			p.restore()
			start = time.Now()
			waitFor(t, 20*time.Second, func() bool {
				return requestToken(t, s.url, c.ClientID, c.ClientSecret).status == http.StatusOK
			})
			waitFor(t, 5*time.Second, func() bool { return status(t, s.url+"/readyz") == http.StatusOK })
			t.Logf("service resumed %v after PostgreSQL came back", time.Since(start).Round(time.Millisecond))
			if !strings.Contains(s.stderr.String(), `"component":"store"`) {
				t.Errorf("serve logged nothing about the outage:\n%s", s.stderr)
			}
		})
	}
}

// TestRedisFault cuts Redis from a running server: rate limits fall back
// to local buckets (tokens are still issued, and still limited),
// revocation checks fail closed (introspection and revocation answer
// 503), and the shared state is used again when Redis is back. The replay
// cache fails closed unless InsecureFailOpen is set.
func TestRedisFault(t *testing.T) {
	be := sharedBackends(t)
	p, rd := throughProxy(t, be.redis)
	data := t.TempDir()
	s := startServer(t, data, "--database", be.postgres, "--redis", rd, "--redis-prefix", be.prefix)
	const burst = 3
	c := be.createClient(t, data, "--name", "svc", "--audience", audience, "--rate-limit", "0.01", "--burst", "3")
	take := func() tokenResult { return requestToken(t, s.url, c.ClientID, c.ClientSecret) }
	var tok string
	for i := range burst {
		r := take()
		if r.status != http.StatusOK {
			t.Fatalf("token %d = %d %s", i, r.status, r.error)
		}
		tok = r.token
	}
	if r := take(); r.status != http.StatusTooManyRequests {
		t.Fatalf("token over the Redis budget = %d; want 429", r.status)
	}

	p.cut(proxyBlackhole)
	// Local buckets: a fresh budget on this replica, still limited.
	granted := 0
	for range burst + 2 {
		start := time.Now()
		r := take()
		if took := time.Since(start); took > outageBound {
			t.Errorf("token with Redis cut took %v; want at most %v", took, outageBound)
		}
		switch r.status {
		case http.StatusOK:
			granted++
		case http.StatusTooManyRequests:
		default:
			t.Errorf("token with Redis cut = %d %s; want 200 or 429 (local buckets)", r.status, r.error)
		}
	}
	if granted != burst {
		t.Errorf("with Redis cut the replica granted %d of %d requests; want its local burst %d", granted, burst+2, burst)
	}
	// Revocations are in Redis: not knowing them is a 503, never "active".
	caller := be.createClient(t, data, "--name", "gw", "--audience", audience)
	for _, path := range []string{"/oauth/introspect", "/oauth/revoke"} {
		id, secret := caller.ClientID, caller.ClientSecret
		if path == "/oauth/revoke" {
			id, secret = c.ClientID, c.ClientSecret
		}
		r := postForm(t, s.url+path, id, secret, url.Values{"token": {tok}})
		if r.status != http.StatusServiceUnavailable {
			t.Errorf("POST %s with Redis cut = %d %s; want 503", path, r.status, r.error)
		}
	}
	if !strings.Contains(s.stderr.String(), "using local buckets") {
		t.Errorf("serve did not log the fallback to local buckets:\n%s", s.stderr)
	}

	p.restore()
	waitFor(t, 10*time.Second, func() bool {
		return postForm(t, s.url+"/oauth/revoke", c.ClientID, c.ClientSecret, url.Values{"token": {tok}}).status == http.StatusOK
	})
	if active(t, s.url, caller, tok) {
		t.Errorf("token revoked after Redis came back: active; want inactive")
	}
	// The shared budget again: it was spent before the outage.
	if r := take(); r.status != http.StatusTooManyRequests {
		t.Errorf("token after Redis came back = %d; want 429 (the shared budget is spent)", r.status)
	}
}

// TestReplayCacheRedisFault checks the Redis replay cache that rolling
// codes and dynamic tokens use across replicas, through a proxy that is
// cut: it fails closed by default and open only when asked to.
func TestReplayCacheRedisFault(t *testing.T) {
	be := sharedBackends(t)
	p, rd := throughProxy(t, be.redis)
	ctx := context.Background()
	cl, err := redisstore.Open(ctx, rd)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	closed := &redisstore.ReplayCache{Client: cl, Prefix: be.prefix + "replay:"}
	open := &redisstore.ReplayCache{Client: cl, Prefix: be.prefix + "replay:", InsecureFailOpen: true}
	exp := time.Now().Add(time.Minute)
	for i, want := range []bool{true, false} {
		if ok, err := closed.Use(ctx, "code-1", exp); ok != want || err != nil {
			t.Fatalf("Use(code-1) #%d = %v, %v; want %v, nil", i+1, ok, err, want)
		}
	}
	for _, state := range []proxyState{proxyRefuse, proxyBlackhole} {
		p.cut(state)
		start := time.Now()
		if ok, err := closed.Use(ctx, "code-2", exp); ok || err == nil {
			t.Errorf("Use with Redis cut (state %d) = %v, %v; want false and an error (fail closed)", state, ok, err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("Use with Redis cut took %v; want at most 3s", took)
		}
		if ok, err := open.Use(ctx, "code-3", exp); !ok || err != nil {
			t.Errorf("InsecureFailOpen Use with Redis cut = %v, %v; want true, nil", ok, err)
		}
		p.restore()
		waitFor(t, 5*time.Second, func() bool { return cl.Ping(ctx) == nil })
	}
	if ok, err := closed.Use(ctx, "code-2", exp); !ok || err != nil {
		t.Errorf("Use(code-2) after Redis came back = %v, %v; want true, nil (it was never recorded)", ok, err)
	}
	if ok, _ := closed.Use(ctx, "code-1", exp); ok {
		t.Errorf("Use(code-1) after the outage = true; want false (recorded before it)")
	}
}
