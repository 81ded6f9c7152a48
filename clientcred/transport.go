package clientcred

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/m2mkit/m2m/outbound"
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
// When the API answers 401, Transport invalidates the token (when Source
// is an [Invalidator]) and retries once with the next one, provided the request body can be replayed
// (no body, or req.GetBody set, as http.NewRequest does for in-memory
// bodies). With Retry set it also retries 429 and 503 (any method) and
// 500/502/504 and connection errors (idempotent methods only), with
// full-jitter backoff that honours Retry-After and X-RateLimit-Reset,
// again only for replayable requests.
//
// Transport is safe for concurrent use when Source and Base are (a
// [*TokenSource] and a [CachedSource] are).
type Transport struct {
	// Source supplies the tokens: a [*TokenSource], or any [Source]
	// (wrapped in a [CachedSource] if it does not cache). When it is an
	// [Invalidator], a token an API answers 401 to is invalidated before
	// the retry. Required.
	Source Source
	// Base sends the requests; nil means http.DefaultTransport or, when
	// Source is a [*TokenSource] with a Config.ClientCertificate, a clone
	// of it that presents the certificate
	// ([ClientCertificate.RoundTripper]). A Base of your own must present
	// the certificate itself: tokens bound to it are refused over a
	// connection without it.
	Base http.RoundTripper
	// Retry enables retries of API requests; nil means none (only the
	// one retry after a 401).
	Retry *RetryPolicy

	sleep sleepFunc // nil means sleepCtx; tests replace it
}

var _ http.RoundTripper = (*Transport)(nil)

// maxDrain bounds how much of a discarded response body is read so the
// connection can be reused.
const maxDrain = 64 << 10

// RoundTrip implements http.RoundTripper. Each attempt goes through an
// [outbound.Transport], which clones the request, closes its body on every
// path and leaves the token out of a redirect to another origin; such a
// request is sent once, as it is, and never retried here.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	policy := RetryPolicy{MaxAttempts: 1}.withDefaults()
	if t.Retry != nil {
		policy = t.Retry.withDefaults()
	}
	deadline := time.Now().Add(policy.MaxElapsed)
	retried401, retriedNonce := false, false
	for n := 1; ; n++ {
		attempt := req
		if n > 1 || retried401 || retriedNonce {
			// The first attempt handed req.Body to the base transport,
			// which closed it: replay a new copy.
			attempt = req.Clone(ctx)
			if req.GetBody != nil {
				b, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				attempt.Body = b
			}
		}
		var tok *Token
		ot := outbound.Transport{Base: t.base(), Authorize: func(r *http.Request) error {
			if t.Source == nil {
				return errors.New("clientcred: Transport has no Source")
			}
			var err error
			if tok, err = t.Source.Token(ctx); err != nil {
				return err
			}
			if tok == nil {
				return errNilToken
			}
			r.Header["Authorization"] = []string{tok.authorization()}
			if tok.dpop != nil {
				method := r.Method
				if method == "" {
					method = http.MethodGet
				}
				proof, err := tok.dpop.proof(method, r.URL.String(), tok.AccessToken, time.Now())
				if err != nil {
					return err
				}
				r.Header.Set("DPoP", proof)
			}
			return nil
		}}
		resp, err := ot.RoundTrip(attempt)
		if tok == nil {
			// No token was sent: a redirect to another origin, or no token
			// to send. Nothing here is worth a retry.
			return resp, err
		}
		if err != nil {
			if replayable && n < policy.MaxAttempts && idempotent(req.Method) && retryableErr(ctx, err) {
				if d, ok := policy.waitBeforeRetry(n, nil, time.Now(), deadline); ok && t.wait(ctx, d) == nil {
					continue
				}
			}
			return nil, err
		}
		if tok.dpop != nil && tok.dpop.noteNonce(attempt, resp.Header) && resp.StatusCode == http.StatusUnauthorized &&
			replayable && !retriedNonce && askedForNonce(resp.Header) {
			// RFC 9449 section 9: the same token again, with the
			// API's nonce in a new proof.
			discard(resp)
			retriedNonce = true
			n--
			continue
		}
		if resp.StatusCode == http.StatusUnauthorized && replayable && !retried401 {
			discard(resp)
			if inv, ok := t.Source.(Invalidator); ok {
				inv.Invalidate(tok)
			}
			retried401 = true
			n--
			continue
		}
		if replayable && n < policy.MaxAttempts && retryableStatus(resp.StatusCode, idempotent(req.Method)) {
			if d, ok := policy.waitBeforeRetry(n, resp.Header, time.Now(), deadline); ok {
				discard(resp)
				if err := t.wait(ctx, d); err != nil {
					return nil, err
				}
				continue
			}
		}
		return resp, nil
	}
}

func (t *Transport) wait(ctx context.Context, d time.Duration) error {
	if t.sleep != nil {
		return t.sleep(ctx, d)
	}
	return sleepCtx(ctx, d)
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	if s, ok := t.Source.(*TokenSource); ok && s.apiBase != nil {
		return s.apiBase
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
