package clientcred

import (
	"context"
	"io"
	"net/http"
	"testing"
)

// BenchmarkTokenCached measures Token on a cached token: the hot path.
func BenchmarkTokenCached(b *testing.B) {
	s := &TokenSource{cfg: Config{}, c: new(cache), jitter: func() float64 { return 0 }}
	s.c.cur.Store(s.newToken("t", "Bearer", "", s.cfg.now(), DefaultLifetime))
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Token(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

type nopRT struct{ resp http.Response }

func (n *nopRT) RoundTrip(r *http.Request) (*http.Response, error) {
	resp := n.resp
	resp.Body = http.NoBody
	resp.Request = r
	return &resp, nil
}

// BenchmarkTransportOverhead measures what Transport adds to a request
// with a cached token (clone, header, token lookup) over the base
// RoundTripper, here one that does no I/O.
func BenchmarkTransportOverhead(b *testing.B) {
	base := &nopRT{resp: http.Response{StatusCode: 200}}
	s := &TokenSource{cfg: Config{}, c: new(cache), jitter: func() float64 { return 0 }}
	s.c.cur.Store(s.newToken("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.sig", "Bearer", "", s.cfg.now(), DefaultLifetime))
	req, _ := http.NewRequest("GET", "https://api.example.com/items", nil)
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			resp, _ := base.RoundTrip(req)
			io.Copy(io.Discard, resp.Body)
		}
	})
	b.Run("transport", func(b *testing.B) {
		tr := &Transport{Source: s, Base: base}
		b.ReportAllocs()
		for b.Loop() {
			resp, err := tr.RoundTrip(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
		}
	})
}
