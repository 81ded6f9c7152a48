package rolling

import (
	"net/http"
	"strings"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
)

// DefaultScheme is the auth-scheme keyword of the default wire form,
// "Authorization: Rolling <code>".
const DefaultScheme = "Rolling"

// Size limits for what a request may carry, checked before parsing.
const (
	MaxKeyIDBytes = 256
	MaxCodeBytes  = MaxTokenLen * 4
)

// Wire is how a code travels in a request. The zero Wire is the default
// form: the Authorization header with the Rolling scheme, either
//
//	Authorization: Rolling <code>
//
// when the code is a token68 (letters, digits, -._~+/) and no key id is
// sent, or, for a key id or any other alphabet, auth-params with quoted
// strings (RFC 9110 section 11.2):
//
//	Authorization: Rolling kid="bot-1", code="<code>"
//
// Bare sends the code alone as the whole value of Header (for example
// X-Token), as bots built on the original m2m_token often do.
type Wire struct {
	// Header names the header; "" means Authorization.
	Header string
	// Scheme is the auth-scheme keyword, matched case-insensitively; ""
	// means DefaultScheme. Bare ignores it.
	Scheme string
	// Bare means the header value is the bare code: no scheme, no key id.
	Bare bool
}

func (w Wire) header() string {
	if w.Header == "" {
		return "Authorization"
	}
	return w.Header
}

func (w Wire) scheme() string {
	if w.Scheme == "" {
		return DefaultScheme
	}
	return w.Scheme
}

// Format returns the header value that carries code (and keyID, unless
// empty or Bare).
func (w Wire) Format(keyID, code string) string {
	if w.Bare {
		return code
	}
	if keyID == "" && httpauth.IsToken68(code) {
		return w.scheme() + " " + code
	}
	var b strings.Builder
	b.WriteString(w.scheme())
	b.WriteByte(' ')
	if keyID != "" {
		b.WriteString(`kid=`)
		writeQuoted(&b, keyID)
		b.WriteString(", ")
	}
	b.WriteString("code=")
	writeQuoted(&b, code)
	return b.String()
}

func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}

// Parse extracts the key id (empty when none was sent) and the code from
// r. It returns [m2m.ErrNoCredentials] when r has no code in this wire
// form, and a [*m2m.CredentialError] when the value is too large or
// malformed.
func (w Wire) Parse(r *http.Request) (keyID, code string, err error) {
	if w.Bare {
		code, err = httpauth.HeaderCredentials(r, w.header(), "", m2m.SchemeRolling)
		if err != nil {
			return "", "", err
		}
		if len(code) > MaxCodeBytes {
			return "", "", m2m.Invalid(m2m.SchemeRolling, m2m.ReasonTooLarge, "code too large")
		}
		return "", code, nil
	}
	cred, err := httpauth.HeaderCredentials(r, w.header(), w.scheme(), m2m.SchemeRolling)
	if err != nil {
		return "", "", err
	}
	return ParseCredentials(cred)
}

// ParseCredentials parses the credentials of the default wire form (what
// follows the scheme keyword): a bare token68 code, or the auth-params
// code and, optionally, kid, each a token or a quoted string. Other
// parameters, repeated parameters and oversized values are refused.
func ParseCredentials(cred string) (keyID, code string, err error) {
	malformed := func(d string) error { return m2m.Invalid(m2m.SchemeRolling, m2m.ReasonMalformed, d) }
	if len(cred) > httpauth.MaxAuthorizationBytes {
		return "", "", m2m.Invalid(m2m.SchemeRolling, m2m.ReasonTooLarge, "credentials too large")
	}
	if httpauth.IsToken68(cred) {
		if len(cred) > MaxCodeBytes {
			return "", "", m2m.Invalid(m2m.SchemeRolling, m2m.ReasonTooLarge, "code too large")
		}
		return "", cred, nil
	}
	var haveKID, haveCode bool
	s := cred
	for {
		s = strings.TrimLeft(s, " \t")
		i := 0
		for i < len(s) && isTChar(s[i]) {
			i++
		}
		if i == 0 {
			return "", "", malformed("expected a parameter name")
		}
		name := strings.ToLower(s[:i])
		s = strings.TrimLeft(s[i:], " \t")
		if s == "" || s[0] != '=' {
			return "", "", malformed("expected = after a parameter name")
		}
		s = strings.TrimLeft(s[1:], " \t")
		var val string
		var ok bool
		val, s, ok = paramValue(s)
		if !ok {
			return "", "", malformed("bad parameter value")
		}
		switch {
		case name == "kid" && !haveKID:
			if len(val) > MaxKeyIDBytes {
				return "", "", m2m.Invalid(m2m.SchemeRolling, m2m.ReasonTooLarge, "key id too large")
			}
			keyID, haveKID = val, true
		case name == "code" && !haveCode:
			if len(val) > MaxCodeBytes {
				return "", "", m2m.Invalid(m2m.SchemeRolling, m2m.ReasonTooLarge, "code too large")
			}
			code, haveCode = val, true
		case name == "kid" || name == "code":
			return "", "", malformed("repeated parameter " + name)
		default:
			return "", "", malformed("unknown parameter (want kid and code)")
		}
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			break
		}
		if s[0] != ',' {
			return "", "", malformed("expected , between parameters")
		}
		s = s[1:]
	}
	if !haveCode || code == "" {
		return "", "", malformed("no code")
	}
	return keyID, code, nil
}

// paramValue reads a token or quoted-string at the start of s.
func paramValue(s string) (val, rest string, ok bool) {
	if s == "" {
		return "", "", false
	}
	if s[0] != '"' {
		i := 0
		for i < len(s) && isTChar(s[i]) {
			i++
		}
		return s[:i], s[i:], i > 0
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			return b.String(), s[i+1:], true
		case c == '\\':
			if i+1 == len(s) || !quotable(s[i+1]) {
				return "", "", false
			}
			i++
			b.WriteByte(s[i])
		case quotable(c):
			b.WriteByte(c)
		default:
			return "", "", false
		}
	}
	return "", "", false // unterminated
}

// quotable reports whether c may appear in a quoted-string: HTAB, SP,
// visible ASCII and obs-text (bytes of UTF-8 encoded characters).
func quotable(c byte) bool { return c == '\t' || c >= 0x20 && c != 0x7f }

func isTChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
