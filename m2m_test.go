package m2m_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/m2mkit/m2m"
)

func TestCredentialError(t *testing.T) {
	cause := errors.New("signature mismatch")
	tests := []struct {
		name   string
		err    *m2m.CredentialError
		msg    string
		status int
	}{
		{"bare", &m2m.CredentialError{Reason: m2m.ReasonExpired}, "m2m: invalid credentials: expired", 401},
		{"scheme and description", m2m.Invalid("basic", m2m.ReasonBadCredentials, "wrong password"),
			"basic: invalid credentials: bad_credentials: wrong password", 401},
		{"forbidden", m2m.Invalid("x", m2m.ReasonForbidden, ""), "x: invalid credentials: forbidden", 403},
		{"insufficient scope", m2m.Invalid("x", m2m.ReasonInsufficientScope, ""), "x: invalid credentials: insufficient_scope", 403},
		{"throttled", m2m.Invalid("x", m2m.ReasonThrottled, ""), "x: invalid credentials: throttled", 429},
		{"explicit status", &m2m.CredentialError{Reason: m2m.ReasonForbidden, Status: 404}, "m2m: invalid credentials: forbidden", 404},
		{"with cause", &m2m.CredentialError{Scheme: "bearer", Reason: m2m.ReasonBadSignature, Err: cause},
			"bearer: invalid credentials: bad_signature", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.msg {
				t.Errorf("Error() = %q; want %q", got, tt.msg)
			}
			if got := tt.err.HTTPStatus(); got != tt.status {
				t.Errorf("HTTPStatus() = %d; want %d", got, tt.status)
			}
			if !errors.Is(tt.err, m2m.ErrInvalidCredentials) {
				t.Errorf("errors.Is(%v, ErrInvalidCredentials) = false; want true", tt.err)
			}
			if errors.Is(tt.err, m2m.ErrNoCredentials) {
				t.Errorf("errors.Is(%v, ErrNoCredentials) = true; want false", tt.err)
			}
			if got, want := errors.Is(tt.err, cause), tt.err.Err != nil; got != want {
				t.Errorf("errors.Is(%v, cause) = %v; want %v", tt.err, got, want)
			}
		})
	}
}

func TestReasonOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want m2m.Reason
	}{
		{"nil", nil, ""},
		{"no credentials", m2m.ErrNoCredentials, m2m.ReasonMissing},
		{"wrapped no credentials", fmt.Errorf("x: %w", m2m.ErrNoCredentials), m2m.ReasonMissing},
		{"plain invalid", m2m.ErrInvalidCredentials, m2m.ReasonBadCredentials},
		{"credential error", m2m.Invalid("x", m2m.ReasonReplayed, ""), m2m.ReasonReplayed},
		{"wrapped credential error", fmt.Errorf("x: %w", m2m.Invalid("x", m2m.ReasonExpired, "")), m2m.ReasonExpired},
		{"technical", errors.New("database down"), ""},
		{"unavailable", fmt.Errorf("x: %w", m2m.ErrUnavailable), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := m2m.ReasonOf(tt.err); got != tt.want {
				t.Errorf("ReasonOf(%v) = %q; want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestHasScope(t *testing.T) {
	p := &m2m.Principal{Scopes: []string{"read", "write"}}
	tests := []struct {
		name   string
		p      *m2m.Principal
		scopes []string
		want   bool
	}{
		{"one", p, []string{"read"}, true},
		{"all", p, []string{"read", "write"}, true},
		{"none asked", p, nil, true},
		{"missing", p, []string{"read", "admin"}, false},
		{"nil principal", nil, []string{"read"}, false},
		{"nil principal, none asked", nil, nil, false},
		{"no scopes", &m2m.Principal{}, []string{"read"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.HasScope(tt.scopes...); got != tt.want {
				t.Errorf("HasScope(%q) = %v; want %v", tt.scopes, got, tt.want)
			}
		})
	}
}

func TestContext(t *testing.T) {
	ctx := context.Background()
	if p, ok := m2m.FromContext(ctx); ok || p != nil {
		t.Errorf("FromContext(empty) = %v, %v; want nil, false", p, ok)
	}
	if p, ok := m2m.FromContext(m2m.NewContext(ctx, nil)); ok || p != nil {
		t.Errorf("FromContext(NewContext(nil)) = %v, %v; want nil, false", p, ok)
	}
	want := &m2m.Principal{Subject: "bot"}
	if p, ok := m2m.FromContext(m2m.NewContext(ctx, want)); !ok || p != want {
		t.Errorf("FromContext(NewContext(p)) = %v, %v; want %v, true", p, ok, want)
	}
}

func TestVerifierFunc(t *testing.T) {
	var got *http.Request
	v := m2m.VerifierFunc(func(r *http.Request) (*m2m.Principal, error) {
		got = r
		return nil, m2m.ErrNoCredentials
	})
	r, _ := http.NewRequest("GET", "/", nil)
	if _, err := v.Verify(r); !errors.Is(err, m2m.ErrNoCredentials) || got != r {
		t.Errorf("VerifierFunc.Verify = %v (request passed: %v); want ErrNoCredentials (true)", err, got == r)
	}
}

// TestSecretRedacted checks that no formatting, encoding or logging path
// shows a Secret's bytes, in any form.
func TestSecretRedacted(t *testing.T) {
	s := m2m.Secret("hunter2-key")
	// The bytes in every form they could leak in: raw, decimal, hex.
	leaks := []string{"hunter2", "104 117 110", "68756e74", "68 75 6e 74", "68756E74"}
	check := func(name, out string) {
		t.Helper()
		for _, l := range leaks {
			if strings.Contains(out, l) {
				t.Errorf("%s = %q; contains the secret (%q)", name, out, l)
			}
		}
		if !strings.Contains(out, "[REDACTED]") {
			t.Errorf("%s = %q; want [REDACTED]", name, out)
		}
	}
	for _, verb := range []string{"%v", "%s", "%q", "%x", "%X", "% x", "%d", "%#v", "%+v", "%T=%[1]v"} {
		check("Sprintf("+verb+")", fmt.Sprintf(verb, s))
	}
	check("Sprint", fmt.Sprint(s))
	check("Sprintf(struct)", fmt.Sprintf("%+v", struct{ Key m2m.Secret }{s}))
	j, err := json.Marshal(struct{ Key m2m.Secret }{s})
	if err != nil {
		t.Fatal(err)
	}
	check("json.Marshal", string(j))
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "key", s)
	check("slog JSON", buf.String())
	buf.Reset()
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", slog.Any("key", s))
	check("slog text", buf.String())
	if string(s) != "hunter2-key" {
		t.Errorf("string(s) = %q; want the bytes", string(s))
	}
}
