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
	"github.com/m2mkit/m2m/clientcred"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/replay"
	"github.com/m2mkit/m2m/store"
)

func TestAPI(t *testing.T) {
	srv := authservertest.NewServer(t, nil)
	const aud = "https://api.example.com"
	id, secret := srv.CreateClient(t, store.Client{Audiences: []string{aud, "https://other.example.com"}, Scopes: []string{"read"}})
	h, err := newAPI(apiConfig{Issuer: srv.URL, Audience: aud, PublicURL: "http://api.invalid"})
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

// TestAPIDPoP: a client with a DPoP key gets a bound token from a token
// server with DPoP on and calls the API with it; the API checks the proof
// against its public URL, refuses the stolen token sent as Bearer, and
// still accepts Bearer tokens of clients without a key.
func TestAPIDPoP(t *testing.T) {
	srv := authservertest.NewServer(t, &authservertest.Options{DPoP: &jwtauth.DPoPVerifier{Replay: &replay.Memory{}}})
	const aud = "https://api.example.com"
	id, secret := srv.CreateClient(t, store.Client{Audiences: []string{aud}, Scopes: []string{"read"}})
	api := httptest.NewUnstartedServer(nil)
	h, err := newAPI(apiConfig{Issuer: srv.URL, Audience: aud, PublicURL: "http://" + api.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	api.Config.Handler = h
	api.Start()
	defer api.Close()

	key, err := clientcred.GenerateDPoPKey()
	if err != nil {
		t.Fatal(err)
	}
	source := func(key *clientcred.DPoPKey) *clientcred.TokenSource {
		src, err := clientcred.NewTokenSource(clientcred.Config{ClientID: id, ClientSecret: secret, TokenURL: srv.TokenURL, Audience: aud, DPoP: key})
		if err != nil {
			t.Fatal(err)
		}
		return src
	}
	dpopSrc := source(key)
	get := func(c *http.Client, path string) (int, string) {
		resp, err := c.Get(api.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b) + " " + strings.Join(resp.Header.Values("WWW-Authenticate"), " | ")
	}
	if code, body := get(&http.Client{Transport: &clientcred.Transport{Source: dpopSrc}}, "/hello"); code != 200 || !strings.Contains(body, `"scheme":"dpop"`) {
		t.Fatalf("DPoP client: GET /hello = %d %s; want 200 via dpop", code, body)
	}
	if code, body := get(&http.Client{Transport: &clientcred.Transport{Source: dpopSrc}}, "/admin"); code != 403 || !strings.Contains(body, `DPoP error="insufficient_scope"`) {
		t.Fatalf("DPoP client: GET /admin = %d %s; want 403 with a DPoP insufficient_scope challenge", code, body)
	}
	if code, body := get(&http.Client{Transport: &clientcred.Transport{Source: source(nil)}}, "/hello"); code != 200 || !strings.Contains(body, `"scheme":"bearer"`) {
		t.Fatalf("Bearer client: GET /hello = %d %s; want 200 via bearer", code, body)
	}
	tok, err := dpopSrc.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	stolen := &http.Client{Transport: bearerRT(tok.AccessToken)}
	if code, body := get(stolen, "/hello"); code != 401 || !strings.Contains(body, `Bearer error="invalid_token"`) || !strings.Contains(body, `DPoP algs=`) {
		t.Fatalf("stolen token as Bearer: GET /hello = %d %s; want 401 with DPoP and Bearer challenges", code, body)
	}
}

func TestServerTLS(t *testing.T) {
	if _, err := serverTLS("", "", "ca.pem"); err == nil {
		t.Error("serverTLS(-client-ca without -tls-cert) = nil; want an error")
	}
	if _, err := serverTLS("cert.pem", "", ""); err == nil {
		t.Error("serverTLS(-tls-cert without -tls-key) = nil; want an error")
	}
	if cfg, err := serverTLS("", "", ""); cfg != nil || err != nil {
		t.Errorf("serverTLS() = %v, %v; want plain HTTP", cfg, err)
	}
}

// bearerRT sends every request with a fixed bearer token.
type bearerRT string

func (b bearerRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}
