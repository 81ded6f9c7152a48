package basic

import (
	"encoding/base64"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/m2mkit/m2m"
)

// MaxCredentialsBytes is the longest base64 credentials string (the part of
// the Authorization header after "Basic ") that [ParseCredentials] and the
// [Verifier] accept; longer ones are refused before decoding with
// [m2m.ReasonTooLarge]. It allows user names and passwords of together
// about 3 KiB.
const MaxCredentialsBytes = 4096

// ParseCredentials decodes the token68 of a Basic Authorization header
// strictly per RFC 7617: canonical padded base64 (RFC 4648 section 4, no
// white space, no junk characters, zero padding bits), valid UTF-8, no
// control characters (RFC 7617 section 2.1), and a colon; the user name
// ends at the first colon, so the password may contain colons and the user
// name cannot.
//
// A refusal is a [*m2m.CredentialError] for scheme [m2m.SchemeBasic] with
// [m2m.ReasonTooLarge] or [m2m.ReasonMalformed]; its description never
// contains the credentials.
func ParseCredentials(credentials string) (user, pass string, err error) {
	if len(credentials) > MaxCredentialsBytes {
		return "", "", m2m.Invalid(m2m.SchemeBasic, m2m.ReasonTooLarge, "basic credentials too large")
	}
	if !isCanonicalBase64(credentials) {
		return "", "", malformed("basic credentials are not base64")
	}
	b, err := base64.StdEncoding.Strict().DecodeString(credentials)
	if err != nil {
		return "", "", malformed("basic credentials are not base64")
	}
	user, pass, err = splitUserPass(b)
	if err != nil {
		return "", "", err
	}
	if strings.ContainsFunc(user, unicode.IsControl) || strings.ContainsFunc(pass, unicode.IsControl) {
		return "", "", malformed("basic credentials contain control characters")
	}
	return user, pass, nil
}

// ParseCredentialsLenient decodes credentials the way microdot 2.x does:
// binascii.a2b_base64 in its default (non-strict) mode, which skips every
// character outside the base64 alphabet and stops at the first complete
// padding, then UTF-8 decoding and a split at the first colon. Control
// characters are allowed. Non-ASCII input is refused, as Python refuses it.
// The size limit [MaxCredentialsBytes] still applies.
func ParseCredentialsLenient(credentials string) (user, pass string, err error) {
	if len(credentials) > MaxCredentialsBytes {
		return "", "", m2m.Invalid(m2m.SchemeBasic, m2m.ReasonTooLarge, "basic credentials too large")
	}
	b, ok := a2bBase64(credentials)
	if !ok {
		return "", "", malformed("basic credentials are not base64")
	}
	return splitUserPass(b)
}

func malformed(desc string) *m2m.CredentialError {
	return m2m.Invalid(m2m.SchemeBasic, m2m.ReasonMalformed, desc)
}

func splitUserPass(b []byte) (user, pass string, err error) {
	if !utf8.Valid(b) {
		return "", "", malformed("basic credentials are not UTF-8")
	}
	user, pass, ok := strings.Cut(string(b), ":")
	if !ok {
		return "", "", malformed("basic credentials have no colon")
	}
	return user, pass, nil
}

// isCanonicalBase64 reports whether s consists of whole 4-character groups
// of the standard alphabet, with at most two '=' at the end. (The standard
// library's decoder also skips CR and LF, which RFC 7617 does not allow.)
func isCanonicalBase64(s string) bool {
	if len(s) == 0 || len(s)%4 != 0 {
		return false
	}
	body := strings.TrimRight(s, "=")
	if len(s)-len(body) > 2 {
		return false
	}
	for i := 0; i < len(body); i++ {
		if b64Value(body[i]) < 0 {
			return false
		}
	}
	return true
}

// b64Value returns the value of a standard base64 digit, or -1.
func b64Value(c byte) int {
	switch {
	case 'A' <= c && c <= 'Z':
		return int(c - 'A')
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 26
	case '0' <= c && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	}
	return -1
}

// a2bBase64 is CPython's binascii.a2b_base64(s) with strict_mode=False
// (Modules/binascii.c, 3.7 to 3.13): characters outside the alphabet are
// skipped; a '=' after at least two digits of a group counts towards the
// group's padding, and once the padding completes the group, decoding
// stops and the rest is ignored; a '=' elsewhere is skipped; the input
// must end on a group boundary (or its padding). ok is false where Python
// raises binascii.Error or, for non-ASCII input, ValueError.
func a2bBase64(s string) (out []byte, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return nil, false
		}
	}
	out = make([]byte, 0, len(s)*3/4+3)
	var quad, pads int
	var left byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '=' {
			if quad >= 2 {
				pads++
				if quad+pads >= 4 {
					return out, true
				}
			}
			continue
		}
		v := b64Value(c)
		if v < 0 {
			continue
		}
		pads = 0
		d := byte(v)
		switch quad {
		case 0:
			quad, left = 1, d
		case 1:
			out = append(out, left<<2|d>>4)
			quad, left = 2, d&0x0f
		case 2:
			out = append(out, left<<4|d>>2)
			quad, left = 3, d&0x03
		case 3:
			out = append(out, left<<6|d)
			quad, left = 0, 0
		}
	}
	if quad != 0 {
		return nil, false
	}
	return out, true
}
