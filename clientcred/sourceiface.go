package clientcred

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Source supplies access tokens to a [Transport]. It has the shape of
// golang.org/x/oauth2's TokenSource, with a context: fetching a token is
// I/O, and the caller's context (the API request's) bounds how long it
// waits, where x/oauth2 must capture a context when the source is built.
//
// [*TokenSource] is the Source of this package; [CachedSource] caches the
// tokens of any other. Implementations must be safe for concurrent use.
type Source interface {
	// Token returns a token to send, or an error that the request fails
	// with. It must not return a nil token with a nil error.
	Token(ctx context.Context) (*Token, error)
}

// Invalidator is implemented by a [Source] that caches tokens. [Transport]
// calls Invalidate with the token an API answered 401 to, so that the
// next Token call returns another. A Source that wraps another forwards
// Invalidate to it (as [CachedSource] does), so wrappers stack.
type Invalidator interface {
	Invalidate(tok *Token)
}

var (
	_ Source      = (*TokenSource)(nil)
	_ Invalidator = (*TokenSource)(nil)
	_ Source      = (*CachedSource)(nil)
	_ Invalidator = (*CachedSource)(nil)
)

// CachedSource caches the tokens of another [Source]: it returns the
// cached token until ExpiryDelta before its Expiry (a token without an
// Expiry until it is invalidated) and makes one fetch at a time, shared by
// every caller. The fetch runs detached from the caller that started it,
// bounded by FetchTimeout; each caller stops waiting when its own context
// ends.
//
// Use it around a Source that fetches on every call (a token exchange, a
// token file, another provider's client); a [*TokenSource] caches
// already. Its zero value has no Source and fails every call. A
// CachedSource must not be copied after first use; it is safe for
// concurrent use.
type CachedSource struct {
	// Source is the source of new tokens. Required.
	Source Source
	// ExpiryDelta is how long before its Expiry a token stops being
	// reused; zero means [DefaultExpiryDelta].
	ExpiryDelta time.Duration
	// FetchTimeout bounds one shared fetch; zero means
	// [DefaultFetchTimeout].
	FetchTimeout time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	mu     sync.Mutex
	cur    *Token
	flight *flight
}

// errNilToken is returned when a Source breaks its contract.
var errNilToken = errors.New("clientcred: source returned no token and no error")

// Token returns the cached token while it is fresh, else the result of the
// one fetch in flight, starting one if none runs.
func (c *CachedSource) Token(ctx context.Context) (*Token, error) {
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	c.mu.Lock()
	if t := c.cur; t != nil && c.fresh(t, now) {
		c.mu.Unlock()
		return t, nil
	}
	if c.Source == nil {
		c.mu.Unlock()
		return nil, errors.New("clientcred: CachedSource has no Source")
	}
	f := c.flight
	if f == nil {
		f = &flight{done: make(chan struct{})}
		c.flight = f
		go c.fetch(context.WithoutCancel(ctx), f)
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *CachedSource) fresh(t *Token, now time.Time) bool {
	if t.Expiry.IsZero() {
		return true
	}
	delta := c.ExpiryDelta
	if delta <= 0 {
		delta = DefaultExpiryDelta
	}
	return now.Before(t.Expiry.Add(-delta))
}

func (c *CachedSource) fetch(ctx context.Context, f *flight) {
	timeout := c.FetchTimeout
	if timeout <= 0 {
		timeout = DefaultFetchTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tok, err := c.Source.Token(ctx)
	if err == nil && tok == nil {
		err = errNilToken
	}
	c.mu.Lock()
	if err == nil {
		c.cur = tok
	} else {
		tok = nil
	}
	c.flight = nil
	f.tok, f.err = tok, err
	close(f.done)
	c.mu.Unlock()
}

// Invalidate drops tok from the cache if it is the cached token, and
// forwards it to the wrapped Source when that is an [Invalidator].
func (c *CachedSource) Invalidate(tok *Token) {
	if tok == nil {
		return
	}
	c.mu.Lock()
	if c.cur == tok {
		c.cur = nil
	}
	src := c.Source
	c.mu.Unlock()
	if inv, ok := src.(Invalidator); ok {
		inv.Invalidate(tok)
	}
}
