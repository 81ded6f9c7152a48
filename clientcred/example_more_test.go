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
	"sync/atomic"
	"time"

	"github.com/m2mkit/m2m/clientcred"
)

// echoAPI answers with what it received, for the request option examples.
func echoAPI() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			io.WriteString(w, `{"access_token":"eyJ.example.token","token_type":"Bearer","expires_in":86400}`)
			return
		}
		if r.URL.Path == "/missing" {
			http.Error(w, "no such item", http.StatusNotFound)
			return
		}
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s?%s type=%q x=%q body=%s", r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), r.Header.Get("X-Request-Id"), b)
	}))
}

func newExampleClient(srv *httptest.Server) *clientcred.Client {
	c, err := clientcred.NewClient(clientcred.Config{
		ClientID: "my-client", ClientSecret: "s3cret",
		Audience: "https://api.example.com", TokenURL: srv.URL + "/oauth/token",
	})
	if err != nil {
		log.Fatal(err)
	}
	return c
}

func show(resp *http.Response, err error) {
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Println(string(b))
}

func ExampleJSON() {
	srv := echoAPI()
	defer srv.Close()
	c := newExampleClient(srv)
	show(c.Put(context.Background(), srv.URL+"/items/7", clientcred.JSON(map[string]int{"qty": 2})))
	// Output: PUT /items/7? type="application/json" x="" body={"qty":2}
}

func ExampleForm() {
	srv := echoAPI()
	defer srv.Close()
	c := newExampleClient(srv)
	show(c.Post(context.Background(), srv.URL+"/items", clientcred.Form(url.Values{"name": {"bolt"}})))
	// Output: POST /items? type="application/x-www-form-urlencoded" x="" body=name=bolt
}

func ExampleQuery() {
	srv := echoAPI()
	defer srv.Close()
	c := newExampleClient(srv)
	show(c.Delete(context.Background(), srv.URL+"/items", clientcred.Query(url.Values{"older_than": {"30d"}})))
	// Output: DELETE /items?older_than=30d type="" x="" body=
}

func ExampleHeader() {
	srv := echoAPI()
	defer srv.Close()
	c := newExampleClient(srv)
	show(c.Get(context.Background(), srv.URL+"/items", clientcred.Header("X-Request-Id", "42")))
	// Output: GET /items? type="" x="42" body=
}

func ExampleBody() {
	srv := echoAPI()
	defer srv.Close()
	c := newExampleClient(srv)
	show(c.Patch(context.Background(), srv.URL+"/items/7", clientcred.Body([]byte("qty=3"), "text/plain")))
	// Output: PATCH /items/7? type="text/plain" x="" body=qty=3
}

func ExampleClient_Do() {
	srv := echoAPI()
	defer srv.Close()
	c := newExampleClient(srv)
	show(c.Do(context.Background(), http.MethodOptions, srv.URL+"/items"))
	// Output: OPTIONS /items? type="" x="" body=
}

func ExampleStatusError() {
	srv := echoAPI()
	defer srv.Close()
	c := newExampleClient(srv)
	c.ErrorOnStatus = true
	_, err := c.Get(context.Background(), srv.URL+"/missing?api_key=not-in-the-error")
	var se *clientcred.StatusError
	if errors.As(err, &se) {
		fmt.Println(se.StatusCode, se.URL == srv.URL+"/missing")
	}
	// Output: 404 true
}

func ExampleTokenSource_Token() {
	srv := echoAPI()
	defer srv.Close()
	src, err := clientcred.NewTokenSource(clientcred.Config{
		ClientID: "my-client", ClientSecret: "s3cret",
		Audience: "https://api.example.com", TokenURL: srv.URL + "/oauth/token",
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := src.Token(ctx) // cached until it nears expiry
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.TokenType, tok.AccessToken)
	fmt.Println(tok) // String redacts the token
	// Output:
	// Bearer eyJ.example.token
	// clientcred.Token{Bearer [REDACTED]}
}

func ExampleTokenSource_Invalidate() {
	var issued atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"access_token":"tok-%d","expires_in":3600}`, issued.Add(1))
	}))
	defer srv.Close()
	src, err := clientcred.NewTokenSource(clientcred.Config{
		ClientID: "invalidate-example", ClientSecret: "s3cret",
		Audience: "https://api.example.com", TokenURL: srv.URL,
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	first, _ := src.Token(ctx)
	src.Invalidate(first) // the API said 401: the token was revoked
	second, _ := src.Token(ctx)
	fmt.Println(first.AccessToken, second.AccessToken)
	// Output: tok-1 tok-2
}

// staticSource is a Source of your own: here, a token read elsewhere.
type staticSource struct{ n atomic.Int64 }

func (s *staticSource) Token(context.Context) (*clientcred.Token, error) {
	s.n.Add(1)
	return &clientcred.Token{AccessToken: "from-elsewhere", Expiry: time.Now().Add(time.Hour)}, nil
}

// Any Source can feed a Transport; CachedSource adds caching and one
// shared fetch to a source that fetches on every call.
func ExampleCachedSource() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("Authorization"))
	}))
	defer api.Close()
	src := &staticSource{}
	hc := &http.Client{Transport: &clientcred.Transport{Source: &clientcred.CachedSource{Source: src}}}
	for range 3 {
		resp, err := hc.Get(api.URL)
		if err != nil {
			log.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(b))
	}
	fmt.Println("fetches:", src.n.Load())
	// Output:
	// Bearer from-elsewhere
	// Bearer from-elsewhere
	// Bearer from-elsewhere
	// fetches: 1
}
