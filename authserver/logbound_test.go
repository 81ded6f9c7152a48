package authserver_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/store"
)

// leakyClients is a store whose failure quotes the client id it was asked
// for, as a driver error may.
// context stands for the long detail some drivers put before it.
type leakyClients struct {
	fakeClients
	context string
}

func (l *leakyClients) GetClient(_ context.Context, id string) (*store.Client, error) {
	return nil, fmt.Errorf("store: %sreading client %s: connection reset", l.context, id)
}

// TestTokenLogBoundsCallerInput: a store error that quotes the caller's
// client_id reaches the log bounded and escaped, so that a token request
// can neither forge a record nor carry a secret past the bound into it.
func TestTokenLogBoundsCallerInput(t *testing.T) {
	const secret = "S3CRET-planted-by-the-caller"
	for _, tc := range []struct{ name, context, id string }{
		{"newline and bidi override escaped", "", "svc\n\u202elevel=ERROR msg=forged"},
		{"long error cut before the secret", strings.Repeat("query context; ", 100), "svc\n\u202e" + secret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			srv, err := authserver.New(authserver.Config{Issuer: testIssuer, Clients: &leakyClients{context: tc.context}, Signer: newTestSigner(t),
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {tc.id}, "client_secret": {"x"}}
			r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, r)
			if w.Code != http.StatusServiceUnavailable {
				t.Fatalf("status = %d %s, want 503", w.Code, w.Body)
			}
			var failed string
			for _, line := range strings.SplitAfter(logs.String(), "\n") {
				if strings.Contains(line, "token request failed") {
					failed += line
				}
			}
			if strings.Count(failed, "\n") != 1 || strings.ContainsAny(failed, "\u202e") || tc.context == "" && !strings.Contains(failed, `\\u202e`) {
				t.Errorf("want one log line with the caller's U+202E escaped, got %q", logs.String())
			}
			if len(failed) > 1024 {
				t.Errorf("log line of %d bytes is not bounded", len(failed))
			}
			if strings.Contains(logs.String(), secret) {
				t.Errorf("secret past the bound reached the log: %q", logs.String())
			}
		})
	}
}
