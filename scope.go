package m2m

import (
	"errors"
	"strings"
)

// ErrBadScope reports a scope string that is not a space-separated list of
// RFC 6749 section 3.3 scope tokens.
var ErrBadScope = errors.New("m2m: malformed scope")

// MaxScopeTokenBytes bounds one scope token; longer tokens are refused
// wherever scopes enter (token requests, the admin API, the CLI, claims).
const MaxScopeTokenBytes = 256

// ValidScopeToken reports whether s is one RFC 6749 section 3.3 scope
// token: 1 to [MaxScopeTokenBytes] characters, each %x21 / %x23-5B /
// %x5D-7E (printable ASCII other than space, '"' and '\').
func ValidScopeToken(s string) bool {
	if s == "" || len(s) > MaxScopeTokenBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// ParseScope splits an RFC 6749 scope string on ASCII spaces, the one
// separator the RFC allows, and checks every token with
// [ValidScopeToken]. Runs of spaces and leading or trailing spaces are
// tolerated; any other whitespace (tab, newline, U+00A0, ...) makes the
// whole string malformed, so one scope string has one meaning wherever it
// is read. The empty string is no scopes. Duplicates are kept once, in
// first-seen order.
func ParseScope(s string) ([]string, error) {
	var out []string
	for tok := range strings.SplitSeq(s, " ") {
		if tok == "" {
			continue
		}
		if !ValidScopeToken(tok) {
			return nil, ErrBadScope
		}
		if !containsString(out, tok) {
			out = append(out, tok)
		}
	}
	return out, nil
}

// FormatScope joins scope tokens with single spaces, the canonical form.
func FormatScope(scopes []string) string { return strings.Join(scopes, " ") }

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
