package basic_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/m2mkit/m2m/basic"
)

// FuzzParseCredentials checks both parsers on arbitrary input: no panic,
// errors that never echo the input, and strict results that are canonical
// (they re-encode to the input) and also accepted, identically, by the
// lenient parser. Seeds are the microdot vectors' Basic credentials.
func FuzzParseCredentials(f *testing.F) {
	for _, s := range []string{
		"YWxpY2U6d29uZGVybGFuZA==", "c3ZjOnA6YTpzcw==", "YWxpY2U6bm9wZQ==", "YWxpY2V3b25kZXJsYW5k", "###",
		"Y!W!x!p!Y!2!U!6!d!2!9!u!Z!G!V!y!b!G!F!u!Z!A!=!=", "", "=", "YR==", "YWxpY2U6d29uZGVybG=FuZA=Q==",
		"w6k6w6k=", "OgA=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		user, pass, err := basic.ParseCredentials(in)
		luser, lpass, lerr := basic.ParseCredentialsLenient(in)
		for _, e := range []error{err, lerr} {
			if e != nil && len(in) > 3 && strings.Contains(e.Error(), in) {
				t.Fatalf("error %q echoes the input", e)
			}
		}
		if lerr == nil && !utf8.ValidString(luser+lpass) {
			t.Fatalf("ParseCredentialsLenient(%q) = %q, %q; not UTF-8", in, luser, lpass)
		}
		if err != nil {
			return
		}
		if strings.Contains(user, ":") || strings.ContainsFunc(user+pass, unicode.IsControl) || !utf8.ValidString(user+pass) {
			t.Fatalf("ParseCredentials(%q) = %q, %q; want UTF-8 without controls, user without ':'", in, user, pass)
		}
		if got := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)); got != in {
			t.Fatalf("ParseCredentials(%q) = %q, %q, which encode to %q", in, user, pass, got)
		}
		if lerr != nil || luser != user || lpass != pass {
			t.Fatalf("ParseCredentialsLenient(%q) = %q, %q, %v; want %q, %q as strict", in, luser, lpass, lerr, user, pass)
		}
	})
}

// FuzzParseHtpasswd checks that no password file makes the parser panic,
// and that every entry it accepts can be checked.
func FuzzParseHtpasswd(f *testing.F) {
	for _, s := range []string{
		"alice:" + bcryptUU + "\n", "bob:" + argon2idPass + "\r\n# c\n\n", "a:b:c\n", ":x\n", "x\n",
		"u:$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA\n", "u:$2y$04$" + strings.Repeat(".", 53) + "\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		h, err := basic.ParseHtpasswd(strings.NewReader(in))
		if err != nil {
			return
		}
		// Check only cheap entries: the fuzzer can write argon2id costs
		// that are valid but slow.
		if h.Len() > 0 && !strings.Contains(in, "argon2id") && !strings.Contains(in, "$2a$1") && !strings.Contains(in, "$2b$1") && !strings.Contains(in, "$2y$1") {
			_, _ = h.Authenticate(context.Background(), "nobody", "x")
		}
	})
}
