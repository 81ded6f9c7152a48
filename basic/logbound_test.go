package basic_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/basic"
)

// TestVerifierLogBoundsCallerInput: an error that quotes the caller's user
// name reaches the log bounded and escaped, so that a user name cannot
// disguise a record, flood the log or carry a secret past the bound into
// it. (A newline cannot get here: ParseCredentials refuses controls.)
func TestVerifierLogBoundsCallerInput(t *testing.T) {
	const secret = "S3CRET-in-the-user-field"
	for _, tc := range []struct {
		name, user string
	}{
		{"bidi override is escaped", "svc\u202edetaerof"},
		{"long name is cut before the secret", "svc\u202edetaerof" + strings.Repeat("A", 1500) + secret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			v := &basic.Verifier{
				Check: func(_ *http.Request, user, _ string) (*m2m.Principal, error) {
					return nil, fmt.Errorf("users: looking up %s: store down", user)
				},
				Logger: slog.New(slog.NewTextHandler(&logs, nil)),
			}
			r := request("Basic " + base64.StdEncoding.EncodeToString([]byte(tc.user+":pw")))
			if _, err := v.Verify(r); err == nil {
				t.Fatal("Verify succeeded")
			}
			checkLogLine(t, logs.String(), secret)
		})
	}
}

// checkLogLine asserts out is one bounded record, without secret, with
// the caller's bidi override escaped.
func checkLogLine(t *testing.T, out, secret string) {
	t.Helper()
	if strings.Count(out, "\n") != 1 || strings.Contains(out, "\u202e") || !strings.Contains(out, `\\u202e`) && !strings.Contains(out, `\u202e`) {
		t.Errorf("want one log line with the caller's U+202E escaped, got %q", out)
	}
	if len(out) > 1024 {
		t.Errorf("log line of %d bytes is not bounded", len(out))
	}
	if strings.Contains(out, secret) {
		t.Errorf("secret past the bound reached the log: %q", out)
	}
}
