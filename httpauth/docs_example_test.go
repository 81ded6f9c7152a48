package httpauth_test

import (
	"net/http"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
)

// docs/middleware.md: one middleware for three kinds of routes. (Compiled,
// not run.)
func Example_docsRoutes() {
	var deviceTokens, basicUsers m2m.Verifier
	mux := http.NewServeMux()
	api, page, adm := http.NotFoundHandler(), http.NotFoundHandler(), http.NotFoundHandler()

	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{deviceTokens, basicUsers}}
	mux.Handle("/api/", m.Handler(api))                            // 401 without credentials
	mux.Handle("/public/", m.Optional(page))                       // runs anonymously too
	mux.Handle("/admin/", m.Handler(m.RequireScope("admin")(adm))) // 403 insufficient_scope
}
