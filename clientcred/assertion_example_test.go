package clientcred_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/clientcred"
	"github.com/m2mkit/m2m/keyring"
	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/memstore"
)

// A private_key_jwt client holds a private key and no secret: each token
// request carries a fresh assertion signed with it. The server (here
// m2m's own, in process) knows only the public JWK Set.
func ExamplePrivateKeyAssertion() {
	ctx := context.Background()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	key, err := clientcred.NewPrivateKey(priv, "worker-1", "") // or clientcred.ReadPrivateKeyFile("worker.pem")
	if err != nil {
		log.Fatal(err)
	}
	jwks, err := key.PublicJWKS() // what "m2m client create --auth-method private_key_jwt --jwks" takes
	if err != nil {
		log.Fatal(err)
	}

	st := memstore.New()
	kr, err := keyring.New(ctx, keyring.Config{Store: st, Master: []byte(strings.Repeat("m", 32))})
	if err != nil {
		log.Fatal(err)
	}
	var handler http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	defer ts.Close()
	as, err := authserver.New(authserver.Config{Issuer: ts.URL, Clients: st, Signer: kr})
	if err != nil {
		log.Fatal(err)
	}
	handler = as.Handler()
	client := &store.Client{Name: "worker", Audiences: []string{"https://api.example.com"}, Scopes: []string{"read"},
		AuthMethod: store.AuthMethodPrivateKeyJWT, JWKS: jwks}
	if _, err := authserver.CreateClient(ctx, st, client, nil); err != nil {
		log.Fatal(err)
	}

	src, err := clientcred.NewTokenSource(clientcred.Config{
		ClientID:  client.ID,
		Assertion: &clientcred.PrivateKeyAssertion{Key: key},
		TokenURL:  ts.URL + "/oauth/token",
		Audience:  "https://api.example.com",
	})
	if err != nil {
		log.Fatal(err)
	}
	tok, err := src.Token(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.TokenType, tok.Scope)
	// Output: Bearer read
}

// A Kubernetes pod presents its projected service-account token, read
// afresh at every token request, in an RFC 8693 token exchange. The
// server must have a trust policy for the cluster's issuer.
func ExampleTokenFileAssertion() {
	dir, _ := os.MkdirTemp("", "sa")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "token") // /var/run/secrets/tokens/m2m in a pod
	os.WriteFile(path, []byte("eyJhbGciOiJSUzI1NiJ9.e30.c2ln\n"), 0o600)

	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(r.PostFormValue("grant_type"))
		fmt.Println(r.PostFormValue("subject_token_type"))
		io.WriteString(w, `{"access_token":"eyJ.example.token","token_type":"Bearer","expires_in":900,
			"issued_token_type":"urn:ietf:params:oauth:token-type:access_token"}`)
	}))
	defer ts.Close()

	src, err := clientcred.NewTokenSource(clientcred.Config{
		Assertion:      &clientcred.TokenFileAssertion{Path: path},
		AssertionGrant: clientcred.AssertionTokenExchange,
		TokenURL:       ts.URL,
		Audience:       "https://api.example.com",
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := src.Token(context.Background()); err != nil {
		log.Fatal(err)
	}
	// Output:
	// urn:ietf:params:oauth:grant-type:token-exchange
	// urn:ietf:params:oauth:token-type:jwt
}

// In a GitHub Actions job with "permissions: id-token: write", the job's
// OIDC token authenticates it as the client a trust policy maps it to.
func ExampleGitHubActionsAssertion() {
	src, err := clientcred.NewTokenSource(clientcred.Config{
		Assertion: &clientcred.GitHubActionsAssertion{Audience: "https://auth.example.com"},
		Issuer:    "https://auth.example.com",
		Audience:  "https://api.example.com",
	})
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: &clientcred.Transport{Source: src}}
	_ = client // client.Get("https://api.example.com/deploy") sends the access token
}
