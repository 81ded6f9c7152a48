package authserver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/m2mkit/m2m/httpauth"
)

// DefaultMaxBodyBytes caps a token request body when Config.MaxBodyBytes
// is 0.
const DefaultMaxBodyBytes = 8 << 10

// Maximum sizes of individual request values, checked before use.
const (
	maxClientIDBytes     = 256
	maxClientSecretBytes = 512
	maxScopeBytes        = 2048
	maxAudienceBytes     = 1024
	// maxExternalTokenBytes caps an external token (assertion,
	// subject_token): federation.DefaultMaxTokenBytes, which the body
	// limit may cut shorter.
	maxExternalTokenBytes = 16 << 10
	maxTokenTypeBytes     = 128
)

// Client authentication methods (RFC 7591 names).
const (
	authNone  = ""
	authBasic = "client_secret_basic"
	authPost  = "client_secret_post"
	authPKJWT = "private_key_jwt"
	// authTLS is a client id alone in the body: the client authenticates
	// with its certificate (tls_client_auth or self_signed_tls_client_auth).
	authTLS = "tls_client_auth"
)

// TokenRequest is a parsed client credentials token request.
type TokenRequest struct {
	GrantType    string
	ClientID     string
	ClientSecret string
	// AuthMethod is "client_secret_basic", "client_secret_post",
	// "private_key_jwt", "tls_client_auth" for a client_id in the body
	// without a client_secret (the client id of a mutual-TLS client, RFC
	// 8705 section 2, whichever of its two methods), or "" when the
	// request carries no client credentials.
	AuthMethod string
	// ClientAssertion and ClientAssertionType are the JWT client
	// assertion of a private_key_jwt request (RFC 7523 section 2.2), from
	// the body; ClientID is then the body's client_id, "" when absent.
	ClientAssertion     string
	ClientAssertionType string
	Scope               string
	// ScopeSet reports whether the request named a scope parameter at all.
	ScopeSet bool
	Audience string // from "audience" (Auth0)
	Resource string // from "resource" (RFC 8707)

	// Assertion is the JWT of the JWT bearer grant (RFC 7523 section 2.1).
	Assertion string
	// SubjectToken, SubjectTokenType, RequestedTokenType and
	// ActorToken are the token exchange parameters (RFC 8693 section
	// 2.1); ActorTokenSet reports whether actor_token or
	// actor_token_type was sent at all.
	SubjectToken       string
	SubjectTokenType   string
	RequestedTokenType string
	ActorTokenSet      bool
}

// The parameters the token endpoint reads, as indexes into
// [formValues]; any other parameter is ignored, as RFC 6749 section 3.2
// requires.
const (
	pGrantType = iota
	pClientID
	pClientSecret
	pScope
	pAudience
	pResource
	pClientAssertion
	pClientAssertionType
	pAssertion
	pSubjectToken
	pSubjectTokenType
	pRequestedTokenType
	pActorToken
	pActorTokenType
	numParams
)

// paramNames are the names of the parameters, by index.
var paramNames = [numParams]string{
	pGrantType: "grant_type", pClientID: "client_id", pClientSecret: "client_secret",
	pScope: "scope", pAudience: "audience", pResource: "resource",
	pClientAssertion: "client_assertion", pClientAssertionType: "client_assertion_type",
	pAssertion: "assertion", pSubjectToken: "subject_token", pSubjectTokenType: "subject_token_type",
	pRequestedTokenType: "requested_token_type", pActorToken: "actor_token", pActorTokenType: "actor_token_type",
}

// maxParamName is the length of the longest parameter name.
const maxParamName = len("client_assertion_type")

// paramIndex returns the index of the parameter named name, or -1 for a
// parameter the endpoint ignores.
func paramIndex(name string) int {
	switch name {
	case "grant_type":
		return pGrantType
	case "client_id":
		return pClientID
	case "client_secret":
		return pClientSecret
	case "scope":
		return pScope
	case "audience":
		return pAudience
	case "resource":
		return pResource
	case "client_assertion":
		return pClientAssertion
	case "client_assertion_type":
		return pClientAssertionType
	case "assertion":
		return pAssertion
	case "subject_token":
		return pSubjectToken
	case "subject_token_type":
		return pSubjectTokenType
	case "requested_token_type":
		return pRequestedTokenType
	case "actor_token":
		return pActorToken
	case "actor_token_type":
		return pActorTokenType
	}
	return -1
}

// formValues are the values of the parameters a request sent, by index;
// set marks those present (an empty value is present).
type formValues struct {
	v   [numParams]string
	set uint16
}

func (f *formValues) get(i int) (string, bool) { return f.v[i], f.set&(1<<i) != 0 }

func (f *formValues) has(i int) bool { return f.set&(1<<i) != 0 }

func (f *formValues) put(i int, v string) {
	f.v[i] = v
	f.set |= 1 << i
}

// Media types of the token request body.
const (
	mediaForm = "application/x-www-form-urlencoded"
	mediaJSON = "application/json"
)

// ParseTokenRequest reads the token request in r: a POST body of at most
// maxBody bytes (0: [DefaultMaxBodyBytes]) that is either
// application/x-www-form-urlencoded or application/json (an object of
// string values, as Auth0 clients send), and client credentials from HTTP
// Basic (RFC 6749 section 2.3.1: both parts form-urlencoded) or from the
// body, or a JWT client assertion (client_assertion and
// client_assertion_type) in the body. A repeated parameter, credentials in
// both places, a secret together with an assertion, or a size over a cap
// is an invalid_request [*Error]. The query string is ignored.
func ParseTokenRequest(r *http.Request, maxBody int64) (*TokenRequest, error) {
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	if r.ContentLength > maxBody {
		return nil, tooLarge()
	}
	ct, err := mediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, errInvalidRequest("bad_content_type", "the body must be application/x-www-form-urlencoded or application/json")
	}
	buf := getBodyBuffer()
	defer putBodyBuffer(buf)
	body, err := readBody(r.Body, maxBody, buf)
	*buf = body[:0] // keep a grown buffer for the next request
	if err != nil {
		return nil, errInvalidRequest("bad_body", "the request body could not be read")
	}
	if int64(len(body)) > maxBody {
		return nil, tooLarge()
	}
	var vals formValues
	switch ct {
	case mediaForm:
		err = parseForm(body, &vals)
	case mediaJSON:
		err = parseJSON(body, &vals)
	default:
		return nil, errInvalidRequest("bad_content_type", "the body must be application/x-www-form-urlencoded or application/json")
	}
	if err != nil {
		return nil, err
	}
	tr := &TokenRequest{
		GrantType: vals.v[pGrantType],
		Audience:  vals.v[pAudience],
		Resource:  vals.v[pResource],

		Assertion:          vals.v[pAssertion],
		SubjectToken:       vals.v[pSubjectToken],
		SubjectTokenType:   vals.v[pSubjectTokenType],
		RequestedTokenType: vals.v[pRequestedTokenType],
	}
	tr.ActorTokenSet = vals.has(pActorToken) || vals.has(pActorTokenType)
	tr.Scope, tr.ScopeSet = vals.get(pScope)
	if err := tr.credentialsFrom(r, vals.credentials()); err != nil {
		return nil, err
	}
	if err := tr.checkLengths(); err != nil {
		return nil, err
	}
	return tr, nil
}

// checkLengths refuses a request whose parameters exceed their bounds.
func (tr *TokenRequest) checkLengths() *Error {
	switch {
	case len(tr.ClientID) > maxClientIDBytes || len(tr.ClientSecret) > maxClientSecretBytes ||
		len(tr.ClientAssertion) > DefaultMaxAssertionBytes || len(tr.ClientAssertionType) > len(ClientAssertionType):
		return errInvalidRequest("too_large", "client credentials too long")
	case len(tr.Scope) > maxScopeBytes:
		return errInvalidRequest("too_large", "scope too long")
	case len(tr.Audience) > maxAudienceBytes || len(tr.Resource) > maxAudienceBytes:
		return errInvalidRequest("too_large", "audience too long")
	case len(tr.Assertion) > maxExternalTokenBytes || len(tr.SubjectToken) > maxExternalTokenBytes:
		return errInvalidRequest("too_large", "assertion or subject_token too long")
	case len(tr.SubjectTokenType) > maxTokenTypeBytes || len(tr.RequestedTokenType) > maxTokenTypeBytes:
		return errInvalidRequest("too_large", "token type too long")
	}
	return nil
}

// mediaType returns the media type of the Content-Type value v, lower
// case, as mime.ParseMediaType does. The two types the endpoint accepts,
// spelled without parameters in any ASCII case, are recognized without
// it (which allocates).
func mediaType(v string) (string, error) {
	switch {
	case asciiEqualFold(v, mediaForm):
		return mediaForm, nil
	case asciiEqualFold(v, mediaJSON):
		return mediaJSON, nil
	}
	ct, _, err := mime.ParseMediaType(v)
	return ct, err
}

// asciiEqualFold reports whether s equals the lower-case ASCII lower when
// ASCII letters are compared without case (and nothing else is folded, as
// strings.EqualFold would fold U+017F to "s").
func asciiEqualFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// bodyBuffers holds the buffers token request bodies are read into (and
// token responses and claims are built in): what is kept is copied out,
// so a buffer is reused by the next request.
var bodyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledBody is the largest body buffer kept for reuse.
const maxPooledBody = 64 << 10

func getBodyBuffer() *[]byte { return bodyBuffers.Get().(*[]byte) }

// putBodyBuffer zeroes b, which held a client secret or an access token,
// and keeps it for reuse unless it is large.
func putBodyBuffer(b *[]byte) {
	if cap(*b) > maxPooledBody {
		return
	}
	clear((*b)[:cap(*b)])
	*b = (*b)[:0]
	bodyBuffers.Put(b)
}

// readBody reads body into buf[:0] as io.ReadAll(io.LimitReader(body,
// max+1)) does: at most max+1 bytes (one more than allowed, to tell a
// body over the limit), until EOF or a read error. A nil body is empty.
func readBody(body io.Reader, max int64, buf *[]byte) ([]byte, error) {
	b := (*buf)[:0]
	if body == nil {
		return b, nil
	}
	limit := max + 1
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // let append pick the growth
		}
		room := b[len(b):cap(b)]
		if left := limit - int64(len(b)); int64(len(room)) > left {
			room = room[:left]
		}
		n, err := body.Read(room)
		b = b[:len(b)+n]
		if int64(len(b)) >= limit {
			return b, nil
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

func tooLarge() *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeInvalidRequest, Reason: "too_large", Description: "request body too large"}
}

// maxFormParams is the number of pairs beyond which url.ParseQuery
// refuses a form (its default limit).
const maxFormParams = 10000

// parseForm reads the application/x-www-form-urlencoded body into vals
// with the rules of url.ParseQuery: pairs separated by '&' (a ';' in a
// pair, a malformed percent-escape in any name or value, or more than
// maxFormParams pairs is an error), names and values percent-decoded with
// '+' as a space. A parameter the endpoint reads may appear once. The
// values it keeps are copied out of body, all into one string.
func parseForm(body []byte, vals *formValues) error {
	if bytes.Count(body, []byte{'&'})+1 > maxFormParams {
		return errBadForm()
	}
	var stack [1024]byte
	out := stack[:0] // the kept values, decoded, one after the other
	if len(body) > len(stack) {
		out = make([]byte, 0, len(body))
	}
	var starts, ends [numParams]int
	malformed, repeated := false, -1
	for rest := body; len(rest) > 0; {
		var pair []byte
		pair, rest, _ = bytes.Cut(rest, []byte{'&'})
		if len(pair) == 0 {
			continue
		}
		eq, ok := scanPair(pair)
		if !ok {
			malformed = true
			continue
		}
		name, value := pair, []byte(nil)
		if eq >= 0 {
			name, value = pair[:eq], pair[eq+1:]
		}
		i := formParam(name)
		switch {
		case i < 0:
		case vals.has(i):
			if repeated < 0 {
				repeated = i
			}
		default:
			vals.set |= 1 << i
			starts[i] = len(out)
			out = appendUnescaped(out, value)
			ends[i] = len(out)
		}
	}
	if malformed {
		return errBadForm()
	}
	if repeated >= 0 {
		return errInvalidRequest("repeated_parameter", "parameter "+paramNames[repeated]+" is repeated")
	}
	all := string(out)
	for i := range numParams {
		if vals.has(i) {
			vals.v[i] = all[starts[i]:ends[i]]
		}
	}
	return nil
}

func errBadForm() *Error {
	return errInvalidRequest("bad_body", "the form body is not valid application/x-www-form-urlencoded")
}

// formParam returns the index of the parameter whose form-encoded name is
// name, or -1.
func formParam(name []byte) int {
	var buf [3 * maxParamName]byte
	if len(name) > len(buf) {
		return -1 // too long to decode to a parameter name
	}
	if bytes.IndexByte(name, '%') >= 0 || bytes.IndexByte(name, '+') >= 0 {
		name = appendUnescaped(buf[:0], name)
	}
	if len(name) > maxParamName {
		return -1
	}
	return paramIndex(string(name))
}

// scanPair checks a name=value pair of a form in one pass, as
// url.ParseQuery would: no ';' anywhere, and every '%' followed by two
// hex digits. (A '%' whose two digits would run across the '=' fails as
// it does in the name alone: '=' is not a hex digit.) It returns the
// index of the first '=', or -1.
func scanPair(pair []byte) (eq int, ok bool) {
	eq = -1
	for j := 0; j < len(pair); j++ {
		switch pair[j] {
		case ';':
			return -1, false
		case '=':
			if eq < 0 {
				eq = j
			}
		case '%':
			if j+2 >= len(pair) || !isHex(pair[j+1]) || !isHex(pair[j+2]) {
				return -1, false
			}
			j += 2
		}
	}
	return eq, true
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

// appendUnescaped appends s, whose escapes scanPair accepted, decoded as
// url.QueryUnescape decodes it: %XX as the byte XX, '+' as a space. Runs
// without either are copied whole.
func appendUnescaped(dst, s []byte) []byte {
	for {
		i := 0
		for i < len(s) && s[i] != '%' && s[i] != '+' {
			i++
		}
		dst = append(dst, s[:i]...)
		if i == len(s) {
			return dst
		}
		if s[i] == '+' {
			dst = append(dst, ' ')
			s = s[i+1:]
			continue
		}
		dst = append(dst, unhex(s[i+1])<<4|unhex(s[i+2]))
		s = s[i+3:]
	}
}

// parseJSON reads the application/json body into vals: an object whose
// members the endpoint reads are strings, each at most once; other
// members may be anything.
func parseJSON(body []byte, vals *formValues) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return errInvalidRequest("bad_body", "the JSON body must be an object")
	}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return errInvalidRequest("bad_body", "the JSON body is malformed")
		}
		k, _ := kt.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return errInvalidRequest("bad_body", "the JSON body is malformed")
		}
		i := paramIndex(k)
		if i < 0 {
			continue
		}
		if vals.has(i) {
			return errInvalidRequest("repeated_parameter", "parameter "+k+" is repeated")
		}
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			return errInvalidRequest("bad_parameter", "parameter "+k+" must be a string")
		}
		vals.put(i, v)
	}
	if _, err := dec.Token(); err != nil {
		return errInvalidRequest("bad_body", "the JSON body is malformed")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errInvalidRequest("bad_body", "trailing data after the JSON object")
	}
	return nil
}

// bodyCredentials are the client credential parameters of a request body.
type bodyCredentials struct {
	id, secret, assertion, assertionType             string
	hasID, hasSecret, hasAssertion, hasAssertionType bool
}

func (f *formValues) credentials() bodyCredentials {
	var c bodyCredentials
	c.id, c.hasID = f.get(pClientID)
	c.secret, c.hasSecret = f.get(pClientSecret)
	c.assertion, c.hasAssertion = f.get(pClientAssertion)
	c.assertionType, c.hasAssertionType = f.get(pClientAssertionType)
	return c
}

// credentials fills the client id and secret from the Authorization header
// or the body parameters params (by name).
func (tr *TokenRequest) credentials(r *http.Request, params map[string]string) error {
	var c bodyCredentials
	c.id, c.hasID = params["client_id"]
	c.secret, c.hasSecret = params["client_secret"]
	c.assertion, c.hasAssertion = params["client_assertion"]
	c.assertionType, c.hasAssertionType = params["client_assertion_type"]
	return tr.credentialsFrom(r, c)
}

// credentialsFrom fills the client id and secret from the Authorization
// header or the body. RFC 6749 section 2.3: a client uses one method per
// request.
func (tr *TokenRequest) credentialsFrom(r *http.Request, c bodyCredentials) error {
	bodyID, hasBodyID := c.id, c.hasID
	bodySecret, hasBodySecret := c.secret, c.hasSecret
	assertion, hasAssertion := c.assertion, c.hasAssertion
	assertionType, hasAssertionType := c.assertionType, c.hasAssertionType
	auth := r.Header.Values("Authorization")
	if hasAssertion || hasAssertionType {
		switch {
		case hasBodySecret || len(auth) > 0:
			return errInvalidRequest("multiple_auth_methods", "a client assertion together with a client secret or an Authorization header")
		case !hasAssertion || !hasAssertionType:
			return errInvalidRequest("missing_parameter", "client_assertion and client_assertion_type go together")
		}
		tr.ClientID, tr.ClientAssertion, tr.ClientAssertionType, tr.AuthMethod = bodyID, assertion, assertionType, authPKJWT
		return nil
	}
	if len(auth) > 1 {
		return errInvalidRequest("repeated_parameter", "more than one Authorization header")
	}
	if len(auth) == 1 {
		if len(auth[0]) > httpauth.MaxAuthorizationBytes {
			return errInvalidRequest("too_large", "Authorization header too long")
		}
		scheme, cred, ok := httpauth.ParseAuthorization(auth[0])
		if !ok || !strings.EqualFold(scheme, "Basic") {
			return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidClient, Reason: "unsupported_auth_scheme",
				Description: "client authentication must use HTTP Basic or client_secret_post", Basic: true}
		}
		id, secret, err := decodeBasic(cred)
		if err != nil {
			return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidClient, Reason: "malformed_credentials",
				Description: "malformed HTTP Basic credentials", Basic: true}
		}
		if hasBodySecret {
			return errInvalidRequest("multiple_auth_methods", "client credentials in both the Authorization header and the body")
		}
		if hasBodyID && bodyID != id {
			return errInvalidRequest("multiple_auth_methods", "client_id in the body differs from the Authorization header")
		}
		tr.ClientID, tr.ClientSecret, tr.AuthMethod = id, secret, authBasic
		return nil
	}
	if hasBodyID || hasBodySecret {
		tr.ClientID, tr.ClientSecret, tr.AuthMethod = bodyID, bodySecret, authPost
		if !hasBodySecret {
			tr.AuthMethod = authTLS
		}
	}
	return nil
}

// decodeBasic decodes HTTP Basic credentials whose user and password are
// form-urlencoded, as RFC 6749 section 2.3.1 requires of clients.
func decodeBasic(cred string) (id, secret string, err error) {
	if len(cred) > base64.StdEncoding.EncodedLen(maxClientIDBytes*3+maxClientSecretBytes*3+1) {
		return "", "", errors.New("authserver: basic credentials too long")
	}
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		return "", "", err
	}
	u, p, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", errors.New("authserver: basic credentials without a colon")
	}
	if id, err = url.QueryUnescape(u); err != nil {
		return "", "", err
	}
	if secret, err = url.QueryUnescape(p); err != nil {
		return "", "", err
	}
	return id, secret, nil
}
