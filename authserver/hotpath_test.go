package authserver

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/m2mkit/m2m/ratelimit"
)

// TestResponseHeadersCanonical checks that the headers the token
// endpoint stores directly (without http.Header.Set) are in canonical
// form, so that Get finds them and the wire shows what Set would write,
// and that writing them costs at most two allocations (one string, one
// slice backing array), for the rate limit alone (refusals) as for all the
// headers of a token response.
func TestResponseHeadersCanonical(t *testing.T) {
	d := &ratelimit.Decision{Limit: 1000, Remaining: 998, Reset: time.Unix(1700000000, 5)}
	h := http.Header{}
	setRateHeaders(h, d)
	for k, want := range map[string]string{"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "998", "X-RateLimit-Reset": "1700000001"} {
		if got := h.Get(k); got != want {
			t.Errorf("after setRateHeaders, Get(%q) = %q; want %q", k, got, want)
		}
	}
	w := httptest.NewRecorder()
	(&Server{}).writeToken(w, &issued{token: "a.b.c", ttl: time.Hour, scope: "read", rate: *d})
	for k := range w.Header() {
		if k != http.CanonicalHeaderKey(k) {
			t.Errorf("header %q is not canonical (%q)", k, http.CanonicalHeaderKey(k))
		}
	}
	if got := w.Header().Get("Content-Length"); got != "80" || w.Body.Len() != 80 {
		t.Errorf("Content-Length %q, body %d bytes %q; want 80", got, w.Body.Len(), w.Body)
	}
	for k, want := range map[string]string{"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "998", "X-RateLimit-Reset": "1700000001",
		"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache"} {
		if got := w.Header().Values(k); len(got) != 1 || got[0] != want {
			t.Errorf("after writeToken, Values(%q) = %q; want [%q]", k, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { setRateHeaders(h, d) }); n > 2 {
		t.Errorf("setRateHeaders: %v allocations; want at most 2", n)
	}
	if raceEnabled {
		return // the race detector drops sync.Pool items at random
	}
	dw := &discardWriter{h: http.Header{}}
	iss := &issued{token: "a.b.c", ttl: time.Hour, scope: "read", rate: *d}
	if n := testing.AllocsPerRun(100, func() { clear(dw.h); (&Server{}).writeToken(dw, iss) }); n > 2 {
		t.Errorf("writeToken: %v allocations; want at most 2", n)
	}
}

// discardWriter is a ResponseWriter that keeps its headers and discards
// the rest.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(int)             {}
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
