package httpauth_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/clientaddr"
	"github.com/m2mkit/m2m/httpauth"
)

// recordHandler keeps every attribute value as the string the caller
// passed, before any handler quotes it: what a custom handler that does
// not escape (a plain-text sink, a log shipper) would write.
type recordHandler struct {
	mu    sync.Mutex
	attrs map[string]string
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordHandler) WithGroup(string) slog.Handler            { return h }
func (h *recordHandler) Handle(_ context.Context, rec slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	rec.Attrs(func(a slog.Attr) bool {
		h.attrs[a.Key] = a.Value.String()
		return true
	})
	return nil
}

// echoFailure is a verifier whose technical failure echoes caller input,
// as a driver error quoting a key it could not find might.
type echoFailure struct{}

func (echoFailure) Verify(r *http.Request) (*m2m.Principal, error) {
	return nil, errors.New("lookup failed for " + r.Header.Get("X-Id"))
}

func TestLogFieldsBoundedAndEscaped(t *testing.T) {
	const secret = "s3cr3t-credential-planted"
	longPath := "/" + strings.Repeat("p", 5000) + "\nlevel=ERROR msg=forged"
	for _, tc := range []struct {
		name     string
		verifier m2m.Verifier
		proxies  clientaddr.TrustedProxies
		setup    func(r *http.Request)
		want     map[string]string
	}{
		{
			name:     "refusal: path cut, newline escaped, credential absent",
			verifier: bearerStub{},
			setup: func(r *http.Request) {
				r.URL.Path = "/a\nlevel=ERROR msg=forged"
				r.Header.Set("Authorization", "Bearer "+secret)
			},
			want: map[string]string{"path": `/a\nlevel=ERROR msg=forged`, "remote_addr": "192.0.2.1", "reason": "expired"},
		},
		{
			name:     "long path and method",
			verifier: bearerStub{},
			setup: func(r *http.Request) {
				r.URL.Path = longPath
				r.Method = strings.Repeat("M", 300)
				r.Header.Set("Authorization", "Bearer "+secret)
			},
			want: map[string]string{"path": "/" + strings.Repeat("p", 127) + "...", "method": strings.Repeat("M", 128) + "..."},
		},
		{
			name:     "forwarded address only from a trusted proxy",
			verifier: bearerStub{},
			setup: func(r *http.Request) {
				r.Header.Set("X-Forwarded-For", "198.51.100.7\r\nforged")
				r.Header.Set("Authorization", "Bearer "+secret)
			},
			want: map[string]string{"remote_addr": "192.0.2.1"},
		},
		{
			name:     "trusted proxy names the client",
			verifier: bearerStub{},
			proxies:  clientaddr.TrustedProxies{netip.MustParsePrefix("192.0.2.0/24")},
			setup: func(r *http.Request) {
				r.Header.Set("X-Forwarded-For", "198.51.100.7")
				r.Header.Set("Authorization", "Bearer "+secret)
			},
			want: map[string]string{"remote_addr": "198.51.100.7"},
		},
		{
			name:     "technical error echoing caller input is bounded",
			verifier: echoFailure{},
			setup: func(r *http.Request) {
				r.Header.Set("X-Id", strings.Repeat("i", 3000)+"\n")
			},
			want: map[string]string{"error": "lookup failed for " + strings.Repeat("i", 512-len("lookup failed for ")) + "..."},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &recordHandler{attrs: map[string]string{}}
			m := &httpauth.Middleware{Verifiers: []m2m.Verifier{tc.verifier}, Logger: slog.New(h), TrustedProxies: tc.proxies}
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = "192.0.2.1:4711"
			tc.setup(r)
			m.Handler(http.HandlerFunc(whoami)).ServeHTTP(httptest.NewRecorder(), r)
			if len(h.attrs) == 0 {
				t.Fatal("nothing logged")
			}
			for k, v := range h.attrs {
				if strings.Contains(v, secret) {
					t.Errorf("%s holds the credential: %q", k, v)
				}
				if strings.ContainsAny(v, "\r\n") {
					t.Errorf("%s holds a raw line break: %q", k, v)
				}
				if len(v) > 600 {
					t.Errorf("%s is %d bytes long", k, len(v))
				}
			}
			for k, want := range tc.want {
				if got := h.attrs[k]; got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}
