package jwtauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
)

func ExampleNewAccessTokens() {
	// An issuer with one ES256 key, published as a JWKS.
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := jwk.FromPublic(&priv.PublicKey, "2026-11", "ES256")
	doc, _ := jwk.MarshalSet(*pub)
	issuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(doc) }))
	defer issuer.Close()

	tokens, err := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer:         "https://auth.example.com/",
		Audiences:      []string{"https://api.example.com"},
		Algorithms:     []string{"ES256", "EdDSA"},
		Keys:           jwk.NewRemoteKeySet(issuer.URL + "/.well-known/jwks.json"),
		RequiredScopes: []string{"read:messages"},
		Profile:        jwtauth.ProfileRFC9068,
	})
	if err != nil {
		log.Fatal(err)
	}
	api := (&httpauth.Middleware{Verifiers: []m2m.Verifier{tokens}}).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := m2m.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s %v", p.ClientID, p.Scopes)
	}))

	claims, _ := json.Marshal(map[string]any{
		"iss": "https://auth.example.com/", "aud": "https://api.example.com", "sub": "worker-7",
		"client_id": "worker-7", "scope": "read:messages", "jti": "1",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	})
	tok, _ := jws.Sign("ES256", priv, jws.HeaderJSON("ES256", "2026-11", "at+jwt"), claims)
	r := httptest.NewRequest("GET", "/messages", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	api.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Body.String())
	// Output: 200 hello worker-7 [read:messages]
}

func ExampleNewAuth0() {
	// Auth0: the API identifier and the tenant domain are all it takes.
	tokens, err := jwtauth.NewAuth0("https://api.example.com", "example-tenant.us.auth0.com")
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", (&httpauth.Middleware{Verifiers: []m2m.Verifier{tokens}}).Handler(http.NotFoundHandler()))
	fmt.Println("ready")
	// Output: ready
}

func ExampleAuth0Config() {
	c, err := jwtauth.Auth0Config("https://api.example.com", "example-tenant.us.auth0.com")
	if err != nil {
		log.Fatal(err)
	}
	c.RequiredScopes = []string{"read:messages"}
	c.AllowedClients = []string{"Xk3pQ9sV0aLmN7tR2yB8cD4fG6hJ1wE5"}
	if _, err := jwtauth.NewAccessTokens(c); err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Issuer, c.Algorithms)
	// Output: https://example-tenant.us.auth0.com/ [RS256]
}

func ExampleAccessTokens_VerifyToken() {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := jwk.FromPublic(&priv.PublicKey, "k", "")
	tokens, _ := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer: "https://auth.example.com/", Audiences: []string{"api"}, Algorithms: []string{"ES256"},
		Keys:   jwk.NewStaticKeySet(jwk.NewSet(*pub)),
		Leeway: jwtauth.NoLeeway,
		Now:    func() time.Time { return time.Unix(1700000000, 0) },
	})
	tok, _ := jws.Sign("ES256", priv, jws.HeaderJSON("ES256", "k", ""), []byte(`{"iss":"https://auth.example.com/","aud":"api","exp":1700000000}`))
	_, err := tokens.VerifyToken(context.Background(), tok) // exp == now: expired, as PyJWT says
	fmt.Println(m2m.ReasonOf(err))
	// Output: expired
}

func ExamplePublicKeys() {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := jwk.FromPublic(&priv.PublicKey, "k", "")
	v := &jwtauth.Validator{Algorithms: []string{"ES256"}, SkipIssuerCheck: true, SkipAudienceCheck: true}
	tok, _ := jws.Sign("ES256", priv, jws.HeaderJSON("ES256", "k", ""), []byte(fmt.Sprintf(`{"sub":"device-9","exp":%d}`, time.Now().Add(time.Hour).Unix())))
	c, err := v.Verify(context.Background(), tok, jwtauth.PublicKeys(jwk.NewStaticKeySet(jwk.NewSet(*pub))))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Subject)
	// Output: device-9
}
