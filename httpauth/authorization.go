package httpauth

import (
	"net/http"
	"strings"

	"github.com/m2mkit/m2m"
)

// MaxAuthorizationBytes is the largest header value [Credentials] and
// [HeaderCredentials] accept; longer values are refused before any parsing
// with [m2m.ReasonTooLarge]. [ParseAuthorization] does not check it (it
// runs in linear time): callers that use it directly check the length
// first.
const MaxAuthorizationBytes = 8 << 10

// ParseAuthorization splits an Authorization (or Proxy-Authorization)
// header value into its scheme and the rest, per RFC 7235 section 2.1:
// credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]. The scheme
// must be a token; the credentials have leading and trailing white space
// removed and may be empty. ok is false when value is not of that form.
func ParseAuthorization(value string) (scheme, credentials string, ok bool) {
	value = strings.Trim(value, " \t")
	i := 0
	for i < len(value) && isTokenChar(value[i]) {
		i++
	}
	if i == 0 {
		return "", "", false
	}
	scheme, rest := value[:i], value[i:]
	if rest == "" {
		return scheme, "", true
	}
	if rest[0] != ' ' {
		return "", "", false
	}
	return scheme, strings.Trim(rest, " \t"), true
}

// Credentials returns the credentials of r's Authorization header when its
// scheme equals scheme, compared case-insensitively.
//
// It returns an error wrapping [m2m.ErrNoCredentials] when the header is
// absent or names another scheme, and a [*m2m.CredentialError] (reported
// for schemeName) when the header is longer than [MaxAuthorizationBytes],
// repeated, or of the right scheme but without credentials.
func Credentials(r *http.Request, scheme, schemeName string) (string, error) {
	return HeaderCredentials(r, "Authorization", scheme, schemeName)
}

// HeaderCredentials is [Credentials] for another header, such as
// Proxy-Authorization. With an empty scheme the whole header value is the
// credential (for peers that send a bare token in a custom header).
func HeaderCredentials(r *http.Request, header, scheme, schemeName string) (string, error) {
	values := r.Header.Values(header)
	switch len(values) {
	case 0:
		return "", m2m.ErrNoCredentials
	case 1:
	default:
		return "", m2m.Invalid(schemeName, m2m.ReasonMalformed, "more than one "+header+" header")
	}
	v := values[0]
	if len(v) > MaxAuthorizationBytes {
		return "", m2m.Invalid(schemeName, m2m.ReasonTooLarge, header+" header too large")
	}
	if scheme == "" {
		v = strings.Trim(v, " \t")
		if v == "" {
			return "", m2m.ErrNoCredentials
		}
		return v, nil
	}
	s, cred, ok := ParseAuthorization(v)
	if !ok || !strings.EqualFold(s, scheme) {
		return "", m2m.ErrNoCredentials
	}
	if cred == "" {
		return "", m2m.Invalid(schemeName, m2m.ReasonMalformed, header+" header has no credentials")
	}
	return cred, nil
}

// isTokenChar reports whether c is a tchar of RFC 9110 section 5.6.2.
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// IsToken68 reports whether s is a token68 of RFC 7235: one or more of
// ALPHA DIGIT - . _ ~ + / followed by zero or more '='.
func IsToken68(s string) bool {
	i := 0
	for i < len(s) {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", c) >= 0 {
			i++
			continue
		}
		break
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}
