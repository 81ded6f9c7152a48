package jwk

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRemoteKeySetHidesCredentials checks that no credential of a JWKS
// URL (user information, a token in the query) reaches an error or a log
// line, whatever the failure.
func TestRemoteKeySetHidesCredentials(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("not json"))
	}))
	defer garbage.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	// A redirect to a signed link that cannot be reached: the HTTP
	// client's error names the link, not the URL the caller gave.
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+closed+"/keys?X-Amz-Signature=t0ken-value", http.StatusFound)
	}))
	defer redirect.Close()
	withCreds := func(base string) string {
		return strings.Replace(base, "http://", "http://bob:s3cret-pw@", 1) + "/jwks?api_key=t0ken-value&v=1"
	}
	tests := []struct {
		name, url string
	}{
		{"status 503", withCreds(down.URL)},
		{"not a key set", withCreds(garbage.URL)},
		{"connection refused", withCreds("http://" + closed)},
		{"redirect to a signed link", redirect.URL + "/jwks"},
		{"token as user name", strings.Replace(down.URL, "http://", "http://t0ken-value@", 1) + "/jwks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			r := &RemoteKeySet{URL: tt.url, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			_, err := r.Lookup(context.Background(), "k1")
			if err == nil {
				t.Fatal("Lookup = nil error; want a fetch failure")
			}
			for _, secret := range []string{"s3cret-pw", "t0ken-value"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("Lookup error = %q; it shows %q", err, secret)
				}
				if strings.Contains(logs.String(), secret) {
					t.Errorf("log = %q; it shows %q", logs.String(), secret)
				}
			}
		})
	}
	if _, err := Open("https://bob:s3cret-pw@[::1/jwks"); err == nil || strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("Open(unparseable URL) = %v; want an error without the password", err)
	}
}

// TestRemoteKeySetErrorNamesTheSetOnce: a first fetch that fails is
// reported once, "jwk: fetching URL: cause", not with the prefix twice.
func TestRemoteKeySetErrorNamesTheSetOnce(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	r := &RemoteKeySet{URL: srv.URL + "/jwks.json"}
	_, err := r.Lookup(context.Background(), "k1")
	if err == nil {
		t.Fatal("Lookup = nil error; want the failed fetch")
	}
	if n := strings.Count(err.Error(), "jwk: fetching"); n != 1 {
		t.Errorf("Lookup error %q names the fetch %d times; want once", err, n)
	}
}
