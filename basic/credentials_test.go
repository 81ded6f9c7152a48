package basic_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/basic"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestParseCredentials(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		user, pass string
		reason     m2m.Reason // "" means accepted
	}{
		{"plain", "YWxpY2U6d29uZGVybGFuZA==", "alice", "wonderland", ""},
		{"password with colons", "c3ZjOnA6YTpzcw==", "svc", "p:a:ss", ""},
		{"empty password", b64("bob:"), "bob", "", ""},
		{"empty user", b64(":pw"), "", "pw", ""},
		{"utf-8", b64("jürgen:pässwörd€"), "jürgen", "pässwörd€", ""},
		{"no colon", "YWxpY2V3b25kZXJsYW5k", "", "", m2m.ReasonMalformed},
		{"junk characters", "Y!W!x!p!Y!2!U!6!d!2!9!u!Z!G!V!y!b!G!F!u!Z!A!=!=", "", "", m2m.ReasonMalformed},
		{"not base64", "###", "", "", m2m.ReasonMalformed},
		{"missing padding", "YWxpY2U6d29uZGVybGFuZA", "", "", m2m.ReasonMalformed},
		{"too much padding", "YWxpY2U6d29uZGVybGFuZA===", "", "", m2m.ReasonMalformed},
		{"inner newline", "YWxpY2U6\nd29uZGVybGFuZA==", "", "", m2m.ReasonMalformed},
		{"inner space", "YWxpY2U6 d29uZGVybGFuZA==", "", "", m2m.ReasonMalformed},
		{"url alphabet", strings.NewReplacer("+", "-", "/", "_").Replace(b64("a:\xfb\xff")), "", "", m2m.ReasonMalformed},
		{"non-zero padding bits", "YR==", "", "", m2m.ReasonMalformed},
		{"empty", "", "", "", m2m.ReasonMalformed},
		{"not utf-8", b64("a:\xff\xfe"), "", "", m2m.ReasonMalformed},
		{"surrogate", b64("a:\xed\xa0\x80"), "", "", m2m.ReasonMalformed},
		{"control in password", b64("a:b\x00c"), "", "", m2m.ReasonMalformed},
		{"control in user", b64("a\nb:c"), "", "", m2m.ReasonMalformed},
		{"C1 control", b64("a:b\u0085"), "", "", m2m.ReasonMalformed},
		{"DEL", b64("a:b\x7f"), "", "", m2m.ReasonMalformed},
		{"too large", b64("u:" + strings.Repeat("x", basic.MaxCredentialsBytes)), "", "", m2m.ReasonTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, pass, err := basic.ParseCredentials(tt.in)
			if got := m2m.ReasonOf(err); got != tt.reason {
				t.Fatalf("ParseCredentials(%q) error = %v; want reason %q", tt.in, err, tt.reason)
			}
			if user != tt.user || pass != tt.pass {
				t.Errorf("ParseCredentials(%q) = %q, %q; want %q, %q", tt.in, user, pass, tt.user, tt.pass)
			}
			var ce *m2m.CredentialError
			if err != nil && (!errors.As(err, &ce) || ce.Scheme != m2m.SchemeBasic) {
				t.Errorf("ParseCredentials(%q) error = %#v; want a *m2m.CredentialError for %q", tt.in, err, m2m.SchemeBasic)
			}
		})
	}
}

func TestParseCredentialsLenient(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		user, pass string
		reason     m2m.Reason
	}{
		{"plain", "YWxpY2U6d29uZGVybGFuZA==", "alice", "wonderland", ""},
		{"password with colons", "c3ZjOnA6YTpzcw==", "svc", "p:a:ss", ""},
		{"junk characters skipped", "Y!W!x!p!Y!2!U!6!d!2!9!u!Z!G!V!y!b!G!F!u!Z!A!=!=", "alice", "wonderland", ""},
		{"spaces and newlines skipped", " YWxp Y2U6\r\nd29u ZGVy bGFu ZA== ", "alice", "wonderland", ""},
		{"data after padding ignored", "YWxpY2U6d29uZGVybGFuZA==YWxpY2U6", "alice", "wonderland", ""},
		{"single pad completes a 3-digit group", "YWxpY2U6d29uZGVybGFuZGE=xyz", "alice", "wonderlanda", ""},
		{"pads in the middle skipped", "YW=xpY2U6d29uZGVybGFuZA==", "alice", "wonderland", ""},
		{"data resets pad count", "YWxpY2U6d29uZGVybG=FuZA=Q==", "alice", "wonderland\x04", ""},
		{"missing padding", "YWxpY2U6d29uZGVybGFuZA", "", "", m2m.ReasonMalformed},
		{"one digit too many", "YWxpY2U6d29uZGVybGFuZ", "", "", m2m.ReasonMalformed},
		{"no colon", "YWxpY2V3b25kZXJsYW5k", "", "", m2m.ReasonMalformed},
		{"no digits", "###", "", "", m2m.ReasonMalformed},
		{"empty", "", "", "", m2m.ReasonMalformed},
		{"non-ascii", "YWxpY2U6d29uZGVybGFuZA==é", "", "", m2m.ReasonMalformed},
		{"not utf-8", b64("a:\xff"), "", "", m2m.ReasonMalformed},
		{"control characters allowed", b64("a:b\x00c"), "a", "b\x00c", ""},
		{"too large", strings.Repeat("!", basic.MaxCredentialsBytes+1), "", "", m2m.ReasonTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, pass, err := basic.ParseCredentialsLenient(tt.in)
			if got := m2m.ReasonOf(err); got != tt.reason {
				t.Fatalf("ParseCredentialsLenient(%q) error = %v; want reason %q", tt.in, err, tt.reason)
			}
			if user != tt.user || pass != tt.pass {
				t.Errorf("ParseCredentialsLenient(%q) = %q, %q; want %q, %q", tt.in, user, pass, tt.user, tt.pass)
			}
		})
	}
}
