package httpauth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
)

// staticVerifier accepts every request with one fixed Principal: the
// trivial verifier, so the benchmarks measure the middleware itself.
type staticVerifier struct{ p *m2m.Principal }

func (s staticVerifier) Verify(*http.Request) (*m2m.Principal, error) { return s.p, nil }

// noCredentials finds no credential of its scheme, as a verifier of an
// absent scheme does before the middleware tries the next one.
type noCredentials struct{}

func (noCredentials) Verify(*http.Request) (*m2m.Principal, error) { return nil, m2m.ErrNoCredentials }

// discard is a ResponseWriter that keeps nothing, so the benchmarks do not
// measure httptest.ResponseRecorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })

// BenchmarkMiddleware measures the per-request overhead of
// Middleware.Handler with a trivial verifier against the bare handler.
func BenchmarkMiddleware(b *testing.B) {
	p := &m2m.Principal{Subject: "bot", Scheme: "static"}
	r := httptest.NewRequest("GET", "/v1/things", nil)
	r.Header.Set("Authorization", "Bearer x")
	cases := []struct {
		name string
		h    http.Handler
	}{
		{"bare-handler", okHandler},
		{"Handler/1-verifier", (&httpauth.Middleware{Verifiers: []m2m.Verifier{staticVerifier{p}}}).Handler(okHandler)},
		{"Handler/3rd-of-3-verifiers", (&httpauth.Middleware{Verifiers: []m2m.Verifier{noCredentials{}, noCredentials{}, staticVerifier{p}}}).Handler(okHandler)},
		{"Optional/1-verifier", (&httpauth.Middleware{Verifiers: []m2m.Verifier{staticVerifier{p}}}).Optional(okHandler)},
		{"Handler+RequireScope", (&httpauth.Middleware{Verifiers: []m2m.Verifier{staticVerifier{&m2m.Principal{Subject: "bot", Scopes: []string{"read"}}}}}).Handler(httpauth.RequireScope("read")(okHandler))},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				c.h.ServeHTTP(w, r)
			}
		})
	}
}

// BenchmarkRefusal measures a refused request: the 401 with challenges and
// the JSON body.
func BenchmarkRefusal(b *testing.B) {
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{noCredentials{}}}
	h := m.Handler(okHandler)
	r := httptest.NewRequest("GET", "/v1/things", nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(&discard{h: http.Header{}}, r)
	}
}
