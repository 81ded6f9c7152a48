package outbound_test

import (
	"net/http"
	"testing"

	"github.com/m2mkit/m2m/outbound"
)

// BenchmarkTransport measures what the transport adds to a request: the
// origin check, the clone and the header.
func BenchmarkTransport(b *testing.B) {
	ok := &http.Response{StatusCode: 200, Body: http.NoBody}
	base := roundTripFunc(func(*http.Request) (*http.Response, error) { return ok, nil })
	tr := &outbound.Transport{Base: base, Authorize: func(r *http.Request) error {
		r.Header.Set("Authorization", "Bearer token")
		return nil
	}}
	req, _ := http.NewRequest("GET", "https://api.example.com/v1/items", nil)
	req.Header.Set("Accept", "application/json")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.RoundTrip(req); err != nil {
			b.Fatal(err)
		}
	}
}
