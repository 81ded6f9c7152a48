package rolling

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/m2mkit/m2m"
)

func TestWireRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		wire  Wire
		kid   string
		code  string
		value string // the header value Format must produce
	}{
		{"token68", Wire{}, "", "UK6mIx", "Rolling UK6mIx"},
		{"with kid", Wire{}, "bot-1", "UK6mIx", `Rolling kid="bot-1", code="UK6mIx"`},
		{"printable alphabet", Wire{}, "", `#-"!%#][,#;<`, `Rolling code="#-\"!%#][,#;<"`},
		{"backslash", Wire{}, `k\1`, `a\b`, `Rolling kid="k\\1", code="a\\b"`},
		{"unicode", Wire{}, "", "αδααβαηη", `Rolling code="αδααβαηη"`},
		{"space inside", Wire{}, "", "a b", `Rolling code="a b"`},
		{"token68 padding", Wire{}, "", "ab==", "Rolling ab=="},
		{"equals inside", Wire{}, "", "a=b", `Rolling code="a=b"`},
		{"custom scheme", Wire{Scheme: "Token"}, "", "123456", "Token 123456"},
		{"bare custom header", Wire{Header: "X-Token", Bare: true}, "", "UK6mIx", "UK6mIx"},
		{"bare unicode", Wire{Header: "X-Token", Bare: true}, "", "αβ,\"", "αβ,\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.wire.Format(tt.kid, tt.code)
			if v != tt.value {
				t.Fatalf("Format(%q, %q) = %s; want %s", tt.kid, tt.code, v, tt.value)
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set(tt.wire.header(), v)
			kid, code, err := tt.wire.Parse(r)
			if err != nil || kid != tt.kid || code != tt.code {
				t.Fatalf("Parse(%s) = %q, %q, %v; want %q, %q, nil", v, kid, code, err, tt.kid, tt.code)
			}
		})
	}
}

func TestParseCredentials(t *testing.T) {
	tests := []struct {
		cred      string
		kid, code string
		reason    m2m.Reason // "" means success
	}{
		{"abc", "", "abc", ""},
		{`code=abc`, "", "abc", ""},
		{`CODE="abc" , KID=k`, "k", "abc", ""},
		{`kid="k",code="a\"b"`, "k", `a"b`, ""},
		{`kid="k"`, "", "", m2m.ReasonMalformed},
		{`code=""`, "", "", m2m.ReasonMalformed},
		{`code="abc`, "", "", m2m.ReasonMalformed},
		{`code="a\`, "", "", m2m.ReasonMalformed},
		{`code=abc, code=def`, "", "", m2m.ReasonMalformed},
		{`code=abc, x=1`, "", "", m2m.ReasonMalformed},
		{`code=abc kid=k`, "", "", m2m.ReasonMalformed},
		{`code`, "", "code", ""}, // a token68 is a bare code
		{`code =`, "", "", m2m.ReasonMalformed},
		{`=abc`, "", "", m2m.ReasonMalformed},
		{"code=\"a\x01b\"", "", "", m2m.ReasonMalformed},
		{`code=abc,`, "", "", m2m.ReasonMalformed},
		{strings.Repeat("a", MaxCodeBytes+1), "", "", m2m.ReasonTooLarge},
		{`code="` + strings.Repeat("a", MaxCodeBytes+1) + `"`, "", "", m2m.ReasonTooLarge},
		{`kid="` + strings.Repeat("k", MaxKeyIDBytes+1) + `", code=a`, "", "", m2m.ReasonTooLarge},
		{strings.Repeat("a ", 5000), "", "", m2m.ReasonTooLarge},
	}
	for _, tt := range tests {
		name := tt.cred
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			kid, code, err := ParseCredentials(tt.cred)
			if tt.reason == "" {
				if err != nil || kid != tt.kid || code != tt.code {
					t.Fatalf("ParseCredentials(%q) = %q, %q, %v; want %q, %q, nil", tt.cred, kid, code, err, tt.kid, tt.code)
				}
				return
			}
			if got := m2m.ReasonOf(err); got != tt.reason {
				t.Fatalf("ParseCredentials(%q) = %q, %q, %v; want reason %s", tt.cred, kid, code, err, tt.reason)
			}
		})
	}
}

func TestWireParseAbsent(t *testing.T) {
	tests := []struct {
		name   string
		wire   Wire
		header string
		value  string
	}{
		{"no header", Wire{}, "", ""},
		{"other scheme", Wire{}, "Authorization", "Bearer abc"},
		{"bare header absent", Wire{Header: "X-Token", Bare: true}, "Authorization", "Rolling abc"},
		{"bare header empty", Wire{Header: "X-Token", Bare: true}, "X-Token", "  "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tt.header != "" {
				r.Header.Set(tt.header, tt.value)
			}
			if _, _, err := tt.wire.Parse(r); !errors.Is(err, m2m.ErrNoCredentials) {
				t.Fatalf("Parse = %v; want ErrNoCredentials", err)
			}
		})
	}
}
