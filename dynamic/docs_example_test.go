package dynamic_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/dynamic"
	"github.com/m2mkit/m2m/httpauth"
)

// The README's dynamic-token example, run: an API that accepts sealed
// tokens, and a client that sends a fresh one carrying a user id.
func Example_docsDynamic() {
	secret := m2m.Secret("32 random bytes, from a file....") // m2m secret init --secret-file dynamic.key
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := m2m.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s", p.Subject)
	})
	mux := http.NewServeMux()

	s := &dynamic.Sealed{Keys: []dynamic.Key{{ID: "2026-11", Secret: secret}}}
	mux.Handle("/api/", (&httpauth.Middleware{Verifiers: []m2m.Verifier{&dynamic.Verifier{Codec: s}}}).Handler(api))

	// The client: the token's UUID becomes the Principal's subject.
	client := &http.Client{Transport: &dynamic.Transport{Codec: s, UUID: "6061f78686f34f52da3ef464"}}

	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := client.Get(srv.URL + "/api/hello")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(b))
	// Output: 200 hello 6061f78686f34f52da3ef464
}

// docs/dynamic.md: an API that greets the user a sealed token carries, and
// its client. (Compiled, not run.)
func Example_docsSealedAPI() {
	secret := m2m.Secret("32 random bytes, from a file....")
	mux := http.NewServeMux()

	s := &dynamic.Sealed{Keys: []dynamic.Key{{ID: "2026-11", Secret: secret}}} // secret: 32 bytes from secretfile

	// Server: "Authorization: Dynamic <token>"; the UUID becomes the Principal's subject.
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{&dynamic.Verifier{Codec: s}}}
	mux.Handle("/api/", m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := m2m.FromContext(r.Context())
		// Second, user-specific step, as the crate suggests: p.Subject is the token's UUID.
		fmt.Fprintln(w, "hello", p.Subject)
	})))

	// Client: a fresh token on every request.
	client := &http.Client{Transport: &dynamic.Transport{Codec: s, UUID: "6061f78686f34f52da3ef464"}}
	_ = client
}

// docs/dynamic.md: the crate's suggested configurations. (Compiled, not
// run.)
func Example_docsConfigurations() {
	keys := []dynamic.Key{{ID: "2026-11", Secret: m2m.Secret("32 random bytes, from a file....")}}

	lightweight := &dynamic.Sealed{Keys: keys, Tolerance: 15 * time.Second} // a quick endpoint
	uploads := &dynamic.Sealed{Keys: keys, Tolerance: 5 * time.Minute}      // long uploads (the default)
	withUser := &dynamic.Sealed{Keys: keys, RequireUUID: true}              // the UUID must be present

	// The same with the crate's own format, for existing Rust or Node clients:
	key := m2m.Secret("Opus;Magna-897")
	compat15s := &dynamic.Compat{APIKey: key, Tolerance: 15 * time.Second}
	custom := &dynamic.Compat{APIKey: key, RandChars: "∑㌀◐"} // no letters, digits or '_'
	required := &dynamic.Compat{APIKey: key, CheckUUID: true}
	// Clients that send the bare token in a header of their own:
	v := &dynamic.Verifier{Codec: required, Header: "X-Dynamic-Token"}

	_, _, _, _, _, _ = lightweight, uploads, withUser, compat15s, custom, v
}

// docs/migrating.md: accepting the crate's tokens while clients move.
// (Compiled, not run.)
func Example_docsMigrating() {
	key := m2m.Secret("Opus;Magna-897")
	required := &dynamic.Compat{APIKey: key, CheckUUID: true}
	v := &dynamic.Verifier{Codec: required, Header: "X-Dynamic-Token"}
	_ = v
}
