package clientcred

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/m2mkit/m2m/internal/oautherr"
)

// RetrieveError is a refusal from the token endpoint. It carries the RFC
// 6749 section 5.2 error code and description; for Auth0's other body
// shapes the code is errorCode, error or code, and the description
// error_description or message (as the auth0-python SDK reads them).
type RetrieveError struct {
	StatusCode  int
	ErrorCode   string // "invalid_client", "access_denied", ...
	Description string
	ErrorURI    string
	// Body is the start of the response body (at most 1 KiB), for
	// diagnosis. The client secret is masked in it and in the other
	// fields, in every form the request carried it, should the endpoint
	// echo the request.
	Body []byte
}

// Error gives the status, the error code and the description.
func (e *RetrieveError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "clientcred: token request refused: %d", e.StatusCode)
	if e.ErrorCode != "" {
		b.WriteString(" ")
		b.WriteString(e.ErrorCode)
	}
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	return b.String()
}

// RateLimitError is returned when the token endpoint still answered 429
// after the retries allowed. RetryAfter is how long the server asked to
// wait (from Retry-After or X-RateLimit-Reset), zero when it did not say.
type RateLimitError struct {
	StatusCode int // 429
	RetryAfter time.Duration
	// Reset is when the server's limit refills (X-RateLimit-Reset), zero
	// when absent. Limit and Remaining are X-RateLimit-Limit and
	// X-RateLimit-Remaining, -1 when absent.
	Reset            time.Time
	Limit, Remaining int
	Err              *RetrieveError // the last refusal
}

// Error says how long the server asked to wait.
func (e *RateLimitError) Error() string {
	s := "clientcred: rate limited by the token endpoint"
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %v)", e.RetryAfter.Round(time.Second))
	}
	if e.Err != nil && e.Err.Description != "" {
		s += ": " + e.Err.Description
	}
	return s
}

// Unwrap returns the underlying refusal.
func (e *RateLimitError) Unwrap() error {
	if e.Err == nil {
		return nil
	}
	return e.Err
}

// parseErrorBody reads an RFC 6749 or Auth0 error body.
func parseErrorBody(status int, body []byte) *RetrieveError {
	e := &RetrieveError{StatusCode: status}
	if len(body) > 1024 {
		e.Body = append([]byte(nil), body[:1024]...)
	} else {
		e.Body = append([]byte(nil), body...)
	}
	if b, ok := oautherr.Parse(body); ok {
		e.ErrorCode, e.Description, e.ErrorURI = b.Error, b.ErrorDescription, b.ErrorURI
	}
	return e
}

// retryAfter reads how long a 429 or 503 response asks the client to wait:
// Retry-After (seconds or an HTTP date), else X-RateLimit-Reset (unix
// seconds as Auth0 and GitHub send it, or a delay in seconds when the
// value is too small to be a date). ok is false when neither is present or
// valid.
func retryAfter(h http.Header, now time.Time) (d time.Duration, reset time.Time, ok bool) {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 && n < 1<<31 {
			return time.Duration(n) * time.Second, time.Time{}, true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0), time.Time{}, true
		}
	}
	if v := strings.TrimSpace(h.Get("X-RateLimit-Reset")); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err == nil && f >= 0 && f < 1e11 {
			if f >= 1e9 { // a unix time
				reset = time.Unix(int64(f), 0)
				return max(reset.Sub(now), 0), reset, true
			}
			return time.Duration(f * float64(time.Second)), time.Time{}, true
		}
	}
	return 0, time.Time{}, false
}

func headerInt(h http.Header, name string) int {
	n, err := strconv.Atoi(strings.TrimSpace(h.Get(name)))
	if err != nil {
		return -1
	}
	return n
}
