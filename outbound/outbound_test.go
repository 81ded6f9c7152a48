package outbound_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/m2mkit/m2m/outbound"
)

func TestSameOriginAsFirst(t *testing.T) {
	first, _ := http.NewRequest("GET", "https://api.example.com/a", nil)
	hop := func(prev *http.Request, url string) *http.Request {
		r, _ := http.NewRequest("GET", url, nil)
		r.Response = &http.Response{Request: prev}
		return r
	}
	same := hop(first, "https://API.example.com/b")
	other := hop(same, "https://evil.example.net/c")
	back := hop(other, "https://api.example.com/d")
	downgrade := hop(first, "http://api.example.com/e")
	otherPort := hop(first, "https://api.example.com:8443/f")
	long := first
	for range 101 {
		long = hop(long, "https://api.example.com/loop")
	}
	tests := []struct {
		name string
		req  *http.Request
		want bool
	}{
		{"first request", first, true},
		{"same origin, host case differs", same, true},
		{"another host", other, false},
		{"back to the first origin", back, true},
		{"scheme downgrade", downgrade, false},
		{"another port", otherPort, false},
		{"chain longer than any client follows", long, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := outbound.SameOriginAsFirst(tt.req); got != tt.want {
				t.Errorf("SameOriginAsFirst(%s) = %v; want %v", tt.req.URL, got, tt.want)
			}
		})
	}
}

// countingBody counts Close calls.
type countingBody struct {
	io.Reader
	mu     sync.Mutex
	closes int
}

func (b *countingBody) Close() error {
	b.mu.Lock()
	b.closes++
	b.mu.Unlock()
	return nil
}

func (b *countingBody) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closes
}

// roundTripFunc is a base transport that, like every RoundTripper, closes
// the request body.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		defer r.Body.Close()
	}
	return f(r)
}

func TestTransportClosesBodyOnEveryPath(t *testing.T) {
	errBase := errors.New("connection refused")
	errAuth := errors.New("no credential")
	ok := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	})
	failing := roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errBase })
	setHeader := func(r *http.Request) error { r.Header.Set("Authorization", "X y"); return nil }
	first, _ := http.NewRequest("GET", "https://api.example.com/", nil)
	tests := []struct {
		name      string
		tr        outbound.Transport
		redirect  string // when set, the request is a redirect from first to this URL
		wantErr   error
		wantPanic bool
	}{
		{name: "success", tr: outbound.Transport{Authorize: setHeader, Base: ok}},
		{name: "zero Transport", tr: outbound.Transport{Base: ok}, wantErr: outbound.ErrNoAuthorize},
		{name: "Authorize fails", tr: outbound.Transport{Authorize: func(*http.Request) error { return errAuth }, Base: ok}, wantErr: errAuth},
		{name: "Authorize panics", tr: outbound.Transport{Authorize: func(*http.Request) error { panic("boom") }, Base: ok}, wantPanic: true},
		{name: "Base fails", tr: outbound.Transport{Authorize: setHeader, Base: failing}, wantErr: errBase},
		{name: "redirect to another origin", tr: outbound.Transport{Base: ok}, redirect: "https://other.example.net/"},
		{name: "redirect to another origin, Base fails", tr: outbound.Transport{Base: failing}, redirect: "https://other.example.net/", wantErr: errBase},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := &countingBody{Reader: strings.NewReader("payload")}
			req, _ := http.NewRequest("POST", "https://api.example.com/", body)
			if tt.redirect != "" {
				req, _ = http.NewRequest("POST", tt.redirect, body)
				req.Response = &http.Response{Request: first}
			}
			var err error
			panicked := func() (p bool) {
				defer func() { p = recover() != nil }()
				var resp *http.Response
				resp, err = tt.tr.RoundTrip(req)
				if resp != nil {
					resp.Body.Close()
				}
				return false
			}()
			if panicked != tt.wantPanic {
				t.Fatalf("RoundTrip panicked = %v; want %v", panicked, tt.wantPanic)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("RoundTrip error = %v; want %v", err, tt.wantErr)
			}
			if n := body.count(); n != 1 {
				t.Errorf("request body closed %d times; want 1", n)
			}
		})
	}
}

func TestTransportRedirects(t *testing.T) {
	type seen struct{ path, authz string }
	var mu sync.Mutex
	var got []seen
	record := func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.URL.Path, r.Header.Get("Authorization")})
		mu.Unlock()
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record(w, r)
		switch r.URL.Path {
		case "/back":
			http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
		default:
			io.WriteString(w, "other")
		}
	}))
	defer other.Close()
	var origin *httptest.Server
	origin = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record(w, r)
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, "/end", http.StatusFound)
		case "/away":
			http.Redirect(w, r, other.URL+"/end", http.StatusFound)
		case "/away-and-back":
			http.Redirect(w, r, other.URL+"/back?to="+origin.URL+"/end", http.StatusFound)
		default:
			io.WriteString(w, "origin")
		}
	}))
	defer origin.Close()
	const cred = "Test secret-credential"
	client := &http.Client{Transport: &outbound.Transport{
		Authorize: func(r *http.Request) error { r.Header.Set("Authorization", cred); return nil },
	}}
	tests := []struct {
		path string
		want []seen
	}{
		{"/end", []seen{{"/end", cred}}},
		{"/same", []seen{{"/same", cred}, {"/end", cred}}},
		{"/away", []seen{{"/away", cred}, {"/end", ""}}},
		{"/away-and-back", []seen{{"/away-and-back", cred}, {"/back", ""}, {"/end", cred}}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got = nil
			req, _ := http.NewRequest("GET", origin.URL+tt.path, nil)
			req.Header.Set("X-Caller", "kept")
			before := req.Header.Clone()
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(seen{})); diff != "" {
				t.Errorf("requests seen (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, req.Header); diff != "" {
				t.Errorf("the caller's request headers were modified (-before +after):\n%s", diff)
			}
		})
	}
}

func TestTransportNeverModifiesTheRequest(t *testing.T) {
	var sent *http.Request
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent = r
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	})
	tr := &outbound.Transport{Base: base, Authorize: func(r *http.Request) error {
		r.Header.Set("Authorization", "X cred")
		r.Header.Add("X-Caller", "added")
		r.URL.Path = "/changed"
		return nil
	}}
	req, _ := http.NewRequest("GET", "https://api.example.com/orig", nil)
	req.Header.Set("X-Caller", "kept")
	before := req.Header.Clone()
	if _, err := tr.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	if sent == req {
		t.Fatal("Base received the caller's request, not a clone")
	}
	if diff := cmp.Diff(before, req.Header); diff != "" {
		t.Errorf("headers modified (-before +after):\n%s", diff)
	}
	if req.URL.Path != "/orig" {
		t.Errorf("URL path = %q; want /orig", req.URL.Path)
	}
	if got := sent.Header.Get("Authorization"); got != "X cred" {
		t.Errorf("sent Authorization = %q; want %q", got, "X cred")
	}
}
