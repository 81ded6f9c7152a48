package authserver

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/federation"
	"github.com/m2mkit/m2m/internal/jsonstr"
	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/internal/logattr"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/store"
)

// Grant types and token types of the grants that take an external
// identity token (Config.Federation).
const (
	// GrantTypeJWTBearer is the JWT bearer grant (RFC 7523 section 2.1):
	// the assertion parameter is the grant.
	GrantTypeJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	// GrantTypeTokenExchange is token exchange (RFC 8693): the
	// subject_token is exchanged for an access token.
	GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	// TokenTypeJWT, TokenTypeIDToken and TokenTypeAccessToken are the
	// subject_token_type values accepted (RFC 8693 section 3); the issued
	// token's type is always TokenTypeAccessToken.
	TokenTypeJWT         = "urn:ietf:params:oauth:token-type:jwt"
	TokenTypeIDToken     = "urn:ietf:params:oauth:token-type:id_token"
	TokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"
)

// The three ways an external identity token reaches the token endpoint.
const (
	viaClientAssertion = "client_assertion"
	viaJWTBearer       = "jwt_bearer"
	viaTokenExchange   = "token_exchange"
)

// federatedVia says whether tr carries an external identity token for
// Config.Federation, and how: the JWT bearer grant, token exchange, or a
// client assertion of the client credentials grant whose iss is not a
// client id. A client id never contains ':' or '/' (store.ValidClientID)
// and an issuer is an https URL, so the iss tells a private_key_jwt
// client's own assertion from an external token without a lookup.
func (s *Server) federatedVia(tr *TokenRequest) string {
	if s.cfg.Federation == nil {
		return ""
	}
	switch tr.GrantType {
	case GrantTypeJWTBearer:
		return viaJWTBearer
	case GrantTypeTokenExchange:
		return viaTokenExchange
	case "client_credentials":
		if tr.AuthMethod == authPKJWT && !store.ValidClientID(unverifiedIssuer(tr.ClientAssertion)) {
			return viaClientAssertion
		}
	}
	return ""
}

// unverifiedIssuer returns the iss a token claims, "" when it has none or
// is not a JWT.
func unverifiedIssuer(token string) string {
	t, err := jws.Parse(token, maxExternalTokenBytes)
	if err != nil {
		return ""
	}
	c, err := jwtauth.ParseClaims(t.Payload)
	if err != nil {
		return ""
	}
	return c.Issuer
}

// federatedClient authenticates a request that carries an external
// identity token: the token must match a trust policy of
// Config.Federation, and the policy's client must exist and be enabled.
// The caller gets the plain RFC error of the grant (invalid_client for a
// client assertion, invalid_grant for the JWT bearer grant and token
// exchange, invalid_request for a malformed token exchange, RFC 8693
// section 2.2.2); which rule failed is logged for the operator.
//
// Failures are throttled like wrong secrets, per client address and the
// token's (claimed) issuer: FailureLimit verifications, then 429.
func (s *Server) federatedClient(r *http.Request, tr *TokenRequest, via string) (*store.Client, *federation.Match, *Error) {
	ctx := r.Context()
	token, e := externalToken(tr, via)
	if e != nil {
		return nil, nil, e
	}
	refused := func(reason string) *Error {
		if via == viaClientAssertion {
			return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidClient, Reason: "federation_" + reason,
				Description: "client authentication failed"}
		}
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidGrant, Reason: "federation_" + reason,
			Description: "the " + grantNoun(via) + " was refused"}
	}
	addr := s.addrKey(r)
	iss := unverifiedIssuer(token)
	sum := sha256.Sum256([]byte(iss))
	key := "authfail:issuer:" + addr + " " + hex.EncodeToString(sum[:12])
	unlock := s.guesses.Lock(key)
	defer unlock()
	d, err := s.limiter.Take(ctx, key, s.failures, 0)
	if err != nil {
		return nil, nil, s.unavailable(r, "limiter", err)
	}
	if !d.Allowed {
		s.metrics.rateLimited.WithLabelValues("failures").Inc()
		return nil, nil, throttled(d.RetryAfter)
	}
	fail := func(reason string, attrs ...slog.Attr) *Error {
		attrs = append([]slog.Attr{slog.String("via", via), slog.String("reason", reason),
			logattr.String("issuer", iss), slog.String("remote_addr", s.clientAddr(r))}, attrs...)
		s.log.LogAttrs(ctx, slog.LevelInfo, "authserver: external token refused", attrs...)
		if _, err := s.limiter.Take(ctx, key, s.failures, 1); err != nil {
			return s.unavailable(r, "limiter", err)
		}
		da, err := s.limiter.Take(ctx, "authfail:addr:"+addr, s.failures, 1)
		if err != nil {
			return s.unavailable(r, "limiter", err)
		}
		if !da.Allowed {
			s.metrics.rateLimited.WithLabelValues("failures").Inc()
			return throttled(da.RetryAfter)
		}
		return refused(reason)
	}

	var audiences []string
	for _, a := range []string{tr.Audience, tr.Resource} {
		if a != "" && !slices.Contains(audiences, a) {
			audiences = append(audiences, a)
		}
	}
	m, err := s.cfg.Federation.Verify(ctx, token, audiences)
	var rf *federation.Refusal
	if errors.As(err, &rf) {
		return nil, nil, fail(string(rf.Rule), slog.Any("refusal", rf))
	}
	if err != nil {
		return nil, nil, s.unavailable(r, "federation", err)
	}
	matched := []slog.Attr{logattr.String("policy", m.Policy.Name), logattr.String("client_id", m.ClientID)}
	if tr.ClientID != "" && tr.ClientID != m.ClientID {
		return nil, nil, fail("client_id_mismatch", append(matched, slog.String("detail", "the request's client_id is not the policy's client"))...)
	}
	tr.ClientID = m.ClientID
	client, err := s.clients.get(ctx, m.ClientID, s.now())
	if err != nil {
		return nil, nil, s.unavailable(r, "store", err)
	}
	if client == nil {
		return nil, nil, fail("unknown_client", append(matched, slog.String("detail", "the policy's client does not exist"))...)
	}
	if client.Disabled {
		return nil, nil, errClientDisabled()
	}
	return client, m, nil
}

// externalToken returns the external token of tr, checking the token
// exchange parameters (RFC 8693 section 2.1): invalid_request when one
// is missing or not supported.
func externalToken(tr *TokenRequest, via string) (string, *Error) {
	switch via {
	case viaClientAssertion:
		return tr.ClientAssertion, nil
	case viaJWTBearer:
		if tr.Assertion == "" {
			return "", errInvalidRequest("missing_parameter", "the JWT bearer grant needs the assertion parameter")
		}
		if tr.ClientSecret != "" || tr.AuthMethod == authBasic || tr.AuthMethod == authPKJWT {
			return "", errInvalidRequest("multiple_auth_methods", "the assertion authenticates the client: send no client credentials with it")
		}
		return tr.Assertion, nil
	}
	switch {
	case tr.SubjectToken == "":
		return "", errInvalidRequest("missing_parameter", "token exchange needs subject_token")
	case tr.SubjectTokenType == "":
		return "", errInvalidRequest("missing_parameter", "token exchange needs subject_token_type")
	case tr.SubjectTokenType != TokenTypeJWT && tr.SubjectTokenType != TokenTypeIDToken && tr.SubjectTokenType != TokenTypeAccessToken:
		return "", errInvalidRequest("unsupported_token_type", "subject_token_type must be "+TokenTypeJWT+", "+TokenTypeIDToken+" or "+TokenTypeAccessToken)
	case tr.RequestedTokenType != "" && tr.RequestedTokenType != TokenTypeAccessToken:
		return "", errInvalidRequest("unsupported_token_type", "requested_token_type must be "+TokenTypeAccessToken)
	case tr.ActorTokenSet:
		return "", errInvalidRequest("unsupported_parameter", "actor_token is not supported")
	case tr.ClientSecret != "" || tr.AuthMethod == authBasic || tr.AuthMethod == authPKJWT:
		return "", errInvalidRequest("multiple_auth_methods", "the subject_token authenticates the client: send no client credentials with it")
	}
	return tr.SubjectToken, nil
}

func grantNoun(via string) string {
	if via == viaTokenExchange {
		return "subject_token"
	}
	return "assertion"
}

// federatedScope is the scope of a token issued for an external
// identity: the requested scopes, each of which the policy must allow
// (the policy's scopes, or the client's when it names none, and never
// beyond the client's); all of those when none is requested.
func federatedScope(c *store.Client, p *store.TrustPolicy, tr *TokenRequest) (string, *Error) {
	allowed := c.Scopes
	if len(p.Scopes) > 0 {
		allowed = slices.DeleteFunc(slices.Clone(p.Scopes), func(sc string) bool { return !slices.Contains(c.Scopes, sc) })
	}
	requested, err := m2m.ParseScope(tr.Scope)
	if err != nil {
		return "", &Error{Status: http.StatusBadRequest, Code: CodeInvalidScope, Reason: "bad_scope", Description: "malformed scope"}
	}
	if len(requested) == 0 {
		return m2m.FormatScope(allowed), nil
	}
	for _, sc := range requested {
		if !slices.Contains(allowed, sc) {
			return "", &Error{Status: http.StatusBadRequest, Code: CodeInvalidScope, Reason: "scope_not_granted",
				Description: "scope " + strconv.Quote(sc) + " is not granted to this identity"}
		}
	}
	return m2m.FormatScope(requested), nil
}

// federatedTTL bounds ttl by the policy's MaxTTL and by the external
// token's expiry: the issued token never outlives the one it came from.
func federatedTTL(ttl time.Duration, m *federation.Match, now time.Time) (time.Duration, *Error) {
	if m.Policy.MaxTTL > 0 {
		ttl = min(ttl, m.Policy.MaxTTL)
	}
	left := m.Expiry.Sub(now).Truncate(time.Second)
	if left < time.Second {
		return 0, &Error{Status: http.StatusBadRequest, Code: CodeInvalidGrant, Reason: "federation_expiry",
			Description: "the external token expires too soon"}
	}
	return min(ttl, left), nil
}

// firstUse records the external token of a single-use policy in the
// replay cache, until it expires (plus the verification leeway), and
// reports whether this is its first use. The cache is the one client
// assertions use (Config.ClientAssertionReplay, shared by replicas).
func (s *Server) firstUse(r *http.Request, m *federation.Match, via string) *Error {
	first, err := s.assertions.Replay.Use(r.Context(), m.ReplayKey, m.Expiry.Add(jwtauth.DefaultLeeway))
	if err != nil {
		return s.unavailable(r, "replay", err)
	}
	if first {
		return nil
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "authserver: external token refused",
		slog.String("via", via), slog.String("reason", "replayed"), logattr.String("policy", m.Policy.Name),
		logattr.String("issuer", m.Issuer), logattr.String("subject", m.Subject))
	if via == viaClientAssertion {
		return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidClient, Reason: "federation_replayed",
			Description: "client authentication failed", knownClient: true}
	}
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidGrant, Reason: "federation_replayed",
		Description: "the " + grantNoun(via) + " was refused", knownClient: true}
}

// withActor adds the RFC 8693 section 4.1 act claim, naming the external
// identity the token was issued for, to a claims set built by claims.
func withActor(payload []byte, m *federation.Match) []byte {
	out := make([]byte, 0, len(payload)+32+len(m.Issuer)+len(m.Subject))
	out = append(out, payload[:len(payload)-1]...)
	out = append(out, `,"act":{"iss":`...)
	out = jsonstr.Append(out, m.Issuer)
	out = append(out, `,"sub":`...)
	out = jsonstr.Append(out, m.Subject)
	return append(out, "}}"...)
}
