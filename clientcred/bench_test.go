package clientcred

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkTokenCached measures Token on a cached token: the hot path.
func BenchmarkTokenCached(b *testing.B) {
	s := &TokenSource{cfg: Config{}, c: new(cache), jitter: func() float64 { return 0 }}
	s.c.cur.Store(s.newToken("t", "Bearer", "", s.cfg.now(), DefaultLifetime))
	ctx := context.Background()
	b.ReportAllocs()
	start := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Token(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	reportCPU(b, start)
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
		start := cpuTime()
		for b.Loop() {
			resp, _ := base.RoundTrip(req)
			io.Copy(io.Discard, resp.Body)
		}
		reportCPU(b, start)
	})
	b.Run("transport", func(b *testing.B) {
		tr := &Transport{Source: s, Base: base}
		b.ReportAllocs()
		start := cpuTime()
		for b.Loop() {
			resp, err := tr.RoundTrip(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
		}
		reportCPU(b, start)
	})
}

// BenchmarkClientLoopback measures a whole request to a loopback API with
// a cached token: a plain http.Client with a fixed header against
// clientcred.Client, so the difference is clientcred's overhead.
func BenchmarkClientLoopback(b *testing.B) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer api.Close()
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"access_token":"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln","expires_in":86400}`)
	}))
	defer idp.Close()
	ctx := context.Background()
	b.Run("bare", func(b *testing.B) {
		hc := &http.Client{}
		b.ReportAllocs()
		start := cpuTime()
		for b.Loop() {
			req, _ := http.NewRequestWithContext(ctx, "GET", api.URL, nil)
			req.Header.Set("Authorization", "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		reportCPU(b, start)
	})
	b.Run("clientcred", func(b *testing.B) {
		c, err := NewClient(Config{ClientID: "a", ClientSecret: "b", Audience: "c", TokenURL: idp.URL})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		start := cpuTime()
		for b.Loop() {
			resp, err := c.Get(ctx, api.URL)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		reportCPU(b, start)
	})
}
