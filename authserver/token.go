package authserver

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/federation"
	"github.com/m2mkit/m2m/internal/jsonstr"
	"github.com/m2mkit/m2m/internal/logattr"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/ratelimit"
	"github.com/m2mkit/m2m/store"
)

// issued is what a successful token request produced.
type issued struct {
	token    string
	kid      string
	ttl      time.Duration
	scope    string
	audience string
	profile  jwtauth.Profile
	rate     ratelimit.Decision // the client's rate limit, sent as X-RateLimit-*
	jkt      string             // the DPoP key thumbprint the token is bound to; "" for Bearer
	// issuedTokenType is the RFC 8693 issued_token_type of a token
	// exchange; "" for other grants.
	issuedTokenType string
	quota           string // the quota exceeded in monitor mode (QuotaHeader), or ""
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if s.tracer != nil {
		var span trace.Span
		r, span = s.startTokenSpan(r)
		defer span.End()
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.refuse(w, r, "", start, &Error{Status: http.StatusMethodNotAllowed, Code: CodeInvalidRequest,
			Reason: "method_not_allowed", Description: "the token endpoint accepts POST only"})
		return
	}
	tr, err := ParseTokenRequest(r, s.cfg.MaxBodyBytes)
	if err != nil {
		s.refuse(w, r, "", start, asError(err))
		return
	}
	if s.tracer != nil {
		traceGrant(r, tr)
	}
	iss, client, e := s.issue(r, tr)
	if e != nil && client != nil {
		e.knownClient = true
	}
	if e != nil {
		s.refuse(w, r, tr.ClientID, start, e)
		return
	}
	if s.tracer != nil {
		traceIssued(r, client)
	}
	s.writeToken(w, &iss)
	if s.usage != nil {
		now := s.now()
		s.usage.issued(client, previousSecretID(client, tr, now), now)
	}
	s.metrics.issuedCounter(iss.profile).Inc()
	s.metrics.okLatency.Observe(time.Since(start).Seconds())
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "authserver: token issued",
			logattr.String("client_id", client.ID), logattr.String("audience", iss.audience),
			logattr.String("scope", iss.scope), slog.String("kid", iss.kid))
	}
}

func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeServerError, Reason: "internal", Description: "internal error"}
}

// issue runs the checks of a client credentials request in order and signs
// the token. A refusal after the client authenticated returns the client
// with the error. The order matters: nothing about a client is revealed before
// it has authenticated, and failures are throttled before any secret is
// compared.
func (s *Server) issue(r *http.Request, tr *TokenRequest) (issued, *store.Client, *Error) {
	ctx := r.Context()
	var none issued
	switch tr.GrantType {
	case "":
		return none, nil, errInvalidRequest("missing_grant_type", "grant_type is required")
	case "client_credentials":
	case GrantTypeJWTBearer, GrantTypeTokenExchange:
		if s.cfg.Federation == nil {
			return none, nil, &Error{Status: http.StatusBadRequest, Code: CodeUnsupportedGrantType, Reason: "unsupported_grant_type",
				Description: "only grant_type=client_credentials is supported (no trust policies are configured)"}
		}
	default:
		return none, nil, &Error{Status: http.StatusBadRequest, Code: CodeUnsupportedGrantType, Reason: "unsupported_grant_type",
			Description: "unsupported grant_type"}
	}
	var (
		client *store.Client
		e      *Error
		fed    *federation.Match // the external identity, for the federated grants
	)
	via := s.federatedVia(tr)
	if via != "" {
		client, fed, e = s.federatedClient(r, tr, via)
	} else {
		client, e = s.authenticate(r, tr)
	}
	if e != nil {
		return none, client, e
	}
	// From here on, refusals return the authenticated client too.
	jkt, e := s.checkDPoP(r, client)
	if e != nil {
		return none, client, e
	}
	var x5t string
	if jkt == "" {
		// A token is bound one way: a DPoP proof, when the client sent
		// one, or else the certificate (no API accepts a token that would
		// need both proofs).
		if x5t, e = s.certificateBinding(r, client); e != nil {
			return none, client, e
		}
	}
	now := s.now()
	lim := s.rate
	if client.RateLimitPerSecond > 0 {
		lim = ratelimit.Limit{Rate: client.RateLimitPerSecond, Burst: client.RateLimitBurst}
		if lim.Burst <= 0 {
			lim.Burst = max(1, int(client.RateLimitPerSecond))
		}
	}
	d, err := s.limiter.Take(ctx, rateKey(client.ID), lim, 1)
	if err != nil {
		return none, client, s.unavailable(r, "limiter", err)
	}
	if !d.Allowed {
		s.metrics.rateLimited.WithLabelValues("client").Inc()
		refused := d // a copy, so that d itself stays on the stack
		return none, client, &Error{Status: http.StatusTooManyRequests, Code: CodeTooManyRequests, Reason: "rate_limited",
			Description: "rate limit exceeded for this client", RetryAfter: d.RetryAfter, rate: &refused}
	}
	quota, e := s.checkQuota(r, client, now)
	if e != nil {
		return none, client, e
	}
	aud, e := audience(client, tr)
	if e != nil {
		return none, client, e
	}
	if e := s.checkRecord(r, client); e != nil {
		return none, client, e
	}
	var scope string
	if fed != nil {
		scope, e = federatedScope(client, fed.Policy, tr)
	} else {
		scope, e = grantScope(client, tr)
	}
	if e != nil {
		return none, client, e
	}
	profile := s.profileFor(client, aud)
	ttl := s.tokenTTL
	if client.TokenTTL > 0 {
		ttl = client.TokenTTL
	}
	ttl = min(ttl, s.maxTokenTTL)
	if fed != nil {
		if ttl, e = federatedTTL(ttl, fed, now); e != nil {
			return none, client, e
		}
		if fed.Policy.SingleUse {
			if e := s.firstUse(r, fed, via); e != nil {
				return none, client, e
			}
		}
	}
	buf := getBodyBuffer() // the claims, until signed
	payload, err := s.claims((*buf)[:0], profile, client.ID, aud, scope, jkt, x5t, now, ttl)
	if err != nil {
		putBodyBuffer(buf)
		return none, client, s.unavailable(r, "claims", err)
	}
	*buf = payload[:0]
	if fed != nil {
		payload = withActor(payload, fed)
	}
	typ := "at+jwt"
	if profile == jwtauth.ProfileAuth0 {
		typ = "JWT"
	}
	tok, kid, err := s.cfg.Signer.Sign(typ, payload)
	putBodyBuffer(buf)
	if err != nil {
		return none, client, s.unavailable(r, "signer", err)
	}
	iss := issued{token: tok, kid: kid, ttl: ttl, scope: scope, audience: aud, profile: profile, rate: d, jkt: jkt, quota: quota}
	if via == viaTokenExchange {
		iss.issuedTokenType = TokenTypeAccessToken
	}
	return iss, client, nil
}

// checkDPoP verifies the request's DPoP proof, when the server accepts
// DPoP and the request has one, for POST to the token endpoint's URL
// under the issuer (never the Host header), and returns the proof key's
// thumbprint to bind the token to; "" (a Bearer token) without a proof.
// A client that requires DPoP (RFC 9449 section 5.2,
// dpop_bound_access_tokens) is refused without a proof, and refused on a
// server that does not accept DPoP, rather than getting a Bearer token.
func (s *Server) checkDPoP(r *http.Request, client *store.Client) (string, *Error) {
	proofs := r.Header[hdrDPoP]
	if client.RequireDPoP && s.cfg.DPoP == nil {
		return "", &Error{Status: http.StatusBadRequest, Code: CodeUnauthorizedClient, Reason: "dpop_unsupported",
			Description: "the client requires DPoP, which this server does not accept"}
	}
	if client.RequireDPoP && len(proofs) == 0 {
		return "", &Error{Status: http.StatusBadRequest, Code: CodeInvalidDPoPProof, Reason: "dpop_required",
			Description: "the client requires DPoP: the token request needs a DPoP proof"}
	}
	if s.cfg.DPoP == nil || len(proofs) == 0 {
		return "", nil
	}
	p, err := s.cfg.DPoP.Verify(r.Context(), jwtauth.DPoPRequest{
		Proofs: proofs, Method: r.Method, URL: s.endpoint("/oauth/token"),
	})
	if err == nil {
		return p.JKT, nil
	}
	var ce *m2m.CredentialError
	if !errors.As(err, &ce) {
		return "", s.unavailable(r, "dpop", err)
	}
	if ce.Reason == m2m.ReasonUseDPoPNonce {
		nonce, err := s.cfg.DPoP.Nonce(r.Context())
		if err != nil {
			return "", s.unavailable(r, "dpop nonce", err)
		}
		return "", &Error{Status: http.StatusBadRequest, Code: CodeUseDPoPNonce, Reason: "use_dpop_nonce",
			Description: ce.Description, dpopNonce: nonce}
	}
	reason := "invalid_dpop_proof"
	if inner, ok := ce.Err.(*m2m.CredentialError); ok {
		reason = "dpop_" + string(inner.Reason)
	}
	return "", &Error{Status: http.StatusBadRequest, Code: CodeInvalidDPoPProof, Reason: reason, Description: ce.Description}
}

// authenticate checks the client credentials of tr (client_secret_basic or
// client_secret_post) and refuses a disabled client. The token,
// introspection and revocation endpoints share it.
//
// Failures are throttled per client id and address together, checked
// before the secret is compared: a burst of wrong secrets for one id from
// one place gets FailureLimit comparisons. They are also counted per
// address, but that budget never refuses a correct secret: client secrets
// are server-generated 256-bit values that no one can guess online, so a
// per-address lockout would protect nothing and would let one
// misbehaving client behind a NAT or proxy lock out every other client
// there. An address over its budget only has its further failures
// answered 429 with Retry-After instead of 401, so that a misconfigured
// client backs off.
func (s *Server) authenticate(r *http.Request, tr *TokenRequest) (*store.Client, *Error) {
	ctx := r.Context()
	if tr.AuthMethod == authPKJWT {
		return s.authenticateAssertion(r, tr)
	}
	if tr.AuthMethod == authTLS && s.cfg.MutualTLS != nil {
		return s.authenticateCertificate(r, tr)
	}
	basic := tr.AuthMethod == authBasic
	if tr.AuthMethod == authNone || tr.ClientID == "" {
		return nil, &Error{Status: http.StatusUnauthorized, Code: CodeInvalidClient, Reason: "missing_credentials",
			Description: "client authentication is required", Basic: basic}
	}
	addr := s.addrKey(r)
	now := s.now()
	client, err := s.clients.get(ctx, tr.ClientID, now)
	if err != nil {
		return nil, s.unavailable(r, "store", err)
	}
	passed, e := s.throttledCheck(r, addr, tr.ClientID, func() bool {
		if compareHook != nil {
			compareHook()
		}
		return secretMatches(client, tr.ClientSecret, now)
	})
	if e != nil {
		return nil, e
	}
	if !passed {
		reason := "bad_secret"
		switch {
		case client == nil:
			reason = "unknown_client"
		case !client.UsesSecret():
			reason = "wrong_auth_method" // a private_key_jwt client has no secret
		}
		return nil, &Error{Status: http.StatusUnauthorized, Code: CodeInvalidClient, Reason: reason,
			Description: "client authentication failed", Basic: basic, knownClient: client != nil}
	}
	if client.AuthMethod != "" && client.AuthMethod != tr.AuthMethod {
		// The right secret, sent the way the client is not registered for
		// (client_secret_basic or client_secret_post only).
		return nil, &Error{Status: http.StatusUnauthorized, Code: CodeInvalidClient, Reason: "wrong_auth_method",
			Description: "client authentication failed", Basic: basic, knownClient: true}
	}
	if client.Disabled {
		return nil, errClientDisabled()
	}
	return client, nil
}

// throttledCheck runs check, the comparison of a client's credential,
// under the failure throttle of client id and address: it is refused 429
// without running check when the id has failed too often from addr, and
// a failed check is counted per id and per address (an address over its
// budget gets 429 instead of its 401). It returns whether check passed,
// or the error to answer.
func (s *Server) throttledCheck(r *http.Request, addr, clientID string, check func() bool) (bool, *Error) {
	ctx := r.Context()
	idKey := "authfail:client:" + addr + " " + clientID
	// Hold idKey's lock from the check to the recorded failure: the check
	// only peeks, so concurrent wrong secrets would otherwise all pass it
	// before the first failure is counted.
	held := s.guesses.Hold(idKey)
	defer held.Unlock()
	d, err := s.limiter.Take(ctx, idKey, s.failures, 0)
	if err != nil {
		return false, s.unavailable(r, "limiter", err)
	}
	if !d.Allowed {
		s.metrics.rateLimited.WithLabelValues("failures").Inc()
		return false, throttled(d.RetryAfter)
	}
	if check() {
		return true, nil
	}
	if _, err := s.limiter.Take(ctx, idKey, s.failures, 1); err != nil {
		return false, s.unavailable(r, "limiter", err)
	}
	da, err := s.limiter.Take(ctx, "authfail:addr:"+addr, s.failures, 1)
	if err != nil {
		return false, s.unavailable(r, "limiter", err)
	}
	if !da.Allowed {
		s.metrics.rateLimited.WithLabelValues("failures").Inc()
		return false, throttled(da.RetryAfter)
	}
	return false, nil
}

func errClientDisabled() *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeUnauthorizedClient, Reason: "client_disabled",
		Description: "the client is disabled", knownClient: true}
}

// authenticateAssertion authenticates a private_key_jwt request through
// [ClientAssertions]: every refusal is invalid_client with a fixed
// description (the detail goes to the log, reason assertion_REASON); a
// store or replay cache failure is 503. The client id of tr becomes the
// assertion's client once it names a registered one, so that the refusal
// log shows it.
func (s *Server) authenticateAssertion(r *http.Request, tr *TokenRequest) (*store.Client, *Error) {
	ctx := r.Context()
	now := s.now()
	lookup := func(ctx context.Context, id string) (*store.Client, error) { return s.clients.get(ctx, id, now) }
	client, err := s.assertions.Authenticate(ctx, tr.ClientAssertionType, tr.ClientAssertion, tr.ClientID, lookup)
	var ae *AssertionError
	if errors.As(err, &ae) {
		if ae.ClientID != "" {
			tr.ClientID = ae.ClientID
		}
		return nil, &Error{Status: http.StatusUnauthorized, Code: CodeInvalidClient, Reason: "assertion_" + ae.Reason,
			Description: "client authentication failed", knownClient: ae.ClientID != ""}
	}
	if err != nil {
		return nil, s.unavailable(r, "client_assertion", err)
	}
	tr.ClientID = client.ID
	if client.Disabled {
		return nil, errClientDisabled()
	}
	return client, nil
}

// compareHook, when set by a test, is called before each secret comparison.
var compareHook func()

func throttled(retry time.Duration) *Error {
	return &Error{Status: http.StatusTooManyRequests, Code: CodeTooManyRequests, Reason: "auth_throttled",
		Description: "too many failed authentication attempts; retry later", RetryAfter: retry}
}

// addrKey is the key failed authentication is counted under for the
// client address of r: clientaddr.Key of the address (IPv6 per /64), read
// from proxy headers only when the peer is one of Config.TrustedProxies.
func (s *Server) addrKey(r *http.Request) string {
	return s.cfg.TrustedProxies.ThrottleKey(r)
}

// clientAddr is the client address of r as logs show it.
func (s *Server) clientAddr(r *http.Request) string {
	return s.cfg.TrustedProxies.ClientAddr(r).String()
}

func (s *Server) unavailable(r *http.Request, what string, err error) *Error {
	s.log.LogAttrs(r.Context(), slog.LevelError, "authserver: token request failed",
		slog.String("component", what), logattr.Error(err))
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Reason: what + "_error",
		Description: "the token service is temporarily unavailable", RetryAfter: time.Second}
}

// audience picks the token's audience: "audience" (Auth0) or "resource"
// (RFC 8707; an absolute URI without fragment), which must agree when both
// are given, or the client's first audience when neither is. The client
// must be granted it.
func audience(c *store.Client, tr *TokenRequest) (string, *Error) {
	aud := tr.Audience
	if tr.Resource != "" {
		u, err := url.Parse(tr.Resource)
		if err != nil || !u.IsAbs() || u.Fragment != "" {
			return "", &Error{Status: http.StatusBadRequest, Code: CodeInvalidTarget, Reason: "bad_resource",
				Description: "resource must be an absolute URI without a fragment"}
		}
		if aud != "" && aud != tr.Resource {
			return "", &Error{Status: http.StatusBadRequest, Code: CodeInvalidTarget, Reason: "audience_resource_mismatch",
				Description: "audience and resource name different targets"}
		}
		aud = tr.Resource
	}
	if aud == "" {
		if len(c.Audiences) == 0 {
			return "", &Error{Status: http.StatusForbidden, Code: CodeAccessDenied, Reason: "no_audience",
				Description: "the client is not granted any audience"}
		}
		return c.Audiences[0], nil
	}
	if !allowsAudience(c, aud) {
		return "", &Error{Status: http.StatusForbidden, Code: CodeAccessDenied, Reason: "audience_not_granted",
			Description: "Client is not authorized to access " + strconv.Quote(aud) + "."}
	}
	return aud, nil
}

// grantScope checks the requested scopes (RFC 6749 section 3.3, read with
// m2m.ParseScope, the one scope grammar of m2m) against the client's, and
// returns the granted scope string: the request's scopes in its order
// without repeats, or all the client's scopes when none was requested (as
// Auth0 does).
func grantScope(c *store.Client, tr *TokenRequest) (string, *Error) {
	requested, err := m2m.ParseScope(tr.Scope)
	if err != nil {
		return "", &Error{Status: http.StatusBadRequest, Code: CodeInvalidScope, Reason: "bad_scope", Description: "malformed scope"}
	}
	if len(requested) == 0 {
		return m2m.FormatScope(c.Scopes), nil
	}
	for _, sc := range requested {
		if !slices.Contains(c.Scopes, sc) {
			return "", &Error{Status: http.StatusBadRequest, Code: CodeInvalidScope, Reason: "scope_not_granted",
				Description: "scope " + strconv.Quote(sc) + " is not granted to the client"}
		}
	}
	return m2m.FormatScope(requested), nil
}

// checkRecord refuses to issue a token from a client record whose scopes
// are not RFC 6749 scope tokens (a record written before validation
// existed, or by hand): such a scope would mean different things to
// different verifiers. The operator sees the problem in the log.
func (s *Server) checkRecord(r *http.Request, c *store.Client) *Error {
	for _, sc := range c.Scopes {
		if !m2m.ValidScopeToken(sc) {
			s.log.LogAttrs(r.Context(), slog.LevelError, "authserver: client record has a malformed scope; no token issued",
				logattr.String("client_id", c.ID))
			return &Error{Status: http.StatusInternalServerError, Code: CodeServerError, Reason: "bad_client_record",
				Description: "the client's record is invalid; ask the operator"}
		}
	}
	return nil
}

func (s *Server) profileFor(c *store.Client, aud string) jwtauth.Profile {
	if p := jwtauth.Profile(c.Profile); p != "" && validProfile(p) {
		return p
	}
	if p, ok := s.cfg.AudienceProfiles[aud]; ok {
		return p
	}
	if s.cfg.Profile != "" {
		return s.cfg.Profile
	}
	return jwtauth.ProfileRFC9068
}

// claims appends to b the JWT claims set of profile, built by hand: it is
// on the hot path and its shape is fixed.
func (s *Server) claims(b []byte, profile jwtauth.Profile, clientID, aud, scope, jkt, x5t string, now time.Time, ttl time.Duration) ([]byte, error) {
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return nil, err
	}
	iat := now.Unix()
	exp := now.Add(ttl).Unix()
	if profile == jwtauth.ProfileAuth0 {
		b = append(b, `{"iss":`...)
		b = jsonstr.Append(b, s.auth0Issuer)
		b = append(b, `,"sub":`...)
		b = jsonstr.Append(b, clientID)
		b = append(b[:len(b)-1], `@clients"`...) // clientID+"@clients", escaped alike
	} else {
		b = append(b, `{"iss":`...)
		b = jsonstr.Append(b, s.issuer)
		b = append(b, `,"sub":`...)
		b = jsonstr.Append(b, clientID)
	}
	b = append(b, `,"aud":`...)
	b = jsonstr.Append(b, aud)
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, iat, 10)
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, exp, 10)
	b = append(b, `,"jti":"`...)
	b = base64.RawURLEncoding.AppendEncode(b, jti[:])
	b = append(b, '"')
	if scope != "" || profile == jwtauth.ProfileAuth0 {
		b = append(b, `,"scope":`...)
		b = jsonstr.Append(b, scope)
	}
	if profile == jwtauth.ProfileAuth0 {
		b = append(b, `,"gty":"client-credentials","azp":`...)
		b = jsonstr.Append(b, clientID)
	} else {
		b = append(b, `,"client_id":`...)
		b = jsonstr.Append(b, clientID)
	}
	switch {
	case jkt != "":
		b = append(b, `,"cnf":{"jkt":`...)
		b = jsonstr.Append(b, jkt)
		b = append(b, '}')
	case x5t != "":
		b = append(b, `,"cnf":{"x5t#S256":`...)
		b = jsonstr.Append(b, x5t)
		b = append(b, '}')
	}
	b = append(b, '}')
	return b, nil
}

// rateKeys memoizes the limiter key "token:"+id of each client id that
// got a token, so that issuing does not build it every time. Only
// authenticated client ids are added, and it is emptied when full.
var rateKeys struct {
	sync.RWMutex
	m map[string]string // client id -> "token:"+id
}

const maxRateKeys = 4096

// rateKey returns the key the token rate limit of client id is taken
// under.
func rateKey(id string) string {
	rateKeys.RLock()
	k, ok := rateKeys.m[id]
	rateKeys.RUnlock()
	if ok {
		return k
	}
	k = "token:" + id
	rateKeys.Lock()
	if rateKeys.m == nil || len(rateKeys.m) >= maxRateKeys {
		rateKeys.m = make(map[string]string)
	}
	rateKeys.m[id] = k
	rateKeys.Unlock()
	return k
}

// The rate-limit headers, in the canonical form http.Header.Set would
// give them (what goes on the wire), so that they are stored without
// canonicalizing (and allocating) the key on every response.
const (
	hdrRateLimit     = "X-Ratelimit-Limit"
	hdrRateRemaining = "X-Ratelimit-Remaining"
	hdrRateReset     = "X-Ratelimit-Reset"
)

// setRateHeaders sets the X-RateLimit-* headers of d (none when d is nil).
// The three values share one string and one slice backing array.
func setRateHeaders(h http.Header, d *ratelimit.Decision) {
	if d == nil {
		return
	}
	var buf [64]byte
	b := strconv.AppendInt(buf[:0], int64(d.Limit), 10)
	n1 := len(b)
	b = strconv.AppendInt(b, int64(d.Remaining), 10)
	n2 := len(b)
	b = strconv.AppendInt(b, ceilUnix(d.Reset), 10)
	all := string(b)
	vals := [3]string{all[:n1], all[n1:n2], all[n2:]}
	backing := vals[:]
	h[hdrRateLimit] = backing[0:1:1]
	h[hdrRateRemaining] = backing[1:2:2]
	h[hdrRateReset] = backing[2:3:3]
}

func ceilUnix(t time.Time) int64 {
	u := t.Unix()
	if t.Nanosecond() > 0 {
		u++
	}
	return u
}

// hdrDPoP is the DPoP request header (RFC 9449) in canonical form, as
// http.Header stores it: r.Header[hdrDPoP] is r.Header.Values("DPoP")
// without canonicalizing the name on every request.
const hdrDPoP = "Dpop"

// tokenHeaders are the headers of a token response, canonical: the fixed
// ones, Content-Length, then the rate-limit headers.
var tokenHeaders = [...]string{"Content-Type", "Cache-Control", "Pragma", "Content-Length", hdrRateLimit, hdrRateRemaining, hdrRateReset}

// writeToken writes the RFC 6749 section 5.1 response. The body is built
// in a pooled buffer; the headers' values share one slice backing array
// and the numbers among them one string: two allocations for seven
// values.
func (s *Server) writeToken(w http.ResponseWriter, iss *issued) {
	h := w.Header()
	buf := getBodyBuffer()
	defer putBodyBuffer(buf)
	b := append((*buf)[:0], `{"access_token":"`...)
	b = append(b, iss.token...)
	if iss.jkt != "" {
		b = append(b, `","token_type":"DPoP","expires_in":`...)
	} else {
		b = append(b, `","token_type":"Bearer","expires_in":`...)
	}
	b = strconv.AppendInt(b, int64(iss.ttl/time.Second), 10)
	if iss.scope != "" {
		b = append(b, `,"scope":`...)
		b = jsonstr.Append(b, iss.scope)
	}
	if iss.issuedTokenType != "" {
		b = append(b, `,"issued_token_type":`...)
		b = jsonstr.Append(b, iss.issuedTokenType)
	}
	b = append(b, "}\n"...)
	*buf = b[:0]

	var nb [80]byte
	nums := strconv.AppendInt(nb[:0], int64(len(b)), 10)
	n0 := len(nums)
	nums = strconv.AppendInt(nums, int64(iss.rate.Limit), 10)
	n1 := len(nums)
	nums = strconv.AppendInt(nums, int64(iss.rate.Remaining), 10)
	n2 := len(nums)
	nums = strconv.AppendInt(nums, ceilUnix(iss.rate.Reset), 10)
	all := string(nums)
	vals := make([]string, len(tokenHeaders))
	vals[0], vals[1], vals[2], vals[3] = "application/json", "no-store", "no-cache", all[:n0]
	vals[4], vals[5], vals[6] = all[n0:n1], all[n1:n2], all[n2:]
	for i, k := range tokenHeaders {
		h[k] = vals[i : i+1 : i+1]
	}
	if iss.quota != "" {
		h.Set(QuotaHeader, iss.quota)
	}
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// refuse writes e, counts it and logs it with the client id and reason.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, clientID string, start time.Time, e *Error) {
	if s.tracer != nil {
		s.traceRefused(r, clientID, e)
	}
	setRateHeaders(w.Header(), e.rate)
	s.writeError(w, e)
	s.metrics.refused.WithLabelValues(e.Code, publicReason(e.Reason)).Inc()
	s.metrics.badLatency.Observe(time.Since(start).Seconds())
	level := slog.LevelInfo
	if e.Status >= 500 {
		level = slog.LevelError
	}
	attrs := []slog.Attr{slog.String("error", e.Code), slog.String("reason", e.Reason), slog.String("remote_addr", s.clientAddr(r))}
	if clientID != "" {
		attrs = append(attrs, s.clientIDAttr(clientID, e.knownClient))
	}
	s.log.LogAttrs(r.Context(), level, "authserver: token refused", attrs...)
	s.countRefusal(r, clientID, e)
}

// clientIDAttr is how a refusal's log shows the client id a caller
// presented. Only an id that names a registered client is shown (known,
// or found in the client cache); anything else may be a secret sent in
// the wrong field, so the log gets client_id_sha256, the first 8 hex
// digits of its SHA-256 (enough to tell repeated attempts apart, far too
// little to recover a secret), and its length.
func (s *Server) clientIDAttr(id string, known bool) slog.Attr {
	if known || s.clients.known(id) {
		return slog.String("client_id", logattr.Clean(id, 64))
	}
	sum := sha256.Sum256([]byte(id))
	return slog.Group("client_id_unknown", slog.String("sha256", hex.EncodeToString(sum[:4])), slog.Int("len", len(id)))
}

// publicReason is the reason a refusal is counted under in the public
// metrics: an unknown client id and a wrong secret are one reason,
// invalid_client, so that /metrics does not tell whether an id exists
// (the log keeps the detail).
func publicReason(reason string) string {
	switch reason {
	case "unknown_client", "bad_secret", "wrong_auth_method":
		return "invalid_client"
	}
	if strings.HasPrefix(reason, "certificate_") {
		return "invalid_client"
	}
	return reason
}

// issuedCounter returns the child of m.issued for profile, resolved once
// per profile rather than looked up by label on every token.
func (m *metrics) issuedCounter(profile jwtauth.Profile) prometheus.Counter {
	i := 0
	switch profile {
	case jwtauth.ProfileRFC9068:
	case jwtauth.ProfileAuth0:
		i = 1
	default:
		return m.issued.WithLabelValues(string(profile))
	}
	if c := m.issuedBy[i].Load(); c != nil {
		return *c
	}
	c := m.issued.WithLabelValues(string(profile))
	m.issuedBy[i].Store(&c)
	return c
}
