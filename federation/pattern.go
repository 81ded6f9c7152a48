package federation

import (
	"encoding/json"
	"strings"
)

// MatchPattern reports whether s matches pattern: exactly, except that
// each '*' in pattern matches any run of characters (none included), '/'
// and ':' as well, as GitHub's and AWS's subject conditions do. There is
// no other special character and no escape: a pattern cannot ask for a
// literal '*'.
//
// It runs in time proportional to len(pattern)*len(s) at worst, never
// exponential, whatever the pattern.
func MatchPattern(pattern, s string) bool {
	// The classic greedy glob: remember the last '*' and where in s it
	// started matching; on a mismatch, let that '*' take one more byte.
	// Matching bytes (not runes) is exact for UTF-8, whose encodings are
	// self-synchronizing: a literal run matches only whole characters.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// maxClaimDepth bounds how deep a claim path may reach.
const maxClaimDepth = 16

// ClaimValue returns the text a claim condition compares with its
// pattern, and whether the claim is there and has such a text.
//
// name is a claim name, or a JSON Pointer (RFC 6901) when it starts with
// '/': "/kubernetes.io/namespace" is the "namespace" member of the
// "kubernetes.io" object, and "~1" and "~0" stand for '/' and '~' in a
// member name. A plain name is never split: "https://example.com/role"
// is one claim of that name. Array elements are not addressed.
//
// A string value is its text; a number (json.Number) or a boolean is its
// JSON text ("42", "true"); null, an array or an object has no text.
func ClaimValue(claims map[string]any, name string) (string, bool) {
	var v any
	if !strings.HasPrefix(name, "/") {
		var ok bool
		if v, ok = claims[name]; !ok {
			return "", false
		}
	} else {
		cur := claims
		rest := name[1:]
		for depth := 0; ; depth++ {
			if depth == maxClaimDepth {
				return "", false
			}
			seg, more, cont := strings.Cut(rest, "/")
			seg, ok := unescapePointer(seg)
			if !ok {
				return "", false
			}
			next, ok := cur[seg]
			if !ok {
				return "", false
			}
			if !cont {
				v = next
				break
			}
			if cur, ok = next.(map[string]any); !ok {
				return "", false
			}
			rest = more
		}
	}
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return string(x), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	case float64: // claims decoded without UseNumber
		b, err := json.Marshal(x)
		if err != nil {
			return "", false
		}
		return string(b), true
	}
	return "", false
}

// unescapePointer decodes one JSON Pointer reference token: "~1" is '/',
// "~0" is '~', and any other '~' makes it invalid.
func unescapePointer(s string) (string, bool) {
	if !strings.Contains(s, "~") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '~' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", false
		}
		switch s[i+1] {
		case '0':
			b.WriteByte('~')
		case '1':
			b.WriteByte('/')
		default:
			return "", false
		}
		i++
	}
	return b.String(), true
}
