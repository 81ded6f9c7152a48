// Package logattr makes log attributes out of values a caller of the
// process chose (request paths, methods, user names, ids, header values):
// bounded in length, valid UTF-8, and with every control or invisible
// character escaped, so that a request can neither flood a log nor forge
// a record in a handler that does not quote its values.
//
// It bounds and escapes; it does not decide what may be logged. A value
// that may be a credential (a password, a token, a secret sent in the
// wrong field) is never passed here: log a fingerprint or nothing.
package logattr

import (
	"log/slog"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxLen is the default bound, in bytes of the input, of a value passed to
// [String].
const MaxLen = 128

// Ellipsis marks a value that was cut.
const Ellipsis = "..."

// String returns the attribute key=Clean(value, MaxLen).
func String(key, value string) slog.Attr {
	return slog.String(key, Clean(value, MaxLen))
}

// Clean returns s with invalid UTF-8 replaced by U+FFFD, cut to its first
// max bytes (on a character boundary, followed by [Ellipsis]), and every
// character that is not graphic or is a control (C0, DEL, C1, line and
// paragraph separators, bidirectional and other format characters)
// written as a Go escape (\n, \x1b, \u202e; a backslash as \\). The
// result is at most 4*max+len(Ellipsis) bytes. max <= 0 means MaxLen.
func Clean(s string, max int) string {
	if max <= 0 {
		max = MaxLen
	}
	cut := false
	if len(s) > max {
		i := max
		for i > 0 && !utf8.RuneStart(s[i]) {
			i-- // do not split a character
		}
		s, cut = s[:i], true
	}
	if plain(s) {
		if cut {
			return s + Ellipsis
		}
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for _, r := range s {
		if r == utf8.RuneError {
			b.WriteRune(utf8.RuneError)
			continue
		}
		if visible(r) {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRuneToASCII(r) // 'x' form: strip the quotes
		b.WriteString(q[1 : len(q)-1])
	}
	if cut {
		b.WriteString(Ellipsis)
	}
	return b.String()
}

// plain reports whether s is printable ASCII only, the common case.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '\\' {
			return false
		}
	}
	return true
}

func visible(r rune) bool {
	return r != '\\' && unicode.IsGraphic(r) && !unicode.IsControl(r) && !unicode.Is(unicode.Cf, r) &&
		!unicode.Is(unicode.Zl, r) && !unicode.Is(unicode.Zp, r)
}

// MaxErrLen is the bound, in bytes of the input, of an error message
// passed to [Error]: longer than [MaxLen] because an error wraps its
// causes, still short enough that a caller-fed part cannot flood a log.
const MaxErrLen = 512

// Error returns the attribute error=Clean(err.Error(), MaxErrLen), for an
// error whose message may quote caller input (a user name, a store key, a
// header value). A nil err gives error="<nil>".
func Error(err error) slog.Attr {
	if err == nil {
		return slog.String("error", "<nil>")
	}
	return slog.String("error", Clean(err.Error(), MaxErrLen))
}
