package clientcred

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// endless is a response body that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// endlessBody answers every request with status and a body that never
// ends, after a JSON-looking start.
func endlessBody(status int) http.RoundTripper {
	return rtFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{
			StatusCode: status,
			Header:     http.Header{"Content-Type": {"application/json"}},
			Body:       io.NopCloser(io.MultiReader(strings.NewReader(`{"access_token":"`), endless{})),
			Request:    r,
		}, nil
	})
}

// TestFetchesAreBounded checks that every outbound fetch of a token
// source (token endpoint, discovery) reads a bounded amount and ends
// within FetchTimeout, whatever the server does.
func TestFetchesAreBounded(t *testing.T) {
	hang := rtFunc(func(r *http.Request) (*http.Response, error) {
		<-r.Context().Done()
		return nil, r.Context().Err()
	})
	tests := []struct {
		name     string
		endpoint func(*Config)
		rt       http.RoundTripper
		want     string // in the error
	}{
		{"token response without end", func(c *Config) { c.TokenURL = "https://idp.test/oauth/token" }, endlessBody(200), "larger than"},
		{"token refusal without end", func(c *Config) { c.TokenURL = "https://idp.test/oauth/token" }, endlessBody(400), "larger than"},
		{"metadata without end", func(c *Config) { c.Issuer = "https://idp.test/" }, endlessBody(200), "larger than"},
		{"token endpoint never answers", func(c *Config) { c.TokenURL = "https://idp.test/oauth/token" }, hang, "deadline exceeded"},
		{"metadata never answers", func(c *Config) { c.Issuer = "https://idp.test/" }, hang, "deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := Config{
					ClientID: "c", ClientSecret: "s", Audience: "a",
					HTTPClient:   &http.Client{Transport: tt.rt},
					FetchTimeout: 5 * time.Second,
					Retry:        RetryPolicy{MaxAttempts: 1},
					LookupEnv:    func(string) (string, bool) { return "", false },
				}
				tt.endpoint(&cfg)
				s, err := NewTokenSource(cfg)
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				_, err = s.Token(context.Background())
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Token() = %v; want an error with %q", err, tt.want)
				}
				if el := time.Since(start); el > cfg.FetchTimeout {
					t.Errorf("Token() took %v; want at most FetchTimeout %v", el, cfg.FetchTimeout)
				}
				if tt.want == "deadline exceeded" && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Token() = %v; want errors.Is DeadlineExceeded", err)
				}
			})
		})
	}
}
