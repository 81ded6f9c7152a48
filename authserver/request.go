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

// requestParams are the parameters the token endpoint reads; any other
// parameter is ignored, as RFC 6749 section 3.2 requires.
var requestParams = map[string]bool{
	"grant_type": true, "client_id": true, "client_secret": true,
	"scope": true, "audience": true, "resource": true,
	"client_assertion": true, "client_assertion_type": true,
	"assertion": true, "subject_token": true, "subject_token_type": true,
	"requested_token_type": true, "actor_token": true, "actor_token_type": true,
}

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
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, errInvalidRequest("bad_content_type", "the body must be application/x-www-form-urlencoded or application/json")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, errInvalidRequest("bad_body", "the request body could not be read")
	}
	if int64(len(body)) > maxBody {
		return nil, tooLarge()
	}
	var params map[string]string
	switch ct {
	case "application/x-www-form-urlencoded":
		params, err = parseForm(body)
	case "application/json":
		params, err = parseJSON(body)
	default:
		return nil, errInvalidRequest("bad_content_type", "the body must be application/x-www-form-urlencoded or application/json")
	}
	if err != nil {
		return nil, err
	}
	tr := &TokenRequest{
		GrantType: params["grant_type"],
		Audience:  params["audience"],
		Resource:  params["resource"],

		Assertion:          params["assertion"],
		SubjectToken:       params["subject_token"],
		SubjectTokenType:   params["subject_token_type"],
		RequestedTokenType: params["requested_token_type"],
	}
	_, actor := params["actor_token"]
	_, actorType := params["actor_token_type"]
	tr.ActorTokenSet = actor || actorType
	tr.Scope, tr.ScopeSet = params["scope"]
	if err := tr.credentials(r, params); err != nil {
		return nil, err
	}
	switch {
	case len(tr.ClientID) > maxClientIDBytes || len(tr.ClientSecret) > maxClientSecretBytes ||
		len(tr.ClientAssertion) > DefaultMaxAssertionBytes || len(tr.ClientAssertionType) > len(ClientAssertionType):
		return nil, errInvalidRequest("too_large", "client credentials too long")
	case len(tr.Scope) > maxScopeBytes:
		return nil, errInvalidRequest("too_large", "scope too long")
	case len(tr.Audience) > maxAudienceBytes || len(tr.Resource) > maxAudienceBytes:
		return nil, errInvalidRequest("too_large", "audience too long")
	case len(tr.Assertion) > maxExternalTokenBytes || len(tr.SubjectToken) > maxExternalTokenBytes:
		return nil, errInvalidRequest("too_large", "assertion or subject_token too long")
	case len(tr.SubjectTokenType) > maxTokenTypeBytes || len(tr.RequestedTokenType) > maxTokenTypeBytes:
		return nil, errInvalidRequest("too_large", "token type too long")
	}
	return tr, nil
}

func tooLarge() *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeInvalidRequest, Reason: "too_large", Description: "request body too large"}
}

func parseForm(body []byte) (map[string]string, error) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errInvalidRequest("bad_body", "the form body is not valid application/x-www-form-urlencoded")
	}
	params := make(map[string]string, len(requestParams))
	for k, v := range vals {
		if !requestParams[k] {
			continue
		}
		if len(v) != 1 {
			return nil, errInvalidRequest("repeated_parameter", "parameter "+k+" is repeated")
		}
		params[k] = v[0]
	}
	return params, nil
}

func parseJSON(body []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, errInvalidRequest("bad_body", "the JSON body must be an object")
	}
	params := make(map[string]string, len(requestParams))
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, errInvalidRequest("bad_body", "the JSON body is malformed")
		}
		k, _ := kt.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, errInvalidRequest("bad_body", "the JSON body is malformed")
		}
		if !requestParams[k] {
			continue
		}
		if _, dup := params[k]; dup {
			return nil, errInvalidRequest("repeated_parameter", "parameter "+k+" is repeated")
		}
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, errInvalidRequest("bad_parameter", "parameter "+k+" must be a string")
		}
		params[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, errInvalidRequest("bad_body", "the JSON body is malformed")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errInvalidRequest("bad_body", "trailing data after the JSON object")
	}
	return params, nil
}

// credentials fills the client id and secret from the Authorization header
// or the body. RFC 6749 section 2.3: a client uses one method per request.
func (tr *TokenRequest) credentials(r *http.Request, params map[string]string) error {
	bodyID, hasBodyID := params["client_id"]
	bodySecret, hasBodySecret := params["client_secret"]
	assertion, hasAssertion := params["client_assertion"]
	assertionType, hasAssertionType := params["client_assertion_type"]
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
