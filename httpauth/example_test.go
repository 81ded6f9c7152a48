package httpauth_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
)

func ExampleMiddleware() {
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{keyVerifier{"k1"}, bearerStub{}}}
	api := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := m2m.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s via %s", p.Subject, p.Scheme)
	}))

	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Key k1")
	w := httptest.NewRecorder()
	api.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Body)

	w = httptest.NewRecorder()
	api.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	fmt.Println(w.Code, w.Header().Values("WWW-Authenticate"))
	// Output:
	// 200 hello bot via key
	// 401 [Key realm="api" Bearer realm="api"]
}

func ExampleRequireScope() {
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{keyVerifier{"k1"}}}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "written") })
	api := m.Handler(httpauth.RequireScope("write")(ok))

	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("Authorization", "Key k1") // grants only "read"
	w := httptest.NewRecorder()
	api.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	// Output:
	// 403 Bearer error="insufficient_scope", scope="write"
}

func ExampleMiddleware_RequireScope() {
	m := &httpauth.Middleware{
		Verifiers: []m2m.Verifier{keyVerifier{"k1"}},
		Logger:    slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: dropTime})),
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "written") })
	api := m.Handler(m.RequireScope("write")(ok))

	r := httptest.NewRequest("POST", "/orders", nil)
	r.RemoteAddr = "192.0.2.1:1234"
	r.Header.Set("Authorization", "Key k1") // grants only "read"
	w := httptest.NewRecorder()
	api.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	// Output:
	// level=INFO msg="m2m: request refused" method=POST path=/orders remote_addr=192.0.2.1 reason=insufficient_scope scheme=key
	// 403 Bearer error="insufficient_scope", scope="write"
}

// dropTime removes the time from log records, for stable output.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.Attr{}
	}
	return a
}

func ExampleMiddleware_Refuse() {
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{keyVerifier{"k1"}}}
	// A handler that decides itself that the request may not proceed.
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Refuse(w, r, m2m.Invalid("key", m2m.ReasonForbidden, "this key may not delete"))
	}))
	r := httptest.NewRequest("DELETE", "/", nil)
	r.Header.Set("Authorization", "Key k1")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Print(w.Code, " ", w.Body)
	// Output: 403 {"error":"forbidden","error_description":"this key may not delete"}
}

func ExampleMiddleware_Challenges() {
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{keyVerifier{"k1"}, bearerStub{}}}
	for _, c := range m.Challenges(m2m.ErrNoCredentials) {
		fmt.Println(c)
	}
	// Output:
	// Key realm="api"
	// Bearer realm="api"
}
