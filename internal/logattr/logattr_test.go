package logattr

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		max      int
		want     string
	}{
		{"plain", "/v1/items", 0, "/v1/items"},
		{"newline forges no record", "/x\nlevel=ERROR msg=forged", 0, `/x\nlevel=ERROR msg=forged`},
		{"carriage return and escape", "a\r\x1b[31mb", 0, `a\r\x1b[31mb`},
		{"backslash is escaped, so an escape is unambiguous", `a\nb`, 0, `a\\nb`},
		{"DEL and C1", "a\x7f\u0085b", 0, `a\x7f\u0085b`},
		{"line separator", "a\u2028b", 0, `a\u2028b`},
		{"bidi override", "a\u202eb", 0, `a\u202eb`},
		{"invalid UTF-8", "a\xffb", 0, "a\uFFFDb"},
		{"non-ASCII letters stay", "café", 0, "café"},
		{"cut", strings.Repeat("a", 10), 4, "aaaa..."},
		{"cut on a character boundary", "aaé", 3, "aa..."},
		{"exact length is not cut", "abcd", 4, "abcd"},
		{"zero max means MaxLen", strings.Repeat("b", MaxLen+1), 0, strings.Repeat("b", MaxLen) + "..."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Clean(tc.in, tc.max); got != tc.want {
				t.Errorf("Clean(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
		})
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"", "a\nb", "\xff\xfe", "é\u202e", strings.Repeat("\x00", 40)} {
		f.Add(s, 8)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		max = max%200 + 1
		if max <= 0 {
			max += 200
		}
		got := Clean(s, max)
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8: %q", got)
		}
		if len(got) > 4*max+len(Ellipsis) {
			t.Fatalf("len %d above %d", len(got), 4*max+len(Ellipsis))
		}
		for _, r := range got {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' || r == '\u202e' {
				t.Fatalf("control %U left in %q", r, got)
			}
		}
	})
}

func TestError(t *testing.T) {
	long := errors.New("store: user \"" + strings.Repeat("x", 2*MaxErrLen) + "\" not found")
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, "<nil>"},
		{"plain", errors.New("redis: connection refused"), "redis: connection refused"},
		{"newline escaped", errors.New("user \"a\nlevel=ERROR\""), `user "a\nlevel=ERROR"`},
		{"bounded", long, long.Error()[:MaxErrLen] + Ellipsis},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := Error(tc.err)
			if a.Key != "error" || a.Value.String() != tc.want {
				t.Errorf("Error(%v) = %s=%q, want error=%q", tc.err, a.Key, a.Value.String(), tc.want)
			}
		})
	}
}
