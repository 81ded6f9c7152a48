package federation_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/m2mkit/m2m/federation"
)

func TestMatchPattern(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"repo:acme/app:ref:refs/heads/main", "repo:acme/app:ref:refs/heads/main", true},
		{"repo:acme/app:ref:refs/heads/main", "repo:acme/app:ref:refs/heads/main2", false},
		{"repo:acme/app:ref:refs/heads/main", "repo:acme/app:ref:refs/heads/mai", false},
		{"repo:acme/app:*", "repo:acme/app:ref:refs/heads/main", true},
		{"repo:acme/app:*", "repo:acme/app:", true},
		{"repo:acme/app:*", "repo:acme/app", false},
		{"repo:acme/*:ref:refs/heads/main", "repo:acme/app:ref:refs/heads/main", true},
		{"repo:acme/*:ref:refs/heads/main", "repo:acme/a/b:c:ref:refs/heads/main", true}, // '*' crosses '/' and ':'
		{"repo:acme/*:ref:refs/heads/main", "repo:evil/acme/app:ref:refs/heads/main", false},
		{"*", "", true},
		{"*", "anything at all", true},
		{"", "", true},
		{"", "x", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "acb", false},
		{"*main", "refs/heads/main", true},
		{"*main", "refs/heads/main/x", false},
		{"system:serviceaccount:prod:*", "system:serviceaccount:prod:api", true},
		{"system:serviceaccount:prod:*", "system:serviceaccount:production:api", false},
		{"spiffe://example.org/ns/*/sa/api", "spiffe://example.org/ns/prod/sa/api", true},
		{"Repo:acme", "repo:acme", false},         // case matters
		{"repo:acme.app", "repo:acmeXapp", false}, // '.' is literal
		{"repo:[ab]", "repo:a", false},            // no character classes
		{"repo:a?", "repo:ab", false},             // no '?'
		{"café:*", "café:x", true},                // UTF-8
		{"caf*", "café", true},
		{strings.Repeat("*a", 30), strings.Repeat("a", 29), false}, // no exponential backtracking
	}
	for _, tt := range tests {
		if got := federation.MatchPattern(tt.pattern, tt.s); got != tt.want {
			t.Errorf("MatchPattern(%q, %q) = %v; want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

// reference is MatchPattern written with a regular expression, for the
// fuzz target to compare with.
func reference(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`(?s)\A` + strings.Join(parts, ".*") + `\z`).MatchString(s)
}

func FuzzMatchPattern(f *testing.F) {
	for _, seed := range [][2]string{
		{"repo:acme/*:ref:refs/heads/main", "repo:acme/app:ref:refs/heads/main"},
		{"*", ""}, {"a*b*c", "aXbYc"}, {"**", "x"}, {"*a*", "bab"}, {"caf*", "café"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if len(pattern) > 256 || len(s) > 256 {
			return
		}
		got := federation.MatchPattern(pattern, s)
		if !strings.Contains(pattern, "*") && got != (pattern == s) {
			t.Errorf("MatchPattern(%q, %q) = %v; a pattern without '*' matches only itself", pattern, s, got)
		}
		if !utf8.ValidString(pattern) || !utf8.ValidString(s) {
			return // the regexp reference reads runes
		}
		if want := reference(pattern, s); got != want {
			t.Errorf("MatchPattern(%q, %q) = %v; the regexp reference says %v", pattern, s, got, want)
		}
	})
}

func TestClaimValue(t *testing.T) {
	claims := decode(t, `{
		"repository_owner_id": "42", "run_number": 17, "ref_protected": true, "big": 12345678901234567890,
		"groups": ["a"], "nothing": null, "https://example.com/role": "admin", "a/b": "slash", "t~x": "tilde",
		"kubernetes.io": {"namespace": "prod", "serviceaccount": {"name": "api"}, "a/b": "inner"}
	}`)
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"repository_owner_id", "42", true},
		{"run_number", "17", true},
		{"ref_protected", "true", true},
		{"big", "12345678901234567890", true},
		{"groups", "", false},
		{"nothing", "", false},
		{"missing", "", false},
		{"https://example.com/role", "admin", true}, // a plain name is never split
		{"a/b", "slash", true},
		{"/kubernetes.io/namespace", "prod", true},
		{"/kubernetes.io/serviceaccount/name", "api", true},
		{"/kubernetes.io/serviceaccount", "", false}, // an object has no text
		{"/kubernetes.io/a~1b", "inner", true},
		{"/t~0x", "tilde", true},
		{"/t~x", "", false}, // invalid escape
		{"/a~1b", "slash", true},
		{"/kubernetes.io/missing/x", "", false},
		{"/repository_owner_id/x", "", false},
		{"/", "", false},
		{"kubernetes.io/namespace", "", false},
	}
	for _, tt := range tests {
		got, ok := federation.ClaimValue(claims, tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ClaimValue(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func decode(t testing.TB, s string) map[string]any {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func FuzzClaimValue(f *testing.F) {
	f.Add(`{"kubernetes.io":{"namespace":"prod"}}`, "/kubernetes.io/namespace")
	f.Add(`{"a/b":{"~":1}}`, "/a~1b/~0")
	f.Add(`{"x":true}`, "x")
	f.Add(`{"x":[1]}`, "/x/0")
	f.Fuzz(func(t *testing.T, doc, name string) {
		d := json.NewDecoder(strings.NewReader(doc))
		d.UseNumber()
		var m map[string]any
		if d.Decode(&m) != nil || m == nil {
			return
		}
		v, ok := federation.ClaimValue(m, name)
		if !ok && v != "" {
			t.Errorf("ClaimValue(%q) = %q, false; want \"\" when not found", name, v)
		}
		// A top-level member is found by its plain name and by its
		// pointer alike.
		if !strings.HasPrefix(name, "/") {
			esc := "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(name)
			v2, ok2 := federation.ClaimValue(m, esc)
			if v2 != v || ok2 != ok {
				t.Errorf("ClaimValue(%q) = %q, %v but ClaimValue(%q) = %q, %v", name, v, ok, esc, v2, ok2)
			}
		}
	})
}
