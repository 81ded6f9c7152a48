package authserver_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/store"
)

// exampleSigner stands in for a *keyring.Keyring.
func exampleSigner() authserver.Signer { return newTestSigner(nil) }

func ExampleNew() {
	clients := &fakeClients{} // a store.Store such as sqlstore in production
	srv, err := authserver.New(authserver.Config{
		Issuer:  "https://auth.example.com",
		Clients: clients,
		Signer:  exampleSigner(),
	})
	if err != nil {
		log.Fatal(err)
	}
	secret, err := authserver.CreateClient(context.Background(), clients,
		&store.Client{ID: "billing", Audiences: []string{"https://api.example.com"}, Scopes: []string{"invoices:read"}}, nil)
	if err != nil {
		log.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/oauth/token",
		strings.NewReader("grant_type=client_credentials&client_id=billing&client_secret="+secret))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("Cache-Control"))
	// Output: 200 no-store
}

func ExampleCreateClient() {
	clients := &fakeClients{}
	c := &store.Client{Name: "reports", Audiences: []string{"https://api.example.com"}}
	secret, err := authserver.CreateClient(context.Background(), clients, c, nil)
	if err != nil {
		log.Fatal(err)
	}
	// The secret is shown once; the store keeps only its SHA-256 digest.
	fmt.Println(len(c.ID), len(secret), c.SecretAlgorithm)
	// Output: 22 43 sha256
}

func ExampleRotateSecret() {
	clients := &fakeClients{}
	c := &store.Client{ID: "reports", Audiences: []string{"https://api.example.com"}}
	if _, err := authserver.CreateClient(context.Background(), clients, c, nil); err != nil {
		log.Fatal(err)
	}
	// The old secret keeps working for an hour.
	secret, err := authserver.RotateSecret(context.Background(), clients, "reports", 3600e9, nil)
	if err != nil {
		log.Fatal(err)
	}
	got, _ := clients.GetClient(context.Background(), "reports")
	fmt.Println(len(secret), len(got.PreviousSecretHash))
	// Output: 43 32
}

func ExampleParseTokenRequest() {
	r := httptest.NewRequest(http.MethodPost, "/oauth/token",
		strings.NewReader(`{"grant_type":"client_credentials","client_id":"a","client_secret":"b","audience":"https://api.example.com"}`))
	r.Header.Set("Content-Type", "application/json")
	tr, err := authserver.ParseTokenRequest(r, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tr.GrantType, tr.AuthMethod, tr.Audience)
	// Output: client_credentials client_secret_post https://api.example.com
}

func ExampleHashSecret() {
	fmt.Printf("%x\n", authserver.HashSecret("s3cret")[:4])
	// Output: 1ec1c26b
}

func ExampleNewClientSecret() {
	secret, err := authserver.NewClientSecret()
	if err != nil {
		log.Fatal(err)
	}
	id, _ := authserver.NewClientID()
	fmt.Println(len(id), len(secret))
	// Output: 22 43
}
