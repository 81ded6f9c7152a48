package m2m

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseScope(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
		err  bool
	}{
		{name: "empty", in: "", want: nil},
		{name: "one", in: "read", want: []string{"read"}},
		{name: "two", in: "read write", want: []string{"read", "write"}},
		{name: "extra spaces", in: "  read   write ", want: []string{"read", "write"}},
		{name: "duplicates", in: "read read", want: []string{"read"}},
		{name: "method prefix", in: "GET:/api/", want: []string{"GET:/api/"}},
		{name: "nbsp", in: "read\u00a0admin", err: true},
		{name: "tab", in: "read\tadmin", err: true},
		{name: "newline", in: "read\nadmin", err: true},
		{name: "quote", in: `re"ad`, err: true},
		{name: "backslash", in: `re\ad`, err: true},
		{name: "control", in: "re\x00ad", err: true},
		{name: "too long", in: strings.Repeat("a", MaxScopeTokenBytes+1), err: true},
		{name: "longest", in: strings.Repeat("a", MaxScopeTokenBytes), want: []string{strings.Repeat("a", MaxScopeTokenBytes)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseScope(tt.in)
			if tt.err {
				if !errors.Is(err, ErrBadScope) {
					t.Fatalf("ParseScope(%q) = %q, %v; want ErrBadScope", tt.in, got, err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("ParseScope(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"", "a b", "read\u00a0admin", "GET:/x/ POST:/y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseScope(s)
		if err != nil {
			return
		}
		for _, tok := range got {
			if !ValidScopeToken(tok) {
				t.Fatalf("ParseScope(%q) returned invalid token %q", s, tok)
			}
		}
		again, err := ParseScope(FormatScope(got))
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("ParseScope(FormatScope(%q)) = %q, %v", got, again, err)
		}
	})
}
