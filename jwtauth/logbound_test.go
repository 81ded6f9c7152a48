package jwtauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/jwtauth"
)

// TestLoginLogBoundsCallerInput: a PasswordChecker error that quotes the
// caller's user name and password reaches the log bounded and escaped, so
// that a login can neither forge a record nor carry a secret past the
// bound into the log.
func TestLoginLogBoundsCallerInput(t *testing.T) {
	const secret = "S3CRET-planted-by-the-caller"
	for _, tc := range []struct{ name, user, pass string }{
		{"newline and bidi override escaped", "svc\n\u202elevel=ERROR msg=forged", "pw"},
		{"long input cut before the secret", "svc\n\u202elevel=ERROR", strings.Repeat("A", 1500) + secret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := &jwtauth.LoginHandler{
				Users: jwtauth.PasswordFunc(func(_ context.Context, u, p string) (bool, error) {
					return false, fmt.Errorf("users: checking %s:%s: store down", u, p)
				}),
				Tokens: &jwtauth.DeviceTokens{Keys: []m2m.Secret{key1}},
				Logger: slog.New(slog.NewTextHandler(&logs, nil)),
			}
			body, _ := json.Marshal(map[string]string{"user": tc.user, "pass": tc.pass})
			if got := post(t, h, "POST", "application/json", string(body), "192.0.2.1:1234"); got.code != 500 {
				t.Fatalf("status = %d, want 500", got.code)
			}
			out := logs.String()
			if strings.Count(out, "\n") != 1 || strings.ContainsAny(out, "\u202e") || !strings.Contains(out, `\\u202e`) {
				t.Errorf("want one log line with the caller's U+202E escaped, got %q", out)
			}
			if len(out) > 1024 {
				t.Errorf("log line of %d bytes is not bounded", len(out))
			}
			if strings.Contains(out, secret) {
				t.Errorf("secret past the bound reached the log: %q", out)
			}
		})
	}
}
