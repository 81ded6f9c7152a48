package authservertest_test

import (
	"context"
	"net/url"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/m2mkit/m2m/authserver/authservertest"
	"github.com/m2mkit/m2m/store"
)

// TestDocsServer runs docs/server.md's snippet: a real token server for a
// test, and x/oauth2's client credentials against it.
func TestDocsServer(t *testing.T) {
	ctx := context.Background()

	srv := authservertest.NewServer(t, nil) // SQLite-free: in-memory store, real keyring
	id, secret := srv.CreateClient(t, store.Client{Audiences: []string{"https://api.example.com"}, Scopes: []string{"read"}})
	cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: srv.TokenURL,
		EndpointParams: url.Values{"audience": {"https://api.example.com"}}}
	tok, err := cfg.Token(ctx) // golang.org/x/oauth2/clientcredentials, unchanged

	if err != nil {
		t.Fatalf("cfg.Token() = %v; want a token", err)
	}
	if tok.AccessToken == "" || tok.TokenType != "Bearer" {
		t.Errorf("cfg.Token() = %+v; want a Bearer access token", tok)
	}
}
