package clientcred

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzTokenResponse feeds arbitrary token endpoint bodies to the parsers:
// they must never panic, and an accepted token has a positive lifetime.
func FuzzTokenResponse(f *testing.F) {
	for _, s := range []string{
		`{"access_token":"a","token_type":"Bearer","expires_in":86400,"scope":"read:messages"}`,
		`{"access_token":"a","expires_in":"3600"}`,
		`{"access_token":"a","expires_in":1e300}`,
		`{"error":"access_denied","error_description":"Unauthorized"}`,
		`{"statusCode":429,"error":"Too Many Requests","message":"Global limit has been reached","errorCode":"too_many_requests"}`,
		`[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	s := &TokenSource{cfg: Config{Now: func() time.Time { return time.Unix(1700000000, 0) }}, jitter: func() float64 { return 0.5 }}
	f.Fuzz(func(t *testing.T, body []byte) {
		_ = parseErrorBody(400, body)
		tok, err := s.parseToken(body)
		if err == nil && (tok.AccessToken == "" || !tok.Expiry.After(time.Unix(1700000000, 0)) || tok.refreshAt.After(tok.Expiry)) {
			t.Fatalf("parseToken(%q) = %+v; want a token with a future expiry", body, tok)
		}
	})
}

// FuzzRetryAfter checks that no header value gives a negative wait.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "Wed, 21 Oct 2015 07:28:00 GMT", "1675452600", "-1", "1e308", "0.5", ""} {
		f.Add(s, s)
	}
	now := time.Unix(1700000000, 0)
	f.Fuzz(func(t *testing.T, ra, reset string) {
		h := http.Header{}
		h.Set("Retry-After", ra)
		h.Set("X-RateLimit-Reset", reset)
		if d, _, ok := retryAfter(h, now); ok && d < 0 {
			t.Fatalf("retryAfter(%q, %q) = %v; want >= 0", ra, reset, d)
		}
	})
}

// FuzzAskedForNonce: any WWW-Authenticate value is read without a panic.
func FuzzAskedForNonce(f *testing.F) {
	for _, s := range []string{
		`DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`,
		`DPoP algs="ES256 PS256", Bearer`, `Bearer error="invalid_token"`, `DPoP error=use_dpop_nonce`, ``, `,,=`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		h := http.Header{}
		h.Set("WWW-Authenticate", v)
		got := askedForNonce(h)
		if got && !strings.Contains(v, "use_dpop_nonce") {
			t.Fatalf("askedForNonce(%q) = true", v)
		}
	})
}
