package clientcred

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// countingSource hands out tok-1, tok-2, ... and counts its calls. When
// gate is set, each call waits on it first.
type countingSource struct {
	n    atomic.Int64
	typ  string
	life time.Duration // zero: no Expiry
	gate chan struct{}
	err  error
}

func (s *countingSource) Token(ctx context.Context) (*Token, error) {
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	n := s.n.Add(1)
	if s.err != nil {
		return nil, s.err
	}
	t := &Token{AccessToken: fmt.Sprintf("tok-%d", n), TokenType: s.typ}
	if s.life > 0 {
		t.Expiry = time.Now().Add(s.life)
	}
	return t, nil
}

// handlerTransport serves requests with h in-process, without a network
// (so the tests run inside a synctest bubble), and closes request bodies
// as a RoundTripper must.
func handlerTransport(h http.HandlerFunc) http.RoundTripper {
	return rtFunc(func(r *http.Request) (*http.Response, error) {
		if r.Body != nil {
			defer r.Body.Close()
		}
		w := httptest.NewRecorder()
		h(w, r)
		resp := w.Result()
		resp.Request = r
		return resp, nil
	})
}

// refusing answers 401 to the tokens in refused and 200 with the
// Authorization header to the others.
func refusing(refused ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		for _, t := range refused {
			if auth == "Bearer "+t {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		}
		io.WriteString(w, auth)
	}
}

// TestCachedSourcesStack checks that caching wrappers stack: a 401 makes
// the transport invalidate the token, and every layer drops it, so the
// retry carries a token from the innermost source.
func TestCachedSourcesStack(t *testing.T) {
	tests := []struct {
		name   string
		layers int
	}{
		{"bare source", 0},
		{"one cache", 1},
		{"two caches", 2},
		{"three caches", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := &countingSource{}
			var src Source = base
			for range tt.layers {
				src = &CachedSource{Source: src}
			}
			tr := &Transport{Source: src, Base: handlerTransport(refusing("tok-1"))}
			for i, want := range []string{"Bearer tok-2", "Bearer tok-2"} {
				req, _ := http.NewRequest("GET", "https://api.example/", nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if tt.layers == 0 && i == 1 {
					want = "Bearer tok-3" // nothing caches
				}
				if resp.StatusCode != 200 || string(b) != want {
					t.Errorf("request %d = %d %q; want 200 %q", i+1, resp.StatusCode, b, want)
				}
			}
		})
	}
}

func TestTransportCustomSource(t *testing.T) {
	errDown := errors.New("provider down")
	tests := []struct {
		name     string
		src      Source
		wantAuth string
		wantErr  error
	}{
		{"empty token type means Bearer", &countingSource{}, "Bearer tok-1", nil},
		{"token type kept", &countingSource{typ: "DPoP"}, "DPoP tok-1", nil},
		{"source error", &countingSource{err: errDown}, "", errDown},
		{"nil token, nil error", nilSource{}, "", errNilToken},
		{"no source", nil, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &Transport{Source: tt.src, Base: handlerTransport(refusing())}
			body := &closeCounter{Reader: strings.NewReader("b")}
			req, _ := http.NewRequest("POST", "https://api.example/", body)
			resp, err := tr.RoundTrip(req)
			if body.closed.Load() != 1 {
				t.Errorf("request body closed %d times; want 1", body.closed.Load())
			}
			if tt.wantAuth == "" {
				if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
					t.Fatalf("RoundTrip error = %v; want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != tt.wantAuth {
				t.Errorf("Authorization = %q; want %q", b, tt.wantAuth)
			}
		})
	}
}

type nilSource struct{}

func (nilSource) Token(context.Context) (*Token, error) { return nil, nil }

func TestCachedSourceExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &countingSource{life: time.Minute}
		c := &CachedSource{Source: base, ExpiryDelta: 10 * time.Second}
		ctx := context.Background()
		get := func() string {
			t.Helper()
			tok, err := c.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return tok.AccessToken
		}
		if got := get(); got != "tok-1" {
			t.Fatalf("Token() = %s; want tok-1", got)
		}
		time.Sleep(49 * time.Second) // fake time
		if got := get(); got != "tok-1" {
			t.Errorf("Token() 49s later = %s; want tok-1 (fresh until 50s)", got)
		}
		time.Sleep(time.Second)
		if got := get(); got != "tok-2" {
			t.Errorf("Token() 50s later = %s; want tok-2 (ExpiryDelta reached)", got)
		}
	})
}

func TestCachedSourceOneFetch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &countingSource{gate: make(chan struct{})}
		c := &CachedSource{Source: base}
		var wg sync.WaitGroup
		got := make([]string, 100)
		for i := range got {
			wg.Go(func() {
				tok, err := c.Token(context.Background())
				if err == nil {
					got[i] = tok.AccessToken
				}
			})
		}
		// A caller that gives up does not disturb the shared fetch.
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { _, err := c.Token(ctx); done <- err }()
		synctest.Wait()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Token() = %v; want context.Canceled", err)
		}
		close(base.gate)
		wg.Wait()
		for i, g := range got {
			if g != "tok-1" {
				t.Fatalf("caller %d got %q; want tok-1", i, g)
			}
		}
		if n := base.n.Load(); n != 1 {
			t.Errorf("fetches = %d; want 1", n)
		}
	})
}

func TestCachedSourceTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &countingSource{gate: make(chan struct{})} // never opens
		c := &CachedSource{Source: base, FetchTimeout: time.Second}
		start := time.Now()
		_, err := c.Token(context.Background())
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Errorf("Token() = %v after %v; want DeadlineExceeded after 1s", err, time.Since(start))
		}
		var zero CachedSource
		if _, err := zero.Token(context.Background()); err == nil {
			t.Error("zero CachedSource.Token() error = nil; want an error")
		}
	})
}
