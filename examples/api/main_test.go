package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/m2mkit/m2m/authserver/authservertest"
	"github.com/m2mkit/m2m/store"
)

func TestAPI(t *testing.T) {
	srv := authservertest.NewServer(t, nil)
	const aud = "https://api.example.com"
	id, secret := srv.CreateClient(t, store.Client{Audiences: []string{aud, "https://other.example.com"}, Scopes: []string{"read"}})
	h, err := newAPI(srv.URL, aud)
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(h)
	defer api.Close()
	token := func(audience string) string {
		cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: srv.TokenURL,
			EndpointParams: map[string][]string{"audience": {audience}}}
		tok, err := cfg.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	good, other := token(aud), token("https://other.example.com")
	tests := []struct {
		name, path, token string
		status            int
		body              string
	}{
		{"valid token", "/hello", good, 200, `"hello":"` + id + `"`},
		{"no token", "/hello", "", 401, ""},
		{"token for another audience", "/hello", other, 401, ""},
		{"missing scope", "/admin", good, 403, "insufficient_scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", api.URL+tc.path, nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.body) {
				t.Errorf("GET %s = %d %s; want %d containing %q", tc.path, resp.StatusCode, b, tc.status, tc.body)
			}
		})
	}
}
