package authservertest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/m2mkit/m2m/authserver/authservertest"
	"github.com/m2mkit/m2m/store"
)

func TestServer(t *testing.T) {
	srv := authservertest.NewServer(t, nil)
	id, secret := srv.CreateClient(t, store.Client{Name: "t", Audiences: []string{"https://api.example.test"}, Scopes: []string{"read"}})
	cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: srv.TokenURL}
	tok, err := cfg.Token(context.Background())
	if err != nil {
		t.Fatalf("Token() = %v", err)
	}
	if tok.AccessToken == "" || tok.TokenType != "Bearer" || tok.Extra("scope") != "read" {
		t.Errorf("Token() = %+v; want a Bearer token with scope read", tok)
	}
	resp, err := http.Get(srv.JWKSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), `"kty":"EC"`) {
		t.Errorf("JWKS = %s; want an EC key", b)
	}
}

func ExampleNewServer() {
	t := &testing.T{} // in a test, use the test's own t
	srv := authservertest.NewServer(t, nil)
	id, secret := srv.CreateClient(t, store.Client{Audiences: []string{"https://api.example.com"}})
	cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: srv.TokenURL}
	tok, err := cfg.Token(context.Background())
	fmt.Println(err, tok.TokenType)
	// Output: <nil> Bearer
}
