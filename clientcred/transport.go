package clientcred

import (
	"errors"
	"io"
	"net/http"

	"github.com/m2mkit/m2m/httpauth"
)

// Transport is an http.RoundTripper that adds a bearer token from Source
// to every request. It never modifies the caller's request (it sends a
// clone) and closes the request body on every path.
//
// A request that http.Client makes to follow a redirect to another origin
// (scheme and host, port included) is sent without the token: a redirect
// must not hand the bearer token to a third party. Redirects within the
// origin of the first request keep it.
//
// When the API answers 401, Transport drops the token from the cache and
// retries once with a new one, provided the request body can be replayed
// (no body, or req.GetBody set, as http.NewRequest does for in-memory
// bodies). With Retry set it also retries 429 and 503 (any method) and
// 500/502/504 and connection errors (idempotent methods only), with
// full-jitter backoff that honours Retry-After and X-RateLimit-Reset,
// again only for replayable requests.
//
// Transport is safe for concurrent use.
type Transport struct {
	// Source supplies the tokens. Required.
	Source *TokenSource
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Retry enables retries of API requests; nil means none (only the
	// one retry after a 401).
	Retry *RetryPolicy
}

var _ http.RoundTripper = (*Transport)(nil)

// maxDrain bounds how much of a discarded response body is read so the
// connection can be reused.
const maxDrain = 64 << 10

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	bodyClosed := false
	closeBody := func() {
		if req.Body != nil && !bodyClosed {
			bodyClosed = true
			req.Body.Close()
		}
	}
	if t.Source == nil {
		closeBody()
		return nil, errors.New("clientcred: Transport has no Source")
	}
	if !httpauth.SameOriginAsFirst(req) {
		// A redirect to another origin: send it as it is, without a token.
		return t.base().RoundTrip(req)
	}
	ctx := req.Context()
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	policy := RetryPolicy{MaxAttempts: 1}.withDefaults()
	if t.Retry != nil {
		policy = t.Retry.withDefaults()
	}
	deadline := t.Source.cfg.now().Add(policy.MaxElapsed)
	retried401 := false
	for n := 1; ; n++ {
		tok, err := t.Source.Token(ctx)
		if err != nil {
			closeBody()
			return nil, err
		}
		r2 := req.Clone(ctx)
		r2.Header["Authorization"] = []string{tok.authorization()}
		if n > 1 || retried401 {
			if req.GetBody != nil {
				b, err := req.GetBody()
				if err != nil {
					closeBody()
					return nil, err
				}
				r2.Body = b
			}
		} else {
			// The base transport closes the original body; mark it so.
			bodyClosed = true
		}
		resp, err := t.base().RoundTrip(r2)
		if err != nil {
			if replayable && n < policy.MaxAttempts && idempotent(req.Method) && retryableErr(ctx, err) {
				if d, ok := policy.waitBeforeRetry(n, nil, t.Source.cfg.now(), deadline); ok && t.Source.sleep(ctx, d) == nil {
					continue
				}
			}
			closeBody()
			return nil, err
		}
		if resp.StatusCode == http.StatusUnauthorized && replayable && !retried401 {
			discard(resp)
			t.Source.Invalidate(tok)
			retried401 = true
			n--
			continue
		}
		if replayable && n < policy.MaxAttempts && retryableStatus(resp.StatusCode, idempotent(req.Method)) {
			if d, ok := policy.waitBeforeRetry(n, resp.Header, t.Source.cfg.now(), deadline); ok {
				discard(resp)
				if err := t.Source.sleep(ctx, d); err != nil {
					closeBody()
					return nil, err
				}
				continue
			}
		}
		return resp, nil
	}
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	resp.Body.Close()
}

func idempotent(method string) bool {
	switch method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}
