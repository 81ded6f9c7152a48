package httpauth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

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
