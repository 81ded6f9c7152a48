package scoped

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/scoped/djangosign"
	"github.com/m2mkit/m2m/scoped/internal/pyjson"
)

// Client-safe descriptions, the messages drf-tmp-scoped-token answers with.
const (
	MsgBadToken       = "Bad API token"
	MsgExpired        = "Token has expired"
	MsgNoSuchUser     = "No such user"
	MsgNotPermitted   = "Endpoint interaction not permitted by token"
	MsgNoCredentials  = "Authentication credentials were not provided."
	MsgHeaderNoToken  = "Invalid token header. No credentials provided."
	MsgHeaderSpaces   = "Invalid token header. Token string should not contain spaces."
	MsgHeaderBadChars = "Invalid token header. Token string should not contain invalid characters."
	MsgNotYetValid    = "Token is not yet valid"
	// MsgMethodCase refuses a request whose method is not upper case
	// ("get"): drf compares Django's upper-cased method, but a Go handler
	// would see the method as sent, not the one the token granted.
	MsgMethodCase = "Request method must be upper case"
)

// MaxQueryFields is the most query fields Verify accepts unless NoQuery is
// set, as Django's default DATA_UPLOAD_MAX_NUMBER_FIELDS: a request whose
// query string has more "&"-separated fields (empty ones included) is
// refused with 400, as a DRF view refuses it, whether or not its token is
// in the header.
const MaxQueryFields = 1000

// ErrUnknownUser is returned by a [Verifier.LookupUser] function for a
// user that does not exist; the token is refused with "No such user".
var ErrUnknownUser = errors.New("scoped: no such user")

// Verifier checks scoped tokens in requests. It implements [m2m.Verifier]
// and [httpauth.Challenger]. Secret is required; the zero values of the
// other fields give the strict defaults described on each. A Verifier is
// safe for concurrent use once configured; do not change it afterwards.
type Verifier struct {
	// Secret is the Django SECRET_KEY. Required.
	Secret m2m.Secret
	// Fallbacks are older secrets still accepted (SECRET_KEY_FALLBACKS).
	Fallbacks []m2m.Secret
	// Algorithm is the signature hash; the zero value means SHA-256.
	Algorithm djangosign.Algorithm
	// LegacySHA1 also accepts SHA-1 signatures, as Django 3.1/3.2 do
	// (drf-tmp-scoped-token sites on Django up to 3.0 sign with SHA-1).
	LegacySHA1 bool
	// Salt is the signing salt; the zero value means [DefaultSalt], which
	// drf-tmp-scoped-token always uses.
	Salt string
	// Keyword is the Authorization scheme, compared case-insensitively;
	// the zero value means [DefaultKeyword] ("TmpToken").
	Keyword string
	// QueryParam is the query parameter read when there is no
	// Authorization token; the zero value means [DefaultQueryParam]
	// ("TOKEN"). It is read as Django's request.GET.get does, for every
	// method: from the URL's query only (never the body), the name
	// compared exactly after percent-decoding, "+" as a space, "&" (not
	// ";") between fields, the last value of a repeated name, an empty
	// value as absent, and at most [MaxQueryFields] fields. Tokens in
	// URLs end up in logs: set NoQuery when callers can send the header.
	QueryParam string
	// NoQuery ignores the query parameter.
	NoQuery bool
	// LookupUser maps the token's user value (a string or json.Number;
	// with InsecureDRFCompat any decoded JSON value) to the subject of the
	// Principal, and is where a service checks that the user exists. It
	// returns [ErrUnknownUser] (refused: "No such user"), a
	// [*m2m.CredentialError], or another error for a technical failure.
	// Nil uses the user value itself as the subject.
	LookupUser func(ctx context.Context, user any) (subject string, err error)
	// PlainPrefix matches endpoint prefixes as plain string prefixes, as
	// drf does ("/api/v1/foo" also allows "/api/v1/foobar"). The default
	// matches whole path segments, refuses paths with "." or ".." segments
	// (also percent-encoded) and, in Verify, paths with an encoded "/",
	// "\" or "%" ("%2F", "%5C", "%25").
	PlainPrefix bool
	// HeadAsGet lets a GET permission also allow HEAD. By default, as in
	// drf, HEAD must be granted itself.
	HeadAsGet bool
	// MaxMaxAge is the longest max_age accepted; zero means
	// [DefaultMaxMaxAge].
	MaxMaxAge time.Duration
	// FutureSkew is how far in the future a token's timestamp may be;
	// zero means [DefaultFutureSkew].
	FutureSkew time.Duration
	// InsecureDRFCompat accepts exactly what drf-tmp-scoped-token accepts
	// and answers as it does: timestamps in the future, a max_age of zero,
	// below zero or above MaxMaxAge, plain-prefix matching, any JSON
	// value as user and recipient, "not permitted" as 401 rather than
	// 403, and payloads drf fails on with a server error (a non-numeric
	// max_age, an unknown field) as technical errors (500).
	InsecureDRFCompat bool
	// MaxTokenBytes bounds the token; zero means 4096.
	MaxTokenBytes int
	// MaxPayloadBytes bounds the decoded (inflated) payload; zero means
	// 16384.
	MaxPayloadBytes int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

var (
	_ m2m.Verifier        = (*Verifier)(nil)
	_ httpauth.Challenger = (*Verifier)(nil)
)

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) keyword() string {
	if v.Keyword == "" {
		return DefaultKeyword
	}
	return v.Keyword
}

func (v *Verifier) maxTokenBytes() int {
	if v.MaxTokenBytes <= 0 {
		return 4096
	}
	return v.MaxTokenBytes
}

func (v *Verifier) signer() *djangosign.Signer {
	s := &djangosign.Signer{
		Key:             v.Secret,
		Salt:            v.Salt,
		Algorithm:       v.Algorithm,
		LegacySHA1:      v.LegacySHA1,
		MaxTokenBytes:   v.maxTokenBytes(),
		MaxPayloadBytes: v.MaxPayloadBytes,
		Now:             v.Now,
	}
	if s.MaxPayloadBytes <= 0 {
		s.MaxPayloadBytes = 16 << 10
	}
	for _, f := range v.Fallbacks {
		s.Fallbacks = append(s.Fallbacks, f)
	}
	return s
}

// Challenge returns the "TmpToken" challenge (no parameters, as drf).
func (v *Verifier) Challenge(error) httpauth.Challenge {
	return httpauth.Challenge{Scheme: v.keyword()}
}

func (v *Verifier) invalid(reason m2m.Reason, desc string) *m2m.CredentialError {
	return m2m.Invalid(m2m.SchemeScoped, reason, desc)
}

// Verify checks the request's scoped token and that it permits the
// request's method and path. It returns [m2m.ErrNoCredentials] when the
// request carries none.
//
// The Principal has the user (mapped by LookupUser) as Subject, Scheme
// [m2m.SchemeScoped], one "METHOD:PREFIX" scope per endpoint (see
// [AllowByScopes]), ExpiresAt, and Claims "user", "max_age" (seconds),
// "endpoints" (method to prefixes), "issued_at" and, when the token names
// one, "recipient". [ForwardRecipient] copies the recipient into the
// X-API-Token-Recipient request header.
func (v *Verifier) Verify(r *http.Request) (*m2m.Principal, error) {
	tok, err := v.credential(r)
	if err != nil {
		return nil, err
	}
	t, subject, raw, err := v.parse(r.Context(), tok)
	if err != nil {
		return nil, err
	}
	// The strict default also refuses an encoded "/" or "\" in the path:
	// r.URL.Path decodes it into a separator the router (Go's ServeMux
	// matches escaped segments) may not see, so "/api/v1/foo%2Fbar" would
	// pass a "/api/v1/foo/" prefix while naming resource "foo/bar". And an
	// encoded "%": iri_to_uri keeps "%" as it is, so the decoded path
	// "/a%20b" of a request for "/a%2520b" would match the prefix of "/a b"
	// ("/a%20b") while the handler sees another path, "/a%20b".
	plain := v.PlainPrefix || v.InsecureDRFCompat
	desc := ""
	switch {
	case !upperMethod(r.Method):
		// Django upper-cases the method before drf compares it, and its
		// view then sees the upper-case method too. A Go handler sees
		// r.Method as sent, and "get" is not "GET" to it (ServeMux method
		// patterns, r.Method == http.MethodGet), so a grant for "GET" must
		// not let through a request the handler reads as another method.
		desc = MsgMethodCase
	case !plain && hasEncodedSeparator(r.URL.EscapedPath()), !v.Allows(t, r.Method, r.URL.Path):
		desc = MsgNotPermitted
	}
	if desc != "" {
		ce := v.invalid(m2m.ReasonForbidden, desc)
		if v.InsecureDRFCompat {
			ce.Status = http.StatusUnauthorized
		}
		return nil, ce
	}
	return v.principal(t, subject, raw), nil
}

// upperMethod reports whether m has no lower-case ASCII letter, the form
// Django hands to drf and to its views.
func upperMethod(m string) bool {
	for i := 0; i < len(m); i++ {
		if 'a' <= m[i] && m[i] <= 'z' {
			return false
		}
	}
	return true
}

// hasEncodedSeparator reports whether an escaped path holds "%2F", "%5C"
// or "%25" (any case): an encoded "/", "\" or "%", whose decoded form
// the prefix match would read differently from the handler.
func hasEncodedSeparator(p string) bool {
	for i := 0; i+2 < len(p); i++ {
		if p[i] != '%' {
			continue
		}
		switch strings.ToUpper(p[i+1 : i+3]) {
		case "2F", "5C", "25":
			return true
		}
	}
	return false
}

// Allows reports whether t permits method on path (the decoded request
// path, as r.URL.Path), under v's matching rules. The method is compared
// exactly: token methods are upper case, so "get" matches nothing (Verify
// refuses such a request with [MsgMethodCase]).
func (v *Verifier) Allows(t *Token, method, path string) bool {
	p := IRIToURI(path)
	plain := v.PlainPrefix || v.InsecureDRFCompat
	for _, e := range t.Endpoints {
		if (e.Method == method || v.HeadAsGet && method == http.MethodHead && e.Method == http.MethodGet) &&
			MatchPrefix(p, e.Prefix, plain) {
			return true
		}
	}
	return false
}

func (v *Verifier) principal(t *Token, subject string, raw *pyjson.Value) *m2m.Principal {
	eps := map[string][]string{}
	scopes := make([]string, 0, len(t.Endpoints))
	for _, e := range t.Endpoints {
		eps[e.Method] = append(eps[e.Method], e.Prefix)
		// The scope of an endpoint is its URI form (IRIToURI, as the
		// prefix is matched), so that it is an RFC 6749 scope token with
		// one spelling; one that still is not (an odd method, a prefix
		// past MaxScopeTokenBytes) is left out of Scopes, never passed on
		// in another spelling. The endpoint still authorises the request
		// it grants, and Claims["endpoints"] keeps every one as signed.
		sc := e.Method + ":" + IRIToURI(e.Prefix)
		if m2m.ValidScopeToken(sc) && !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	claims := map[string]any{
		"user":      t.User,
		"max_age":   int64(t.MaxAge / time.Second),
		"endpoints": eps,
		"issued_at": t.IssuedAt,
	}
	if rv := raw.Get("recipient"); rv != nil && rv.Truthy() {
		claims["recipient"] = toGo(rv)
	}
	return &m2m.Principal{
		Subject:   subject,
		Scheme:    m2m.SchemeScoped,
		Scopes:    scopes,
		ExpiresAt: t.ExpiresAt(),
		Claims:    claims,
	}
}

// credential finds the token as drf's TokenAuth does: the Authorization
// header split on whitespace, then the query parameter. A malformed header
// with our keyword does not fall back to the query.
func (v *Verifier) credential(r *http.Request) (string, error) {
	// Django's QueryDict refuses more than DATA_UPLOAD_MAX_NUMBER_FIELDS
	// fields (parse_qsl counts 1 + the number of "&", empty fields
	// included) with TooManyFieldsSent, which Django answers with 400; DRF
	// parses the query for content negotiation before authentication, so
	// even a request with a header token is refused.
	if q := r.URL.RawQuery; !v.NoQuery && q != "" && 1+strings.Count(q, "&") > MaxQueryFields {
		ce := v.invalid(m2m.ReasonTooLarge, "too many query parameters")
		ce.Status = http.StatusBadRequest
		return "", ce
	}
	limit := v.maxTokenBytes() + len(v.keyword()) + 64
	for _, h := range r.Header.Values("Authorization") {
		parts := fields3(h)
		if len(parts) == 0 || !asciiEqualFold(parts[0], v.keyword()) {
			continue
		}
		if len(r.Header.Values("Authorization")) > 1 {
			return "", v.invalid(m2m.ReasonMalformed, "more than one Authorization header")
		}
		if len(h) > limit {
			return "", v.invalid(m2m.ReasonTooLarge, "token too large")
		}
		switch {
		case len(parts) == 1:
			return "", v.invalid(m2m.ReasonMalformed, MsgHeaderNoToken)
		case len(parts) > 2:
			return "", v.invalid(m2m.ReasonMalformed, MsgHeaderSpaces)
		case !utf8.ValidString(parts[1]):
			return "", v.invalid(m2m.ReasonMalformed, MsgHeaderBadChars)
		}
		return parts[1], nil
	}
	if v.NoQuery {
		return "", m2m.ErrNoCredentials
	}
	name := v.QueryParam
	if name == "" {
		name = DefaultQueryParam
	}
	if len(r.URL.RawQuery) > 64<<10 {
		return "", v.invalid(m2m.ReasonTooLarge, "query too large")
	}
	tok, ok := queryValue(r.URL.RawQuery, name)
	if !ok || tok == "" {
		return "", m2m.ErrNoCredentials
	}
	return tok, nil
}

func isASCIISpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// fields3 splits s on ASCII whitespace as Python's bytes.split() does,
// stopping after three fields (drf only tells 1, 2 and more apart).
func fields3(s string) []string {
	out := make([]string, 0, 3)
	for i := 0; i < len(s) && len(out) < 3; {
		for i < len(s) && isASCIISpace(s[i]) {
			i++
		}
		j := i
		for j < len(s) && !isASCIISpace(s[j]) {
			j++
		}
		if j > i {
			out = append(out, s[i:j])
		}
		i = j
	}
	return out
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// queryValue returns the last value of name in a query string, decoded as
// Python's parse_qsl does (split on "&" only, "+" is a space, invalid
// escapes kept as they are).
func queryValue(raw, name string) (string, bool) {
	var val string
	found := false
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(pair, "=")
		if unquotePlus(k) == name {
			val, found = unquotePlus(v), true
		}
	}
	return val, found
}

func unquotePlus(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// ParseToken verifies token (signature, lifetime, user, structure) and
// returns its content, without checking any request against it.
func (v *Verifier) ParseToken(ctx context.Context, token string) (*Token, error) {
	t, _, _, err := v.parse(ctx, token)
	return t, err
}

// technical is what drf answers with a 500: an exception escaping the view.
func technical(format string, args ...any) error {
	return fmt.Errorf("scoped: "+format+" (drf-tmp-scoped-token fails with a server error)", args...)
}

func (v *Verifier) parse(ctx context.Context, tok string) (*Token, string, *pyjson.Value, error) {
	compat := v.InsecureDRFCompat
	if len(v.Secret) == 0 {
		return nil, "", nil, errors.New("scoped: verifier has no secret")
	}
	if len(tok) > v.maxTokenBytes() {
		return nil, "", nil, v.invalid(m2m.ReasonTooLarge, "token too large")
	}
	s := v.signer()
	data, stamp, err := s.Unsign(tok, djangosign.NoMaxAge)
	if err != nil {
		var de *djangosign.Error
		switch {
		case !errors.As(err, &de):
			return nil, "", nil, err
		case de.Class == "BadSignature":
			return nil, "", nil, v.invalid(m2m.ReasonBadSignature, MsgBadToken)
		case de.Class == "TooLarge":
			return nil, "", nil, v.invalid(m2m.ReasonTooLarge, "token too large")
		}
		return nil, "", nil, v.invalid(m2m.ReasonMalformed, MsgBadToken)
	}
	val, err := pyjson.ParseLatin1(data)
	if err != nil {
		return nil, "", nil, v.invalid(m2m.ReasonMalformed, MsgBadToken)
	}
	malformed := func(desc, drf string, args ...any) error {
		if compat {
			return technical(drf, args...)
		}
		return v.invalid(m2m.ReasonMalformed, desc)
	}
	if val.Kind != pyjson.Object {
		return nil, "", nil, malformed(MsgBadToken, "payload is a %s, not a dict", val.Kind.TypeName())
	}
	// drf: unsigned_token['user'] = _get_user(unsigned_token['user'])
	uv := val.Get("user")
	if uv == nil {
		return nil, "", nil, malformed(MsgBadToken, "payload has no user")
	}
	if !compat && uv.Kind != pyjson.String && uv.Kind != pyjson.Int {
		return nil, "", nil, v.invalid(m2m.ReasonMalformed, MsgBadToken)
	}
	user := toGo(uv)
	subject, err := v.lookup(ctx, user)
	if err != nil {
		var ce *m2m.CredentialError
		switch {
		case errors.Is(err, ErrUnknownUser):
			return nil, "", nil, v.invalid(m2m.ReasonBadCredentials, MsgNoSuchUser)
		case errors.As(err, &ce):
			return nil, "", nil, err
		}
		return nil, "", nil, fmt.Errorf("scoped: looking up user: %w", err)
	}
	// drf: _load_token(signed_token, max_age=unsigned_token['max_age'])
	mv := val.Get("max_age")
	if mv == nil {
		return nil, "", nil, malformed(MsgBadToken, "payload has no max_age")
	}
	issued, err := v.checkAge(stamp, mv)
	if err != nil {
		return nil, "", nil, err
	}
	// drf: cls(**unsigned_token)
	for _, m := range val.Members {
		switch m.Key {
		case "user", "max_age", "endpoints", "recipient":
		default:
			return nil, "", nil, malformed(MsgBadToken, "payload has an unexpected field")
		}
	}
	ev := val.Get("endpoints")
	if ev == nil {
		return nil, "", nil, malformed(MsgBadToken, "payload has no endpoints")
	}
	t := &Token{User: user, IssuedAt: issued}
	if msg := validateFields(mv, ev, ""); msg != "" {
		return nil, "", nil, v.invalid(m2m.ReasonMalformed, msg)
	}
	for _, m := range ev.Members {
		for _, p := range m.Value.Items {
			if !utf8.ValidString(p.Str) {
				// A lone surrogate: Python's quote() raises UnicodeEncodeError.
				return nil, "", nil, v.invalid(m2m.ReasonMalformed, MsgBadToken)
			}
			t.Endpoints = append(t.Endpoints, Endpoint{Method: m.Key, Prefix: IRIToURI(p.Str)})
		}
	}
	if mv.Kind == pyjson.Int && mv.Int.IsInt64() && mv.Int.Int64() <= math.MaxInt64/int64(time.Second) && mv.Int.Int64() >= math.MinInt64/int64(time.Second) {
		t.MaxAge = time.Duration(mv.Int.Int64()) * time.Second
	} else if mv.Kind == pyjson.Bool && mv.Bool {
		t.MaxAge = time.Second
	}
	if rv := val.Get("recipient"); rv != nil && rv.Kind != pyjson.Null {
		switch {
		case rv.Kind == pyjson.String:
			r := rv.Str
			t.Recipient = &r
		case !compat:
			return nil, "", nil, v.invalid(m2m.ReasonMalformed, MsgBadToken)
		default:
			r := string(pyjson.Encode(rv))
			t.Recipient = &r
		}
	}
	return t, subject, val, nil
}

func (v *Verifier) lookup(ctx context.Context, user any) (string, error) {
	if v.LookupUser != nil {
		return v.LookupUser(ctx, user)
	}
	switch u := user.(type) {
	case string:
		if u == "" {
			return "", ErrUnknownUser
		}
		return u, nil
	case json.Number:
		return string(u), nil
	}
	return "", ErrUnknownUser
}

// checkAge applies the max_age check of Django's second loads and, unless
// InsecureDRFCompat, the policy on max_age and future timestamps. It
// returns the signing time.
func (v *Verifier) checkAge(stamp *big.Int, mv *pyjson.Value) (time.Time, error) {
	now := v.now()
	var issued time.Time
	if stamp.IsInt64() && stamp.Int64() > -1<<62/int64(time.Second) && stamp.Int64() < 1<<62/int64(time.Second) {
		issued = time.Unix(stamp.Int64(), 0)
	}
	if !v.InsecureDRFCompat {
		if mv.Kind != pyjson.Int {
			return issued, v.invalid(m2m.ReasonMalformed, "max_age must be an int")
		}
		limit := v.MaxMaxAge
		if limit <= 0 {
			limit = DefaultMaxMaxAge
		}
		if mv.Int.Sign() <= 0 {
			return issued, v.invalid(m2m.ReasonMalformed, "max_age must be positive")
		}
		if !mv.Int.IsInt64() || mv.Int.Int64() > int64(limit/time.Second) {
			return issued, v.invalid(m2m.ReasonMalformed, "max_age exceeds the allowed maximum")
		}
		if issued.IsZero() {
			return issued, v.invalid(m2m.ReasonMalformed, MsgBadToken)
		}
		skew := v.FutureSkew
		if skew <= 0 {
			skew = DefaultFutureSkew
		}
		if issued.After(now.Add(skew)) {
			return issued, v.invalid(m2m.ReasonNotYetValid, MsgNotYetValid)
		}
	}
	if mv.Kind == pyjson.Null {
		return issued, nil // max_age=None: Django skips the check
	}
	// age = time.time() - timestamp (float); OverflowError for a huge stamp.
	tsf, _ := new(big.Float).SetInt(stamp).Float64()
	if math.IsInf(tsf, 0) {
		return issued, technical("timestamp out of float range")
	}
	age := djangosign.UnixFloat(now) - tsf
	var expired bool
	switch mv.Kind {
	case pyjson.Int:
		// Python compares float and int exactly.
		expired = new(big.Float).SetFloat64(age).Cmp(new(big.Float).SetInt(mv.Int)) > 0
	case pyjson.Float, pyjson.Bool:
		f, _ := mv.Float64()
		expired = age > f
	default:
		return issued, technical("max_age is a %s (TypeError)", mv.Kind.TypeName())
	}
	if expired {
		return issued, v.invalid(m2m.ReasonExpired, MsgExpired)
	}
	return issued, nil
}

// toGo converts a decoded value to plain Go: nil, bool, json.Number,
// float64, string, []any, map[string]any.
func toGo(v *pyjson.Value) any {
	switch v.Kind {
	case pyjson.Bool:
		return v.Bool
	case pyjson.Int:
		return json.Number(v.Int.String())
	case pyjson.Float:
		return v.Float
	case pyjson.String:
		return strings.ToValidUTF8(v.Str, "\uFFFD")
	case pyjson.Array:
		out := make([]any, len(v.Items))
		for i, it := range v.Items {
			out[i] = toGo(it)
		}
		return out
	case pyjson.Object:
		out := make(map[string]any, len(v.Members))
		for _, m := range v.Members {
			out[m.Key] = toGo(m.Value)
		}
		return out
	}
	return nil
}

// ForwardRecipient returns a handler that hands a scoped token's recipient
// on to next in the X-API-Token-Recipient request header, for handlers
// written against drf-tmp-scoped-token. It removes any such header the
// client sent, so the header is only ever the token's. Use it inside
// httpauth.Middleware.Handler.
func ForwardRecipient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := m2m.FromContext(r.Context())
		rec, ok := "", false
		if p != nil && p.Scheme == m2m.SchemeScoped {
			switch x := p.Claims["recipient"].(type) {
			case string:
				rec, ok = x, x != ""
			case nil:
			default:
				b, err := json.Marshal(x)
				rec, ok = string(b), err == nil
			}
		}
		// Values, not Get: an empty first value must not hide a second.
		if len(r.Header.Values(RecipientHeader)) > 0 || ok {
			r = r.Clone(r.Context())
			r.Header.Del(RecipientHeader)
			if ok {
				r.Header.Set(RecipientHeader, rec)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// validateFields runs the checks of drf's TokenManager._validate after
// the user check, in its order, and returns the assertion message or "".
// seqType, when not "", is the Python type of every per-method sequence
// (a Go caller can say "set" or "tuple"; decoded JSON arrays are lists).
func validateFields(maxAge, endpoints *pyjson.Value, seqType string) string {
	if maxAge.Kind != pyjson.Int && maxAge.Kind != pyjson.Bool {
		return "max_age must be an int"
	}
	if endpoints.Kind != pyjson.Object {
		return "endpoints must be a dict"
	}
	for _, m := range endpoints.Members {
		if !validMethod(m.Key) {
			return "Unsupported method type: " + m.Key
		}
		name := m.Value.Kind.TypeName()
		if m.Value.Kind == pyjson.Array && seqType != "" {
			name = seqType
		}
		if name != "list" && name != "tuple" {
			return "Endpoints must be a list or tuple, got " + name
		}
		for _, p := range m.Value.Items {
			if p.Kind != pyjson.String {
				return "Endpoints must be strings"
			}
			if !strings.HasPrefix(p.Str, "/") {
				return "Endpoints must begin with a slash"
			}
		}
	}
	return ""
}
