package rolling

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
)

func TestTransportEndToEnd(t *testing.T) {
	h := mustHMAC(t, string(testSeed), Config{Alphabet: `!"#$%&'()*+,-./:;<=>?@[\]^_{|}~`, Length: 14})
	legacy := &M2MToken{Seed: "seed", TTL: 5, UTCOffset: 3600}
	tests := []struct {
		name  string
		codec Codec
		kid   string
		wire  Wire
	}{
		{"hmac with kid", h, "bot", Wire{}},
		{"hmac without kid", h, "", Wire{}},
		{"custom scheme", h, "bot", Wire{Scheme: "Code", Header: "X-Auth"}},
		{"m2m_token bare header", legacy, "", Wire{Header: "X-Token", Bare: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &Verifier{Keys: []Key{{"bot", tt.codec}}, Wire: tt.wire}
			m := &httpauth.Middleware{Verifiers: []m2m.Verifier{v}}
			srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				p, _ := m2m.FromContext(r.Context())
				io.WriteString(w, p.Subject)
			})))
			defer srv.Close()
			c := &http.Client{Transport: &Transport{Codec: tt.codec, KeyID: tt.kid, Wire: tt.wire}}
			req, _ := http.NewRequest("GET", srv.URL, nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "bot" {
				t.Fatalf("GET = %d %s; want 200 bot", resp.StatusCode, body)
			}
			if len(req.Header) != 0 {
				t.Fatalf("the caller's request was modified: %v", req.Header)
			}
		})
	}
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestTransportErrorClosesBody(t *testing.T) {
	tests := []struct {
		name string
		tr   *Transport
	}{
		{"no codec", &Transport{}},
		{"invalid codec", &Transport{Codec: &M2MToken{Seed: "s"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := &closeRecorder{Reader: strings.NewReader("x")}
			req, _ := http.NewRequest("POST", "http://example.invalid/", body)
			_, err := tt.tr.RoundTrip(req)
			if err == nil || !body.closed {
				t.Fatalf("RoundTrip = %v, body closed %v; want an error and a closed body", err, body.closed)
			}
			var ce *ConfigError
			if tt.tr.Codec != nil && !errors.As(err, &ce) {
				t.Fatalf("RoundTrip = %v; want a ConfigError", err)
			}
		})
	}
}

func TestTransportUsesNow(t *testing.T) {
	at := time.Unix(1_700_000_000, 0)
	h := mustHMAC(t, string(testSeed), Config{})
	want, _ := h.Generate(at)
	var got string
	tr := &Transport{Codec: h, Now: func() time.Time { return at }, Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r.Header.Get("Authorization")
		return &http.Response{StatusCode: 204, Body: http.NoBody, Request: r}, nil
	})}
	req, _ := http.NewRequest("GET", "http://example.invalid/", nil)
	if _, err := tr.RoundTrip(req); err != nil || got != "Rolling "+want {
		t.Fatalf("Authorization = %q, %v; want %q", got, err, "Rolling "+want)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestTransportRedirect checks that a code goes to the origin of the first
// request only: a redirect to the same origin carries a fresh code, one to
// another origin none.
func TestTransportRedirect(t *testing.T) {
	h := mustHMAC(t, string(testSeed), Config{})
	for _, wire := range []Wire{{}, {Header: "X-Token", Bare: true}} {
		t.Run(wire.header(), func(t *testing.T) {
			var other string // the header the other origin received
			otherSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				other = r.Header.Get(wire.header())
			}))
			defer otherSrv.Close()
			var same []string // the headers the first origin received
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				same = append(same, r.Header.Get(wire.header()))
				switch r.URL.Path {
				case "/":
					http.Redirect(w, r, "/next", http.StatusFound)
				case "/next":
					http.Redirect(w, r, otherSrv.URL+"/steal", http.StatusFound)
				}
			}))
			defer srv.Close()
			c := &http.Client{Transport: &Transport{Codec: h, KeyID: "bot", Wire: wire}}
			resp, err := c.Get(srv.URL + "/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if len(same) != 2 || same[0] == "" || same[1] == "" {
				t.Errorf("first origin got %q; want a code on both requests", same)
			}
			if other != "" {
				t.Errorf("other origin got %s: %q; want no code", wire.header(), other)
			}
		})
	}
}
