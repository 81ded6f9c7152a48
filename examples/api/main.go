// Command api is the protected example API of the README's quick start: it
// accepts only access tokens issued by an m2m token server ("m2m serve")
// for its audience, verified against the server's JWKS, and answers
// GET /hello with who called and with which scopes. GET /admin also
// requires the scope "admin".
//
//	go run ./examples/api -issuer http://127.0.0.1:8080 -audience https://api.example.com
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9090", "listen address")
	issuer := flag.String("issuer", "http://127.0.0.1:8080", "the token server's issuer URL")
	audience := flag.String("audience", "https://api.example.com", "this API's audience")
	flag.Parse()

	h, err := newAPI(*issuer, *audience)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("api: listening on http://%s (issuer %s, audience %s)", *addr, *issuer, *audience)
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// newAPI builds the protected handler: every route requires a valid
// RFC 9068 access token from issuer for audience.
func newAPI(issuer, audience string) (http.Handler, error) {
	tokens, err := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer:     issuer,
		Audiences:  []string{audience},
		Algorithms: []string{"ES256", "EdDSA", "RS256"},
		Keys:       jwk.NewRemoteKeySet(strings.TrimSuffix(issuer, "/") + "/.well-known/jwks.json"),
		Profile:    jwtauth.ProfileRFC9068,
	})
	if err != nil {
		return nil, err
	}
	auth := &httpauth.Middleware{Verifiers: []m2m.Verifier{tokens}}
	mux := http.NewServeMux()
	mux.Handle("GET /hello", auth.Handler(http.HandlerFunc(hello)))
	mux.Handle("GET /admin", auth.Handler(httpauth.RequireScope("admin")(http.HandlerFunc(hello))))
	return mux, nil
}

func hello(w http.ResponseWriter, r *http.Request) {
	p, _ := m2m.FromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"hello": p.ClientID, "scopes": p.Scopes, "path": r.URL.Path})
}
