package outbound_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/m2mkit/m2m/outbound"
)

// A transport for a scheme of your own: Authorize sets the header on a
// clone of each request, and Transport does the rest.
func ExampleTransport() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "X-Api-Key: %s", r.Header.Get("X-Api-Key"))
	}))
	defer api.Close()

	client := &http.Client{Transport: &outbound.Transport{
		Authorize: func(r *http.Request) error {
			r.Header.Set("X-Api-Key", "k-123")
			return nil
		},
	}}
	resp, err := client.Get(api.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Println(string(b))
	// Output: X-Api-Key: k-123
}

func ExampleSameOriginAsFirst() {
	first, _ := http.NewRequest("GET", "https://api.example.com/a", nil)
	redirect, _ := http.NewRequest("GET", "https://elsewhere.example.net/b", nil)
	redirect.Response = &http.Response{Request: first} // as http.Client sets it
	fmt.Println(outbound.SameOriginAsFirst(first), outbound.SameOriginAsFirst(redirect))
	// Output: true false
}
