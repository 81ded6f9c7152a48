// Package scoped implements temporary tokens scoped to HTTP methods and
// endpoint prefixes, in the wire format of drf-tmp-scoped-token 0.2.1
// (Cadasta's Django REST Framework package): a Django signing.dumps token
// (see package [github.com/m2mkit/m2m/scoped/djangosign]) over the payload
//
//	{"user": U, "max_age": N, "endpoints": {"GET": ["/api/v1/foo"], ...}, "recipient": R}
//
// sent as "Authorization: TmpToken <token>" or "?TOKEN=<token>". A token
// can only narrow what its user may do, never widen it.
//
// [Issuer] writes tokens a Django service accepts, [Verifier] accepts
// tokens a Django service issued (an [m2m.Verifier] for
// [github.com/m2mkit/m2m/httpauth]), and [IssueHandler] issues tokens over
// HTTP to callers already authenticated by another scheme.
//
// The defaults are stricter than drf's: a token must name a positive
// max_age no longer than [Verifier.MaxMaxAge], a timestamp in the future
// beyond [Verifier.FutureSkew] is refused, and endpoint prefixes match
// whole path segments ("/api/v1/foo" allows "/api/v1/foo/1" but not
// "/api/v1/foobar"). [Verifier.InsecureDRFCompat] restores drf's exact
// acceptance rules.
package scoped

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/m2mkit/m2m/scoped/djangosign"
	"github.com/m2mkit/m2m/scoped/internal/pyjson"
)

// Names used on the wire by drf-tmp-scoped-token.
const (
	DefaultKeyword    = "TmpToken"              // Authorization scheme keyword
	DefaultQueryParam = "TOKEN"                 // query parameter
	RecipientHeader   = "X-API-Token-Recipient" // where the recipient is handed on
	// DefaultSalt is the salt drf-tmp-scoped-token signs with (Django's
	// signing.dumps default).
	DefaultSalt = djangosign.DefaultSalt
)

// Defaults for lifetimes.
const (
	DefaultMaxAge     = time.Hour        // lifetime of an issued token when none is asked for
	DefaultMaxMaxAge  = 24 * time.Hour   // longest lifetime issued or accepted
	DefaultFutureSkew = 30 * time.Second // clock skew tolerated for a timestamp in the future
)

// Methods is the set of methods drf-tmp-scoped-token accepts, in its order.
var Methods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

func validMethod(m string) bool {
	for _, v := range Methods {
		if v == m {
			return true
		}
	}
	return false
}

// Endpoint is one permission of a token: requests with Method whose path
// starts with Prefix.
type Endpoint struct {
	Method string
	Prefix string
}

// String returns "METHOD:PREFIX".
func (e Endpoint) String() string { return e.Method + ":" + e.Prefix }

// ParseEndpoint parses "METHOD:PREFIX" (as given to --allow). The method is
// upper-cased; the prefix must begin with "/".
func ParseEndpoint(s string) (Endpoint, error) {
	m, p, ok := strings.Cut(s, ":")
	if !ok {
		return Endpoint{}, fmt.Errorf("scoped: endpoint %q: want METHOD:PREFIX", s)
	}
	e := Endpoint{Method: strings.ToUpper(m), Prefix: p}
	if !validMethod(e.Method) {
		return Endpoint{}, fmt.Errorf("scoped: endpoint %q: unsupported method", s)
	}
	if !strings.HasPrefix(p, "/") {
		return Endpoint{}, fmt.Errorf("scoped: endpoint %q: prefix must begin with a slash", s)
	}
	return e, nil
}

// Token is the content of a scoped token.
type Token struct {
	// User names the user, written as the JSON value given: a string, or
	// an integer (int, int64, uint64 or an integral json.Number), as
	// Django's user.id is. Parsed tokens hold a string or a json.Number
	// (and, with InsecureDRFCompat, whatever JSON value the token holds).
	User any
	// MaxAge is the lifetime from IssuedAt, in whole seconds.
	MaxAge time.Duration
	// Endpoints are the permissions, in order. Encoded, they are grouped
	// by method in order of each method's first appearance.
	Endpoints []Endpoint
	// Recipient is an optional free-text description of who the token is
	// for; nil means absent (a pointer to "" writes "recipient": "").
	Recipient *string
	// IssuedAt is the signing time (whole seconds). Set by parsing;
	// ignored when issuing.
	IssuedAt time.Time
}

// ExpiresAt returns IssuedAt + MaxAge. A token is still valid at that
// instant.
func (t *Token) ExpiresAt() time.Time { return t.IssuedAt.Add(t.MaxAge) }

// UserFromString returns s as the value drf would write for it: an
// integer when s matches -?[0-9]+ (json.Number), a string otherwise.
func UserFromString(s string) any {
	if s == "" {
		return s
	}
	d := strings.TrimPrefix(s, "-")
	if d == "" || strings.Trim(d, "0123456789") != "" {
		return s
	}
	n, _ := new(big.Int).SetString(s, 10)
	return json.Number(n.String())
}

// userJSON returns the JSON text of a user value and whether it is
// truthy (drf asserts user.id).
func userJSON(u any) (string, error) {
	var n *big.Int
	switch v := u.(type) {
	case string:
		if v == "" {
			return "", errors.New("scoped: user must have id attribute")
		}
		var b strings.Builder
		pyjson.Quote(&b, v)
		return b.String(), nil
	case int:
		n = big.NewInt(int64(v))
	case int64:
		n = big.NewInt(v)
	case uint64:
		n = new(big.Int).SetUint64(v)
	case json.Number:
		var ok bool
		n, ok = new(big.Int).SetString(string(v), 10)
		if !ok {
			return "", fmt.Errorf("scoped: user %q is not an integer", string(v))
		}
	default:
		return "", fmt.Errorf("scoped: user must be a string or an integer, not %T", u)
	}
	if n.Sign() == 0 {
		return "", errors.New("scoped: user must have id attribute")
	}
	return n.String(), nil
}

// userString is the subject for a user value.
func userString(u any) string {
	switch v := u.(type) {
	case string:
		return v
	case json.Number:
		return string(v)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	}
	return fmt.Sprint(u)
}

// Encode signs t with s exactly as drf-tmp-scoped-token's
// TokenManager(user, endpoints, max_age, recipient).generate_token() does,
// at s's current time (t.IssuedAt is ignored), without this package's
// policy: it checks only what drf's constructor asserts (a truthy user,
// the seven methods in upper case, prefixes beginning with "/"), so a
// max_age of zero or below is written as given. Prefixes are normalised
// with Django's iri_to_uri. Use [Issuer.Issue] unless you need drf's exact
// behaviour.
func Encode(s *djangosign.Signer, t *Token) (string, error) {
	payload, err := encodePayload(t)
	if err != nil {
		return "", err
	}
	return s.Sign(payload, false)
}

func encodePayload(t *Token) ([]byte, error) {
	u, err := userJSON(t.User)
	if err != nil {
		return nil, err
	}
	if t.MaxAge%time.Second != 0 {
		return nil, errors.New("scoped: max_age must be whole seconds")
	}
	var b strings.Builder
	b.WriteString(`{"user":`)
	b.WriteString(u)
	b.WriteString(`,"max_age":`)
	b.WriteString(strconv.FormatInt(int64(t.MaxAge/time.Second), 10))
	b.WriteString(`,"endpoints":{`)
	groups, err := group(t.Endpoints)
	if err != nil {
		return nil, err
	}
	for i, g := range groups {
		if i > 0 {
			b.WriteByte(',')
		}
		pyjson.Quote(&b, g.method)
		b.WriteString(":[")
		for j, p := range g.prefixes {
			if j > 0 {
				b.WriteByte(',')
			}
			pyjson.Quote(&b, p)
		}
		b.WriteByte(']')
	}
	b.WriteByte('}')
	if t.Recipient != nil {
		b.WriteString(`,"recipient":`)
		pyjson.Quote(&b, *t.Recipient)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

type methodGroup struct {
	method   string
	prefixes []string
}

// group groups endpoints by method in order of first appearance and
// normalises their prefixes with iri_to_uri.
func group(eps []Endpoint) ([]methodGroup, error) {
	var gs []methodGroup
	for _, e := range eps {
		if !validMethod(e.Method) {
			return nil, fmt.Errorf("scoped: Unsupported method type: %s", e.Method)
		}
		if !strings.HasPrefix(e.Prefix, "/") {
			return nil, errors.New("scoped: Endpoints must begin with a slash")
		}
		i := 0
		for i < len(gs) && gs[i].method != e.Method {
			i++
		}
		if i == len(gs) {
			gs = append(gs, methodGroup{method: e.Method})
		}
		gs[i].prefixes = append(gs[i].prefixes, IRIToURI(e.Prefix))
	}
	return gs, nil
}

// IRIToURI is Django's iri_to_uri: percent-encode (upper-case hex) every
// byte of the UTF-8 string except ASCII letters, digits, "_.-~" and
// "/#%[]=:;$&()+,!?*@'". It works on bytes, so a path that is not valid
// UTF-8 is encoded as Django's repercent_broken_unicode would.
func IRIToURI(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !uriSafe(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if uriSafe(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

func uriSafe(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("_.-~/#%[]=:;$&()+,!?*@'", c) >= 0
}

// MatchPrefix reports whether path is within prefix. It compares the
// strings as given: normalise both with [IRIToURI] first, as
// [Verifier.Allows] does. plain reports drf's plain string-prefix rule; otherwise the prefix must end at a path-segment boundary
// ("/a/b" matches "/a/b" and "/a/b/c" but not "/a/bc"; "/a/" matches
// "/a/c"), and a path with "." or ".." segments never matches.
func MatchPrefix(path, prefix string, plain bool) bool {
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	if plain {
		return true
	}
	if hasDotSegment(path) {
		return false
	}
	return len(path) == len(prefix) || strings.HasSuffix(prefix, "/") || path[len(prefix)] == '/'
}

func hasDotSegment(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." || strings.EqualFold(seg, "%2e") || strings.EqualFold(seg, "%2e%2e") ||
			strings.EqualFold(seg, ".%2e") || strings.EqualFold(seg, "%2e.") {
			return true
		}
	}
	return false
}

// MarshalJSON returns the token's payload as drf-tmp-scoped-token writes
// it: {"user", "max_age", "endpoints", ["recipient"]}, in that order.
func (t *Token) MarshalJSON() ([]byte, error) { return encodePayload(t) }
