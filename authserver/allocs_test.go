package authserver_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/store"
)

// rewindBody is a request body that can be read again after Reset.
type rewindBody struct{ strings.Reader }

func (*rewindBody) Close() error { return nil }

// headerWriter is a ResponseWriter that keeps its headers, in a map
// reused from one response to the next, and the status; it discards the
// body.
type headerWriter struct {
	h      http.Header
	status int
}

func (w *headerWriter) Header() http.Header         { return w.h }
func (w *headerWriter) WriteHeader(status int)      { w.status = status }
func (w *headerWriter) Write(p []byte) (int, error) { return len(p), nil }

// handlerOwnAllocs is the cost the token handler adds to the
// signature: a client_secret_post request for all of the client's
// scopes, from parsing the body to writing the response.
const handlerOwnAllocs = 7

// TestTokenEndpointAllocs pins the allocations of one token request
// through the handler, less those of the Signer (the ECDSA signature
// itself, out of the handler's reach): the request and the response
// writer are reused, so what is counted is the handler's own work. A
// change that adds allocations to the hot path fails here; one that
// removes some should lower handlerOwnAllocs.
func TestTokenEndpointAllocs(t *testing.T) {
	if authserver.RaceEnabled {
		t.Skip("the race detector allocates and drops sync.Pool items at random")
	}
	f := newFixture(t, func(_ *authserver.Config, c *store.Client) { c.RateLimitPerSecond, c.RateLimitBurst = 1e6, 1e6 })
	body := f.creds().Encode()
	rb := &rewindBody{}
	r := httptest.NewRequest(http.MethodPost, "/oauth/token", rb)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := &headerWriter{h: http.Header{}}
	serve := func() {
		rb.Reset(body)
		r.ContentLength = int64(len(body))
		clear(w.h)
		w.status = 0
		f.srv.ServeHTTP(w, r)
	}
	serve()
	if w.status != http.StatusOK {
		t.Fatalf("POST /oauth/token = %d; want 200", w.status)
	}
	payload := []byte(`{"iss":"https://auth.example.test","sub":"c1","aud":"https://api.example.test","iat":1700000000,"exp":1700003600,"jti":"AAAAAAAAAAAAAAAAAAAAAA","scope":"read write","client_id":"c1"}`)
	signer := testing.AllocsPerRun(200, func() { f.signer.Sign("at+jwt", payload) })
	total := testing.AllocsPerRun(200, serve)
	own := total - signer
	t.Logf("handler %v allocations, of which the signer's %v", total, signer)
	// One allocation of margin: each count is a rounded-down average.
	if own > handlerOwnAllocs+1 {
		t.Errorf("token handler: %v allocations besides the signer's %v; want at most %d", own, signer, handlerOwnAllocs)
	}
}
