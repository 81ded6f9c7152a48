package clientcred

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"weak"
)

// TokenSource fetches and caches access tokens for one [Config]. It is
// safe for concurrent use.
//
// Sources built from configurations with the same endpoint, client id,
// client secret, audience and scopes share one token cache in the
// process, so several clients for one API cost one token.
type TokenSource struct {
	cfg        Config
	c          *cache
	discovered atomic.Pointer[string]
	sleep      sleepFunc
	jitter     func() float64
	// hc makes the token and discovery requests; apiBase is the base
	// transport of API requests through a Transport with no Base (nil:
	// http.DefaultTransport). Both present the ClientCertificate, if any.
	hc      *http.Client
	apiBase http.RoundTripper
}

// cache is the token state shared by equal sources.
type cache struct {
	cur     atomic.Pointer[Token]
	nextTry atomic.Int64 // unix nanos before which no background refresh starts
	mu      sync.Mutex
	flight  *flight
	fetches atomic.Int64 // token fetches started, for tests and metrics
}

type flight struct {
	done chan struct{}
	tok  *Token
	err  error
}

// refreshRetryDelay is the wait after a failed background refresh before
// the next one, while the current token stays in use.
const refreshRetryDelay = 5 * time.Second

// NewTokenSource resolves c (see [Config.Resolve]) and returns its token
// source.
func NewTokenSource(c Config) (*TokenSource, error) {
	rc, err := c.Resolve()
	if err != nil {
		return nil, err
	}
	s := &TokenSource{cfg: rc, sleep: sleepCtx, jitter: rand.Float64, hc: rc.httpClient()}
	if cc := rc.ClientCertificate; cc != nil {
		s.apiBase = cc.RoundTripper(nil)
		switch t := s.hc.Transport.(type) {
		case nil:
			hc := *s.hc
			hc.Transport = s.apiBase
			s.hc = &hc
		case *http.Transport:
			hc := *s.hc
			hc.Transport = cc.RoundTripper(t)
			s.hc = &hc
		}
	}
	if rc.Assertion != nil {
		s.c = new(cache) // no secret to tell equal configurations apart by
	} else {
		s.c = sharedCache(cacheKey(&rc))
	}
	return s, nil
}

func cacheKey(c *Config) string {
	secret := sha256.Sum256([]byte(c.ClientSecret))
	scopes := append([]string(nil), c.Scopes...)
	slices.Sort(scopes) // the same set of scopes in another order is the same token
	dpop := ""
	if c.DPoP != nil {
		dpop = "dpop " + c.DPoP.Thumbprint()
	}
	cert := ""
	if c.ClientCertificate != nil {
		cert = "cert " + strconv.FormatUint(c.ClientCertificate.id, 10)
	}
	return strings.Join([]string{c.endpointKey(), c.ClientID, hex.EncodeToString(secret[:]), c.Audience, strings.Join(scopes, " "), dpop, cert}, "\x00")
}

var registry = struct {
	sync.Mutex
	m map[string]weak.Pointer[cache]
}{m: make(map[string]weak.Pointer[cache])}

// sharedCache returns the live cache for key, creating it if needed. An
// entry disappears when no source uses its cache any more.
func sharedCache(key string) *cache {
	registry.Lock()
	defer registry.Unlock()
	if wp, ok := registry.m[key]; ok {
		if c := wp.Value(); c != nil {
			return c
		}
	}
	c := new(cache)
	wp := weak.Make(c)
	registry.m[key] = wp
	runtime.AddCleanup(c, func(key string) {
		registry.Lock()
		if cur, ok := registry.m[key]; ok && cur.Value() == nil {
			delete(registry.m, key)
		}
		registry.Unlock()
	}, key)
	return c
}

// Token returns a valid access token: the cached one while it is fresh
// (no lock, no I/O), a cached one past its refresh point while a single
// background refresh runs, or the result of the one fetch in flight. A
// caller whose ctx ends stops waiting without disturbing the fetch, which
// runs detached with its own timeout.
//
// Errors: the configuration errors of [Config.Resolve], [*RetrieveError]
// for a refusal, [*RateLimitError] when the endpoint still answered 429
// after the retries, or a transport error.
func (s *TokenSource) Token(ctx context.Context) (*Token, error) {
	now := s.cfg.now()
	if t := s.c.cur.Load(); t != nil && s.usable(t, now) {
		if !now.Before(t.refreshAt) && now.UnixNano() >= s.c.nextTry.Load() {
			s.start(ctx, now, false)
		}
		return t, nil
	}
	t, f := s.start(ctx, now, true)
	if t != nil {
		return t, nil
	}
	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// start returns a usable token, or the flight to wait for, starting one
// if none is running. With need false it only starts a background
// refresh.
func (s *TokenSource) start(ctx context.Context, now time.Time, need bool) (*Token, *flight) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.cur.Load(); need && t != nil && s.usable(t, now) {
		return t, nil // another caller's fetch finished meanwhile
	}
	if c.flight != nil {
		return nil, c.flight
	}
	if !need && now.UnixNano() < c.nextTry.Load() {
		return nil, nil
	}
	f := &flight{done: make(chan struct{})}
	c.flight = f
	timeout := s.cfg.FetchTimeout
	if timeout <= 0 {
		timeout = DefaultFetchTimeout
	}
	c.nextTry.Store(now.Add(timeout).UnixNano())
	c.fetches.Add(1)
	go func() {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		tok, err := s.fetch(fctx)
		c.mu.Lock()
		if err == nil {
			c.cur.Store(tok)
			c.nextTry.Store(0)
		} else {
			c.nextTry.Store(s.cfg.now().Add(refreshRetryDelay).UnixNano())
			if l := s.cfg.Logger; l != nil {
				if need {
					l.Info("clientcred: token fetch failed", "client_id", s.cfg.ClientID, "error", err)
				} else {
					l.Warn("clientcred: token refresh failed; the current token stays in use", "client_id", s.cfg.ClientID, "error", err)
				}
			}
		}
		c.flight = nil
		f.tok, f.err = tok, err
		close(f.done)
		c.mu.Unlock()
	}()
	return nil, f
}

// usable reports whether t may still be sent: it is not stale, and it
// was requested with the client certificate presented now (a token bound
// to a replaced certificate would be refused).
func (s *TokenSource) usable(t *Token, now time.Time) bool {
	if !now.Before(t.staleAt) {
		return false
	}
	cc := s.cfg.ClientCertificate
	return cc == nil || t.x5t == cc.Thumbprint()
}

// httpClient returns the client of token and discovery requests.
func (s *TokenSource) httpClient() *http.Client {
	if s.hc != nil {
		return s.hc
	}
	return s.cfg.httpClient()
}

// Invalidate drops tok from the cache if it is still the cached token, so
// the next [TokenSource.Token] fetches a new one. [Transport] calls it
// when an API answers 401 to tok.
func (s *TokenSource) Invalidate(tok *Token) {
	if tok == nil {
		return
	}
	s.c.cur.CompareAndSwap(tok, nil)
}
