package clientcred_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/m2mkit/m2m/clientcred"
)

// tokenServer is a minimal token endpoint and API for the examples.
func tokenServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/oauth/token":
			if r.PostFormValue("client_secret") != "s3cret" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"error":"access_denied","error_description":"Unauthorized"}`)
				return
			}
			io.WriteString(w, `{"access_token":"eyJ.example.token","token_type":"Bearer","expires_in":86400}`)
		default:
			fmt.Fprintf(w, "%s %s with %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
		}
	}))
}

func ExampleNewClient() {
	srv := tokenServer()
	defer srv.Close()
	c, err := clientcred.NewClient(clientcred.Config{
		ClientID: "my-client", ClientSecret: "s3cret", // or M2M_CLIENT_ID, M2M_CLIENT_SECRET
		Audience: "https://api.example.com",
		TokenURL: srv.URL + "/oauth/token", // or Issuer, or an Auth0 Domain
	})
	if err != nil {
		log.Fatal(err)
	}
	resp, err := c.Post(context.Background(), srv.URL+"/messages", clientcred.JSON(map[string]string{"text": "hi"}))
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Println(string(b))
	// Output: POST /messages with "Bearer eyJ.example.token"
}

func ExampleNewTokenSource() {
	srv := tokenServer()
	defer srv.Close()
	src, err := clientcred.NewTokenSource(clientcred.Config{
		ClientID: "my-client", ClientSecret: "wrong",
		Audience: "https://api.example.com", TokenURL: srv.URL + "/oauth/token",
	})
	if err != nil {
		log.Fatal(err)
	}
	_, err = src.Token(context.Background())
	var re *clientcred.RetrieveError
	if errors.As(err, &re) {
		fmt.Println(re.StatusCode, re.ErrorCode, re.Description)
	}
	// Output: 401 access_denied Unauthorized
}

func ExampleTransport() {
	srv := tokenServer()
	defer srv.Close()
	src, err := clientcred.NewTokenSource(clientcred.Config{
		ClientID: "my-client", ClientSecret: "s3cret",
		Audience: "https://api.example.com", TokenURL: srv.URL + "/oauth/token",
	})
	if err != nil {
		log.Fatal(err)
	}
	hc := &http.Client{Transport: &clientcred.Transport{Source: src}}
	resp, err := hc.Get(srv.URL + "/items")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Println(string(b))
	// Output: GET /items with "Bearer eyJ.example.token"
}

func ExampleConfig_Resolve() {
	_, err := clientcred.Config{
		Audience:  "https://api.example.com",
		Domain:    "example-tenant.us.auth0.com",
		LookupEnv: func(string) (string, bool) { return "", false }, // an empty environment
	}.Resolve()
	fmt.Println(errors.Is(err, clientcred.ErrMissingClientID), errors.Is(err, clientcred.ErrMissingClientSecret), errors.Is(err, clientcred.ErrMissingAudience))
	// Output: true true false
}

func ExampleClient_Get() {
	srv := tokenServer()
	defer srv.Close()
	c, _ := clientcred.NewClient(clientcred.Config{
		ClientID: "my-client", ClientSecret: "s3cret",
		Audience: "https://api.example.com", TokenURL: srv.URL + "/oauth/token",
	})
	resp, err := c.Get(context.Background(), srv.URL+"/search", clientcred.Query(url.Values{"q": {"x"}}))
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output: 200
}
