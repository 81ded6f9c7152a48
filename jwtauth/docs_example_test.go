package jwtauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/basic"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/redisstore"
	"github.com/m2mkit/m2m/secretfile"
	"github.com/m2mkit/m2m/store"
)

// The README's access-token example: an API that accepts tokens of
// m2m serve and requires a scope on some routes. (Compiled, not run: it
// names a remote issuer.)
func Example_docsAccessTokens() {
	mux := http.NewServeMux()
	api, adm := http.NotFoundHandler(), http.NotFoundHandler()

	tokens, err := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer:     "https://auth.example.com",
		Audiences:  []string{"https://api.example.com"},
		Algorithms: []string{"ES256"},
		Keys:       jwk.NewRemoteKeySet("https://auth.example.com/.well-known/jwks.json"),
		Profile:    jwtauth.ProfileRFC9068,
	})
	if err != nil {
		log.Fatal(err)
	}
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{tokens}}
	mux.Handle("/api/", m.Handler(api))                            // 401 without a valid token
	mux.Handle("/admin/", m.Handler(m.RequireScope("admin")(adm))) // 403 insufficient_scope
}

// The README's device-token example, run: a device with a secret file and
// a password file, a login, and a request with the token.
func Example_docsDeviceTokens() {
	dir, err := os.MkdirTemp("", "m2m-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	hash, err := basic.HashPassword("correct horse")
	if err != nil {
		log.Fatal(err)
	}
	users, err := basic.NewHtpasswd(map[string]string{"admin": hash})
	if err != nil {
		log.Fatal(err)
	}
	ack := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := m2m.FromContext(r.Context())
		fmt.Fprintf(w, "ack from %s", p.Subject)
	})
	mux := http.NewServeMux()

	keys, err := secretfile.LoadOrCreate(filepath.Join(dir, "secret.bin"), 32) // 0600, created once
	if err != nil {
		log.Fatal(err)
	}
	tokens := &jwtauth.DeviceTokens{Keys: keys.All()}
	mux.Handle("POST /api/login", &jwtauth.LoginHandler{Users: users, Tokens: tokens})
	auth := &httpauth.Middleware{Verifiers: []m2m.Verifier{
		&jwtauth.TokenAuth{Realm: "camera", Check: tokens.CheckToken},
	}}
	mux.Handle("POST /api/ack", auth.Handler(ack))

	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/api/login", "application/json",
		strings.NewReader(`{"user": "admin", "pass": "correct horse"}`))
	if err != nil {
		log.Fatal(err)
	}
	var body struct{ Token string }
	if err := docsDecode(resp, &body); err != nil {
		log.Fatal(err)
	}
	fmt.Println("login:", resp.StatusCode)

	req, _ := http.NewRequest("POST", srv.URL+"/api/ack", nil)
	req.Header.Set("Authorization", "Bearer "+body.Token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("ack:", resp.StatusCode, docsBody(resp))

	resp, err = http.Post(srv.URL+"/api/ack", "application/json", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("without the token:", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	resp.Body.Close()
	// Output:
	// login: 200
	// ack: 200 ack from admin
	// without the token: 401 Bearer realm="camera"
}

// Verifying Auth0 tokens in one line, as docs/verifying.md and
// docs/migrating.md show. (Compiled, not run: it names an Auth0 tenant.)
func Example_docsAuth0() {
	mux := http.NewServeMux()
	api := http.NotFoundHandler()

	tokens, err := jwtauth.NewAuth0("https://api.example.com", "example-tenant.us.auth0.com")
	if err != nil {
		log.Fatal(err)
	}
	mux.Handle("/api/", (&httpauth.Middleware{Verifiers: []m2m.Verifier{tokens}}).Handler(api))
}

func docsDecode(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

func docsBody(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// docs/device.md: issuing and verifying a device token.
func Example_docsIssueVerify() {
	ctx := context.Background()
	keys := &secretfile.Keys{Current: m2m.Secret("an-example-secret-of-32-bytes-!!")}

	tokens := &jwtauth.DeviceTokens{Keys: keys.All()} // HS256, 1 h lifetime by default
	tok, _ := tokens.Issue("phone-app")               // {"sub":"phone-app","exp":…,"iat":…}
	claims, err := tokens.Verify(ctx, tok)            // current secret, then the fallbacks
	if err != nil {
		fmt.Println(m2m.ReasonOf(err)) // expired, bad_signature, malformed, bad_algorithm, …
	}

	fmt.Println(claims.Subject)
	// Output: phone-app
}

// docs/device.md and docs/migrating.md: the login endpoint and Bearer auth
// of the device. (Compiled, not run.)
func Example_docsLogin() {
	tokens := &jwtauth.DeviceTokens{Keys: []m2m.Secret{exampleKey}}
	ackHandler := http.NotFoundHandler()

	users, _ := basic.LoadHtpasswd("/etc/camera/htpasswd") // any jwtauth.PasswordChecker
	mux := http.NewServeMux()
	mux.Handle("POST /api/login", &jwtauth.LoginHandler{Users: users, Tokens: tokens})

	auth := &httpauth.Middleware{Verifiers: []m2m.Verifier{
		&jwtauth.TokenAuth{Realm: "camera", Check: tokens.CheckToken},
	}}
	mux.Handle("POST /api/ack", auth.Handler(ackHandler))
}

// docs/verifying.md: the full configuration of an access-token verifier.
// (Compiled, not run.)
func Example_docsAccessTokensConfig() {
	tokens, err := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer:         "https://auth.example.com",
		Audiences:      []string{"https://api.example.com"},
		Algorithms:     []string{"ES256", "EdDSA"},
		Keys:           jwk.NewRemoteKeySet("https://auth.example.com/.well-known/jwks.json"),
		RequiredScopes: []string{"read:messages"},  // 403 insufficient_scope otherwise
		AllowedClients: []string{"billing-worker"}, // 403 forbidden otherwise
		Profile:        jwtauth.ProfileRFC9068,     // typ at+jwt, client_id, jti required
	})
	_, _ = tokens, err
}

// docs/server.md: an API that honours revocations made at the token
// server. (Compiled, not run.)
func Example_docsRevocable() {
	ctx := context.Background()
	var db store.Clients // the token server's database, e.g. sqlstore.Open
	app := http.NotFoundHandler()

	tokens, err := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer: "https://auth.example.com", Audiences: []string{"https://api.example.com"},
		Algorithms: []string{"ES256"}, Keys: jwk.NewRemoteKeySet("https://auth.example.com/.well-known/jwks.json"),
		Profile: jwtauth.ProfileRFC9068,
	})
	if err != nil {
		log.Fatal(err)
	}
	rc, err := redisstore.Open(ctx, os.Getenv("M2M_REDIS"))
	if err != nil {
		log.Fatal(err)
	}
	verifier, err := jwtauth.NewRevocableTokens(tokens, jwtauth.RevocationConfig{
		Revocations: &redisstore.Revocations{Client: rc}, // or the token server's sqlstore
		Clients:     db,                                  // optional: honours "m2m client revoke-tokens"
		// CacheTTL: 0 means 1 s: a revocation is honoured within a second.
	})
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("/", (&httpauth.Middleware{Verifiers: []m2m.Verifier{verifier}}).Handler(app))
}
