package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/internal/vcache"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/store"
)

// MaxIntrospectedTokenBytes caps the token presented to the introspection
// and revocation endpoints; a longer one is inactive (introspection) or
// ignored (revocation) without being parsed.
const MaxIntrospectedTokenBytes = 4 << 10

// lifecycleParams are the parameters the introspection (RFC 7662) and
// revocation (RFC 7009) endpoints read; others are ignored.
var lifecycleParams = map[string]bool{
	"token": true, "token_type_hint": true, "client_id": true, "client_secret": true,
	"client_assertion": true, "client_assertion_type": true,
}

// lifecycleRequest is a parsed introspection or revocation request.
type lifecycleRequest struct {
	TokenRequest // the caller's client credentials
	Token        string
	Hint         string
}

// parseLifecycleRequest reads an RFC 7662 / RFC 7009 request: a POST of
// application/x-www-form-urlencoded parameters with the caller's client
// credentials, as at the token endpoint.
func parseLifecycleRequest(r *http.Request, maxBody int64) (*lifecycleRequest, *Error) {
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	if r.ContentLength > maxBody {
		return nil, tooLarge()
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/x-www-form-urlencoded" {
		return nil, errInvalidRequest("bad_content_type", "the body must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, errInvalidRequest("bad_body", "the request body could not be read")
	}
	if int64(len(body)) > maxBody {
		return nil, tooLarge()
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errInvalidRequest("bad_body", "the form body is not valid application/x-www-form-urlencoded")
	}
	params := make(map[string]string, len(lifecycleParams))
	for k, v := range vals {
		if !lifecycleParams[k] {
			continue
		}
		if len(v) != 1 {
			return nil, errInvalidRequest("repeated_parameter", "parameter "+k+" is repeated")
		}
		params[k] = v[0]
	}
	lr := &lifecycleRequest{Token: params["token"], Hint: params["token_type_hint"]}
	if err := lr.credentials(r, params); err != nil {
		return nil, asError(err)
	}
	if len(lr.ClientID) > maxClientIDBytes || len(lr.ClientSecret) > maxClientSecretBytes ||
		len(lr.ClientAssertion) > DefaultMaxAssertionBytes || len(lr.ClientAssertionType) > len(ClientAssertionType) {
		return nil, errInvalidRequest("too_large", "client credentials too long")
	}
	if lr.Token == "" {
		return nil, errInvalidRequest("missing_token", "the token parameter is required")
	}
	return lr, nil
}

// tokenInfo is a token this server issued, verified: signature by a key it
// publishes, its issuer, and the claims every profile carries.
type tokenInfo struct {
	claims   *jwtauth.Claims
	clientID string
	scope    string
}

// errForeign marks a token this server did not issue or cannot read.
var errForeign = errors.New("authserver: not a token of this server")

// ownAlgorithms are the algorithms of the Signer's tokens the server reads
// back: every public-key algorithm; each published key verifies only its
// own (its JWK "alg" and key type).
var ownAlgorithms = []string{"ES256", "ES384", "ES512", "EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}

// ownTokens is the policy by which the server reads back its own tokens,
// through the one verification core: its algorithms, typ at+jwt (RFC
// 9068) or JWT (Auth0 profile), jti, exp and iat present; any audience
// (introspection reports it). The issuer is checked by ownToken: either
// of the two spellings the profiles use.
func (s *Server) ownTokens() *jwtauth.Validator {
	return &jwtauth.Validator{
		Algorithms:        ownAlgorithms,
		SkipIssuerCheck:   true,
		AcceptAnyAudience: true,
		Types:             []string{"at+jwt", "JWT"},
		RequiredClaims:    []string{"jti", "iat"},
		MaxTokenBytes:     MaxIntrospectedTokenBytes,
		Now:               s.now,
	}
}

// publicKeys returns the Signer's published keys.
func (s *Server) publicKeys() *jwk.Set {
	keys, _ := s.cfg.Signer.PublicKeys()
	return keys
}

// ownToken verifies token against the keys the server publishes and its
// issuer. The clock is checked with the core's leeway (so that replicas
// with slightly different clocks agree); callers compare exp exactly.
// Any refusal is errForeign, or for a token expired beyond the leeway, a
// refusal with reason expired.
//
// A token verified before is remembered (by its SHA-256, up to
// DefaultIntrospectionCacheSize tokens): presented again, as resource
// servers that introspect on every request do, it costs a hash, a map
// lookup, the time checks and the check that its key is still published,
// not a signature verification. Revocation is not cached: callers check
// it on every request.
func (s *Server) ownToken(ctx context.Context, token string) (*tokenInfo, error) {
	if len(token) > MaxIntrospectedTokenBytes {
		return nil, errForeign
	}
	digest := vcache.Digest(token)
	if ti, ok := s.introspected.Get(digest); ok {
		if s.own.ValidateClaims(ti.claims) == nil && s.publicKeys().Has(ti.claims.KeyID, ti.claims.KeyThumbprint) {
			return ti, nil
		}
		s.introspected.Remove(digest)
	}
	c, err := s.own.Verify(ctx, token, jwtauth.PublicKeys(jwk.NewStaticKeySet(s.publicKeys())))
	if err != nil {
		if m2m.ReasonOf(err) == m2m.ReasonExpired {
			return nil, err
		}
		return nil, errForeign
	}
	ti := &tokenInfo{claims: c}
	switch c.Issuer {
	case s.issuer:
		ti.clientID, _ = c.Raw["client_id"].(string)
	case s.auth0Issuer:
		ti.clientID, _ = c.Raw["azp"].(string)
	default:
		return nil, errForeign
	}
	ti.scope, _ = c.Raw["scope"].(string)
	if ti.clientID == "" || c.ID == "" {
		return nil, errForeign
	}
	s.introspected.Put(digest, ti, s.now())
	return ti, nil
}

// DefaultIntrospectionCacheSize is how many verified tokens the
// introspection and revocation endpoints remember.
const DefaultIntrospectionCacheSize = 10000

func newIntrospectionCache() *vcache.Cache[*tokenInfo] {
	return vcache.New(DefaultIntrospectionCacheSize, func(ti *tokenInfo) time.Time { return ti.claims.ExpiresAt })
}

// revokedReason says why ti is no longer valid at now, or "" when it is:
// "expired", "revoked" (its jti), "client_revoked" (issued before the
// client's RevokedBefore) or "unknown_client" (the client was deleted).
func (s *Server) revokedReason(ctx context.Context, ti *tokenInfo, now time.Time) (string, error) {
	if !now.Before(ti.claims.ExpiresAt) {
		return "expired", nil
	}
	c, err := s.clients.get(ctx, ti.clientID, now)
	if err != nil {
		return "", err
	}
	if c == nil {
		return "unknown_client", nil
	}
	// iat has whole seconds: a token issued in the same second as the
	// revocation is revoked too (never one issued before it kept).
	if !c.RevokedBefore.IsZero() && ti.claims.IssuedAt.Before(c.RevokedBefore) {
		return "client_revoked", nil
	}
	if s.revocations != nil {
		revoked, err := s.revocations.IsRevoked(ctx, ti.claims.ID)
		if err != nil {
			return "", err
		}
		if revoked {
			return "revoked", nil
		}
	}
	return "", nil
}

// introspection is the RFC 7662 section 2.2 response of an active token.
type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id"`
	Subject   string `json:"sub"`
	Audience  any    `json:"aud"`
	Issuer    string `json:"iss"`
	ExpiresAt int64  `json:"exp"`
	IssuedAt  int64  `json:"iat"`
	JTI       string `json:"jti"`
	TokenType string `json:"token_type"`
	// Cnf is the token's confirmation claim, as the token carries it
	// (RFC 7800; RFC 9449 section 6.2's jkt, RFC 8705 section 3.2's
	// x5t#S256), so that a resource server that introspects checks the
	// same binding as one that validates the JWT; absent for a Bearer
	// token.
	Cnf any `json:"cnf,omitempty"`
}

// handleIntrospect is POST /oauth/introspect (RFC 7662). The caller
// authenticates as any registered, enabled client. A token this server
// did not issue, or that is malformed, expired, revoked, issued before its
// client's RevokedBefore or whose client was deleted, is {"active":false}.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	lr, e := s.lifecycleCaller(w, r)
	if e != nil {
		s.refuseLifecycle(w, r, lr, start, e)
		return
	}
	ctx := r.Context()
	now := s.now()
	ti, err := s.ownToken(ctx, lr.Token)
	if err != nil {
		reason := "foreign"
		if m2m.ReasonOf(err) == m2m.ReasonExpired {
			reason = "expired"
		}
		s.inactive(w, r, lr, reason)
		return
	}
	reason, err := s.revokedReason(ctx, ti, now)
	if err != nil {
		s.refuseLifecycle(w, r, lr, start, s.unavailable(r, "store", err))
		return
	}
	if reason != "" {
		s.inactive(w, r, lr, reason)
		return
	}
	c := ti.claims
	resp := introspection{
		Active: true, Scope: ti.scope, ClientID: ti.clientID, Subject: c.Subject, Issuer: c.Issuer,
		ExpiresAt: c.ExpiresAt.Unix(), IssuedAt: c.IssuedAt.Unix(), JTI: c.ID, TokenType: "Bearer",
	}
	if cnf, ok := c.Raw["cnf"]; ok {
		resp.Cnf = cnf
		if m, _ := cnf.(map[string]any); m != nil {
			if jkt, _ := m["jkt"].(string); jkt != "" {
				resp.TokenType = "DPoP" // RFC 9449 section 6.2
			}
		}
	}
	if len(c.Audience) == 1 {
		resp.Audience = c.Audience[0]
	} else {
		resp.Audience = c.Audience
	}
	s.metrics.introspected.WithLabelValues("active").Inc()
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) inactive(w http.ResponseWriter, r *http.Request, lr *lifecycleRequest, reason string) {
	s.metrics.introspected.WithLabelValues(reason).Inc()
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "authserver: inactive token introspected",
			slog.String("client_id", lr.ClientID), slog.String("reason", reason))
	}
	writeJSON(w, http.StatusOK, map[string]bool{"active": false})
}

// lifecycleCaller parses the request and authenticates the calling client.
func (s *Server) lifecycleCaller(w http.ResponseWriter, r *http.Request) (*lifecycleRequest, *Error) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, &Error{Status: http.StatusMethodNotAllowed, Code: CodeInvalidRequest,
			Reason: "method_not_allowed", Description: "this endpoint accepts POST only"}
	}
	lr, e := parseLifecycleRequest(r, s.cfg.MaxBodyBytes)
	if e != nil {
		return nil, e
	}
	if _, e := s.authenticate(r, &lr.TokenRequest); e != nil {
		return lr, e
	}
	return lr, nil
}

func (s *Server) refuseLifecycle(w http.ResponseWriter, r *http.Request, lr *lifecycleRequest, start time.Time, e *Error) {
	id := ""
	if lr != nil {
		id = lr.ClientID
	}
	s.refuse(w, r, id, start, e)
}

// handleRevoke is POST /oauth/revoke (RFC 7009). The caller authenticates
// as a client and may revoke only the tokens issued to it; the token's jti
// is recorded in the Revocations store until the token expires. As the RFC
// requires, an invalid, unknown, foreign or expired token is answered 200
// too (there is nothing to revoke).
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	lr, e := s.lifecycleCaller(w, r)
	if e != nil {
		s.refuseLifecycle(w, r, lr, start, e)
		return
	}
	ctx := r.Context()
	ti, err := s.ownToken(ctx, lr.Token)
	if err != nil || !s.now().Before(ti.claims.ExpiresAt) {
		s.revoked(w, r, lr, "not_active")
		return
	}
	if ti.clientID != lr.ClientID {
		s.refuseLifecycle(w, r, lr, start, &Error{Status: http.StatusBadRequest, Code: CodeUnauthorizedClient,
			Reason: "not_token_owner", Description: "the token was not issued to this client"})
		return
	}
	if err := s.revocations.RevokeToken(ctx, ti.claims.ID, ti.claims.ExpiresAt); err != nil {
		s.refuseLifecycle(w, r, lr, start, s.unavailable(r, "revocations", err))
		return
	}
	s.recordAudit(ctx, store.AuditEvent{Code: AuditTokenRevoked, Actor: "client:" + lr.ClientID, ClientID: lr.ClientID,
		Target: ti.claims.ID, RemoteAddr: s.clientAddr(r)}, false)
	s.revoked(w, r, lr, "revoked")
}

func (s *Server) revoked(w http.ResponseWriter, r *http.Request, lr *lifecycleRequest, outcome string) {
	s.metrics.revoked.WithLabelValues(outcome).Inc()
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "authserver: token revocation",
		slog.String("client_id", lr.ClientID), slog.String("outcome", outcome))
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte("{}\n"))
}

// RevokeClientTokens invalidates every token issued to client id up to now
// (nil: time.Now) by setting its RevokedBefore: introspection answers
// inactive for them at once on this server and within the client cache
// bound on others, and a jwtauth verifier with a [jwtauth.Revocations]
// that reads Clients refuses them within its cache bound. Tokens issued in
// the same second as now are revoked too.
func RevokeClientTokens(ctx context.Context, clients store.Clients, id string, now func() time.Time) (*store.Client, error) {
	t := nowOf(now)
	c, err := clients.UpdateClient(ctx, id, func(c *store.Client) error {
		if t.After(c.RevokedBefore) {
			c.RevokedBefore = t
		}
		c.UpdatedAt = t
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// lifecycleMetadata adds the introspection and revocation endpoints to
// the RFC 8414 metadata.
func (s *Server) lifecycleMetadata(doc map[string]any) {
	methods := append([]string{authBasic, authPost, authPKJWT}, s.mutualTLSMethods()...)
	doc["introspection_endpoint"] = s.endpoint("/oauth/introspect")
	doc["introspection_endpoint_auth_methods_supported"] = methods
	if s.revocations != nil {
		doc["revocation_endpoint"] = s.endpoint("/oauth/revoke")
		doc["revocation_endpoint_auth_methods_supported"] = methods
	}
}

// mergeMetadata returns base (a JSON object) with the lifecycle fields.
func (s *Server) mergeMetadata(base []byte) []byte {
	doc := map[string]any{}
	if err := json.Unmarshal(base, &doc); err != nil {
		return base
	}
	s.lifecycleMetadata(doc)
	b, err := json.Marshal(doc)
	if err != nil {
		return base
	}
	return b
}
