package federation

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/internal/logattr"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/store"
)

// Named defaults and bounds of a [Verifier].
const (
	// DefaultMaxTokenBytes caps an external token when
	// Config.MaxTokenBytes is 0: room for an RS4096 signature over the
	// claims of a GitHub Actions or Kubernetes token.
	DefaultMaxTokenBytes = 16 << 10
	// DefaultMaxTokenLifetime is the longest lifetime (exp - iat) of an
	// external token accepted when Config.MaxTokenLifetime is 0. A
	// token meant to live longer is refused (rule "lifetime"): stolen, it
	// would be usable for too long.
	DefaultMaxTokenLifetime = 24 * time.Hour
	// DefaultFetchTimeout bounds one fetch of a discovery document or a
	// key set when Config.FetchTimeout is 0: the request that needs the
	// keys waits for it.
	DefaultFetchTimeout = 5 * time.Second
	// DefaultMaxDocumentBytes caps a discovery document or key set when
	// Config.MaxDocumentBytes is 0.
	DefaultMaxDocumentBytes = 256 << 10
	// DefaultMinRefetchInterval is the least time between two fetches of
	// an issuer's keys caused by a token with an unknown kid (and between
	// retries after a failure), when Config.MinRefetchInterval is 0.
	DefaultMinRefetchInterval = jwk.DefaultMinRefetchInterval
	// DefaultKeyCacheLifetime is how long fetched keys (and a discovered
	// jwks_uri) are used before they are fetched again in the background,
	// when Config.KeyCacheLifetime is 0; a key set's Cache-Control
	// max-age may shorten it, never lengthen it.
	DefaultKeyCacheLifetime = 15 * time.Minute
	// MaxKeyStaleness is how long the last fetched keys of an issuer keep
	// verifying while its key endpoint fails; past it, its tokens are
	// refused (rule "keys") until a fetch succeeds.
	MaxKeyStaleness = 24 * time.Hour
	// DefaultPolicyCacheTTL is how long the policies read from the store
	// are used when Config.PolicyCacheTTL is 0: a new, changed or deleted
	// policy takes effect within this bound, the same as a client change
	// (authserver.DefaultClientCacheTTL).
	DefaultPolicyCacheTTL = 2 * time.Second
	// policyReadTimeout bounds one read of the policies from the store.
	policyReadTimeout = 5 * time.Second
)

// DefaultAlgorithms are the signing algorithms an external token may use
// when Config.Algorithms is empty. HMAC algorithms and "none" are never
// accepted: a shared secret would let this server forge the issuer's
// tokens.
var DefaultAlgorithms = []string{"RS256", "PS256", "ES256", "ES384", "EdDSA"}

// PolicySource supplies the trust policies; every [store.TrustPolicies]
// is one.
type PolicySource interface {
	// ListTrustPolicies returns every policy, ordered by name.
	ListTrustPolicies(ctx context.Context) ([]*store.TrustPolicy, error)
}

// StaticPolicies is a fixed list of policies, a [PolicySource] for
// tests and examples.
type StaticPolicies []*store.TrustPolicy

var _ PolicySource = StaticPolicies(nil)

// ListTrustPolicies returns copies of the policies, ordered by name.
func (s StaticPolicies) ListTrustPolicies(context.Context) ([]*store.TrustPolicy, error) {
	out := make([]*store.TrustPolicy, len(s))
	for i, p := range s {
		out[i] = p.Clone()
	}
	slices.SortFunc(out, func(a, b *store.TrustPolicy) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// ClientSource looks up registered clients; every [store.Clients] is
// one. It returns an error wrapping [store.ErrNotFound] for an unknown id.
type ClientSource interface {
	GetClient(ctx context.Context, id string) (*store.Client, error)
}

// Config configures a [Verifier]. Policies is required; every other zero
// value is a documented default.
type Config struct {
	// Policies supplies the trust policies. They are read again at most
	// every PolicyCacheTTL. Nil is a configuration error.
	Policies PolicySource
	// Clients looks up the client a policy maps to when several policies
	// match one token and the request names audiences (see
	// [Verifier.Verify]). Nil: several matching policies are always
	// ambiguous.
	Clients ClientSource
	// Client is the template of the HTTP client that fetches issuers'
	// discovery documents and keys. Nil means an HTTP client with the
	// system trust store (SSL_CERT_FILE works). When set, its Transport
	// must be nil (http.DefaultTransport's settings) or an
	// *http.Transport, of which a clone is used (its TLS settings, such
	// as a test CA, kept) with its dialer replaced by one that refuses
	// non-public addresses the policy does not name, and without a proxy:
	// a proxy would connect in the dialer's stead. Its Timeout,
	// CheckRedirect and Jar are not used.
	Client *http.Client
	// Algorithms is the allow-list of signing algorithms; empty means
	// [DefaultAlgorithms]. An HMAC algorithm, "none" or an algorithm m2m
	// does not implement is a configuration error.
	Algorithms []string
	// Leeway is the clock skew allowed for exp, nbf and iat, as
	// [jwtauth.Validator].Leeway: zero means [jwtauth.DefaultLeeway],
	// [jwtauth.NoLeeway] none.
	Leeway time.Duration
	// MaxTokenBytes caps a token; zero means [DefaultMaxTokenBytes].
	MaxTokenBytes int
	// MaxTokenLifetime is the longest exp - iat accepted (exp - now for
	// a token without iat); zero means [DefaultMaxTokenLifetime].
	MaxTokenLifetime time.Duration
	// FetchTimeout bounds one fetch; zero means [DefaultFetchTimeout].
	FetchTimeout time.Duration
	// MaxDocumentBytes caps a fetched document and a policy's JWK Set;
	// zero means [DefaultMaxDocumentBytes]; at most [jwk.DefaultMaxSetBytes].
	MaxDocumentBytes int64
	// MinRefetchInterval is the least time between fetches caused by
	// unknown kids or failures; zero means [DefaultMinRefetchInterval].
	MinRefetchInterval time.Duration
	// KeyCacheLifetime bounds how long fetched keys are used without a
	// refresh; zero means [DefaultKeyCacheLifetime].
	KeyCacheLifetime time.Duration
	// PolicyCacheTTL is how long policies read from Policies are used;
	// zero means [DefaultPolicyCacheTTL], negative reads them for every
	// token.
	PolicyCacheTTL time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives failed fetches of issuers' documents; nil discards
	// them. Refusals are returned, not logged: the caller logs them.
	Logger *slog.Logger
}

// Verifier verifies external workload identity tokens (a CI job's OIDC
// token, a Kubernetes service-account token, a SPIFFE JWT-SVID) against
// trust policies. It is safe for concurrent use.
type Verifier struct {
	cfg       Config
	transport *http.Transport
	policies  policyCache

	mu      sync.Mutex
	sources map[string]jwk.KeySet
}

// New checks cfg and returns its Verifier; every problem is reported at
// once. It fetches nothing.
func New(cfg Config) (*Verifier, error) {
	var problems []string
	if cfg.Policies == nil {
		problems = append(problems, "no Policies")
	}
	for _, alg := range cfg.Algorithms {
		if alg == "none" || jws.IsHMAC(alg) || !jws.Supported(alg) {
			problems = append(problems, fmt.Sprintf("algorithm %q is not an asymmetric signing algorithm m2m implements", alg))
		}
	}
	if cfg.MaxTokenBytes < 0 {
		problems = append(problems, "negative MaxTokenBytes")
	}
	if cfg.MaxTokenLifetime < 0 {
		problems = append(problems, "negative MaxTokenLifetime")
	}
	if cfg.FetchTimeout < 0 {
		problems = append(problems, "negative FetchTimeout")
	}
	if cfg.MaxDocumentBytes < 0 || cfg.MaxDocumentBytes > jwk.DefaultMaxSetBytes {
		problems = append(problems, fmt.Sprintf("MaxDocumentBytes must be 0 (the default, %d) to %d", DefaultMaxDocumentBytes, jwk.DefaultMaxSetBytes))
	}
	if cfg.MinRefetchInterval < 0 {
		problems = append(problems, "negative MinRefetchInterval")
	}
	if cfg.KeyCacheLifetime < 0 {
		problems = append(problems, "negative KeyCacheLifetime")
	}
	var transport *http.Transport
	switch {
	case cfg.Client == nil:
		transport = defaultTransport()
	case cfg.Client.Transport == nil:
		transport = http.DefaultTransport.(*http.Transport).Clone()
	default:
		t, ok := cfg.Client.Transport.(*http.Transport)
		if !ok {
			problems = append(problems, "Client.Transport is not an *http.Transport (its dialer must be guarded)")
		} else {
			transport = t.Clone()
		}
	}
	if len(problems) > 0 {
		return nil, errors.New("federation: invalid Config: " + strings.Join(problems, "; "))
	}
	cfg.Algorithms = slices.Clone(cfg.Algorithms)
	v := &Verifier{cfg: cfg, transport: transport}
	v.policies = policyCache{src: cfg.Policies, ttl: cfg.PolicyCacheTTL, prune: v.pruneSources}
	if v.policies.ttl == 0 {
		v.policies.ttl = DefaultPolicyCacheTTL
	}
	return v, nil
}

// Invalidate makes the next verification read the policies from the
// store again, so that a change made through this process applies at
// once rather than within PolicyCacheTTL.
func (v *Verifier) Invalidate() { v.policies.invalidate() }

// Match is a token accepted by a policy.
type Match struct {
	// Policy is a copy of the policy that matched.
	Policy *store.TrustPolicy
	// ClientID is the client the token authenticates as: the policy's.
	ClientID string
	// Issuer and Subject are the token's iss and sub.
	Issuer, Subject string
	// Expiry is the token's exp: the token issued for it must not outlive
	// it.
	Expiry time.Time
	// IssuedAt is the token's iat; zero when it has none.
	IssuedAt time.Time
	// JTI is the token's jti, or, when it has none, "sha256:" and the
	// base64url SHA-256 of its signed part (header and payload, not the
	// signature, so that another spelling of one ECDSA signature is the
	// same token).
	JTI string
	// ReplayKey identifies the token for a replay cache (a single-use
	// policy): the issuer and JTI, hashed, so that two issuers' jti
	// cannot collide. Remember it until Expiry plus the leeway.
	ReplayKey string
	// Claims are all the token's claims (JSON numbers as json.Number).
	// They are shared: do not modify them.
	Claims map[string]any
}

// Rule names the check that refused a token. The values are stable: they
// appear in logs and in `m2m trust test --json`.
type Rule string

// The rules, in the order they are checked for each policy.
const (
	// RuleMalformed: the token is too large, not a compact JWS, or its
	// claims are not a JWT claims set (checked once, before any policy).
	RuleMalformed Rule = "malformed"
	// RuleIssuer: the token's iss is not the policy's issuer.
	RuleIssuer Rule = "issuer"
	// RuleKeys: the issuer's keys cannot be had (discovery or key fetch
	// failed, the policy's JWK Set is unusable).
	RuleKeys Rule = "keys"
	// RuleSignature: the algorithm is not allowed, no key fits the kid,
	// or the signature does not verify.
	RuleSignature Rule = "signature"
	// RuleAudience: the token's aud names none of the policy's audiences.
	RuleAudience Rule = "audience"
	// RuleSubject: the token's sub is missing or does not match.
	RuleSubject Rule = "subject"
	// RuleClaim: a claim condition is not met (Refusal.Claim names it).
	RuleClaim Rule = "claim"
	// RuleExpiry: no exp, expired, or not yet valid (nbf or iat ahead).
	RuleExpiry Rule = "expiry"
	// RuleLifetime: the token was made to live longer than
	// MaxTokenLifetime.
	RuleLifetime Rule = "lifetime"
	// RuleAmbiguous: several policies match and the request's audiences
	// do not pick one.
	RuleAmbiguous Rule = "ambiguous"
	// RuleNoPolicy: no policy names the token's issuer.
	RuleNoPolicy Rule = "no_policy"
)

// Refusal is a token refused by the trust policies. Its Detail is for the
// operator's log (caller-controlled values in it are bounded and
// escaped); a server must answer the caller with a plain protocol error,
// never with the detail.
type Refusal struct {
	// Policy names the policy whose rule failed ("" when the refusal is
	// not one policy's: malformed, no_policy, ambiguous).
	Policy string
	// Rule is the first rule that failed.
	Rule Rule
	// Claim is the claim name of a RuleClaim refusal.
	Claim string
	// Detail says what was wrong.
	Detail string
}

func (r *Refusal) Error() string {
	var b strings.Builder
	b.WriteString("federation: token refused (")
	b.WriteString(string(r.Rule))
	b.WriteString(")")
	if r.Policy != "" {
		b.WriteString(" by policy ")
		b.WriteString(logattr.Clean(r.Policy, 0))
	}
	if r.Detail != "" {
		b.WriteString(": ")
		b.WriteString(r.Detail)
	}
	return b.String()
}

// LogValue logs the refusal as a group of policy, rule, claim and detail.
func (r *Refusal) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("rule", string(r.Rule))}
	if r.Policy != "" {
		attrs = append(attrs, logattr.String("policy", r.Policy))
	}
	if r.Claim != "" {
		attrs = append(attrs, logattr.String("claim", r.Claim))
	}
	attrs = append(attrs, slog.String("detail", logattr.Clean(r.Detail, 512)))
	return slog.GroupValue(attrs...)
}

// Report is the outcome of [Verifier.Explain]: for each policy, the
// first rule that failed, and the match or the refusal [Verifier.Verify]
// would return.
type Report struct {
	// Issuer and Subject are the token's iss and sub as it claims them
	// (unverified when no policy matched), bounded and escaped for
	// display.
	Issuer, Subject string
	// Policies has one result per policy, in the order of the store
	// (by name).
	Policies []PolicyResult
	// Match is the match Verify would return, or nil.
	Match *Match
	// Refusal is the refusal Verify would return, or nil.
	Refusal *Refusal
}

// PolicyResult is one policy's verdict on a token.
type PolicyResult struct {
	Policy   string
	ClientID string
	// Matched is set when every rule of the policy passed.
	Matched bool
	// Rule, Claim and Detail say which rule failed first, when not
	// Matched.
	Rule   Rule
	Claim  string
	Detail string
}

// Verify checks token against every policy whose Issuer equals the
// token's iss, and returns the one it matches. A policy matches when all
// of these hold, checked in this order: the signature verifies with a key
// of the policy's issuer (at its JWKSURI, found by OpenID Connect
// discovery, or its JWK Set) and an allowed algorithm; the token's aud
// names one of the policy's Audiences; its sub matches the Subject
// pattern; every claim condition's pattern matches the claim
// ([ClaimValue], [MatchPattern]); it has an exp and is neither expired
// nor ahead of time (nbf, iat), with the leeway; and exp - iat is at most
// MaxTokenLifetime.
//
// audiences are the request's audience or resource parameters. When
// exactly one policy matches it is returned, whatever audiences says (the
// token endpoint then checks them against the client as for any other
// grant). When several match, audiences pick: a policy remains when its
// client (looked up in Config.Clients) exists and accepts every one of
// audiences; exactly one must remain, or the token is refused as
// ambiguous (so are several matches with no audiences, or without
// Config.Clients).
//
// A refusal is a [*Refusal]: the furthest-reaching policy's first failed
// rule when several policies name the issuer. Any other error is a
// technical failure (the policies could not be read); a failing or
// unreachable issuer is a refusal (rule "keys"), bounded by FetchTimeout.
func (v *Verifier) Verify(ctx context.Context, token string, audiences []string) (*Match, error) {
	r, err := v.evaluate(ctx, token, audiences, false)
	if err != nil {
		return nil, err
	}
	if r.Refusal != nil {
		return nil, r.Refusal
	}
	return r.Match, nil
}

// Explain is Verify for an operator: it evaluates token against every
// policy, those of other issuers included, and reports for each the
// first rule that failed (issuer, keys, signature, audience, subject,
// claim, expiry, lifetime), with the match or refusal Verify would
// return. Its error is a technical failure only.
func (v *Verifier) Explain(ctx context.Context, token string, audiences []string) (*Report, error) {
	return v.evaluate(ctx, token, audiences, true)
}

// ruleRank orders the rules by how far a token got.
var ruleRank = map[Rule]int{
	RuleIssuer: 0, RuleKeys: 1, RuleSignature: 2, RuleAudience: 3, RuleSubject: 4,
	RuleClaim: 5, RuleExpiry: 6, RuleLifetime: 7,
}

// maxKeysDetail bounds the fetch error in a keys refusal's detail.
const maxKeysDetail = 400

// maxShown bounds a caller-controlled value in a refusal's detail.
const maxShown = 96

// shown quotes a caller-controlled value for a detail: bounded, with
// control and invisible characters escaped (logattr.Clean).
func shown(s string) string { return `"` + logattr.Clean(s, maxShown) + `"` }

func (v *Verifier) evaluate(ctx context.Context, token string, audiences []string, all bool) (*Report, error) {
	r := &Report{}
	refuse := func(rule Rule, detail string) (*Report, error) {
		r.Refusal = &Refusal{Rule: rule, Detail: detail}
		return r, nil
	}
	t, err := jws.Parse(token, v.maxTokenBytes())
	if err != nil {
		if errors.Is(err, jws.ErrTooLarge) {
			return refuse(RuleMalformed, fmt.Sprintf("the token is larger than %d bytes", v.maxTokenBytes()))
		}
		return refuse(RuleMalformed, "the token is not a well-formed compact JWS")
	}
	unverified, err := jwtauth.ParseClaims(t.Payload)
	if err != nil {
		return refuse(RuleMalformed, "the token's claims are not a valid JWT claims set")
	}
	iss := unverified.Issuer
	r.Issuer, r.Subject = logattr.Clean(iss, 0), logattr.Clean(unverified.Subject, 0)
	policies, err := v.policies.get(ctx, v.now())
	if err != nil {
		return nil, err
	}
	// One signature verification per key source, whatever the number of
	// policies that share it.
	type verified struct {
		claims *jwtauth.Claims
		rule   Rule
		detail string
	}
	bySource := map[string]verified{}
	var matches []*store.TrustPolicy
	var best *PolicyResult
	var claims *jwtauth.Claims
	for _, p := range policies {
		res := PolicyResult{Policy: p.Name, ClientID: p.ClientID}
		if iss == "" || p.Issuer != iss {
			if all {
				res.Rule, res.Detail = RuleIssuer, "the token's iss "+shown(iss)+" is not the policy's issuer"
				r.Policies = append(r.Policies, res)
			}
			continue
		}
		k := sourceKey(p)
		vr, ok := bySource[k]
		if !ok {
			vr.claims, vr.rule, vr.detail = v.verifySignature(ctx, token, p)
			bySource[k] = vr
		}
		if vr.claims == nil {
			res.Rule, res.Detail = vr.rule, vr.detail
		} else {
			res.Rule, res.Claim, res.Detail = v.checkPolicy(p, vr.claims)
		}
		if res.Rule == "" {
			res.Matched = true
			matches = append(matches, p)
			claims = vr.claims
		} else if best == nil || ruleRank[res.Rule] > ruleRank[best.Rule] {
			b := res
			best = &b
		}
		r.Policies = append(r.Policies, res)
	}
	switch {
	case len(matches) == 0 && best == nil:
		return refuse(RuleNoPolicy, "no policy names the token's issuer "+shown(iss))
	case len(matches) == 0:
		r.Refusal = &Refusal{Policy: best.Policy, Rule: best.Rule, Claim: best.Claim, Detail: best.Detail}
		return r, nil
	}
	p, err := v.pick(ctx, matches, audiences)
	if err != nil {
		var rf *Refusal
		if errors.As(err, &rf) {
			r.Refusal = rf
			return r, nil
		}
		return nil, err
	}
	r.Match = newMatch(p, claims, t.SigningInput)
	return r, nil
}

// verifySignature verifies token's signature with p's issuer keys through
// the one verification core. It returns the claims, or the failed rule
// and its detail.
func (v *Verifier) verifySignature(ctx context.Context, token string, p *store.TrustPolicy) (*jwtauth.Claims, Rule, string) {
	ks, err := v.keySource(p)
	if err != nil {
		return nil, RuleKeys, logattr.Clean(err.Error(), maxKeysDetail)
	}
	c, err := v.validator(p.Issuer).VerifySignature(ctx, token, jwtauth.PublicKeys(ks))
	if err != nil {
		var ce *m2m.CredentialError
		if errors.As(err, &ce) {
			return nil, RuleSignature, ce.Description
		}
		if ctx.Err() != nil {
			return nil, RuleKeys, "the request ended while the issuer's keys were fetched"
		}
		// The error may quote a URL of the issuer's discovery document.
		return nil, RuleKeys, "the issuer's keys could not be fetched: " +
			logattr.Clean(strings.TrimPrefix(err.Error(), "jwtauth: looking up the key: "), maxKeysDetail)
	}
	return c, "", ""
}

// validator is the core's configuration for tokens of issuer. The
// audience is the policy's to check; high-S ECDSA signatures are
// accepted because external issuers sign with libraries that do not
// normalize s, and a replay cache keys such tokens by jti or by their
// signed part, never by the signature's bytes.
func (v *Verifier) validator(issuer string) *jwtauth.Validator {
	return &jwtauth.Validator{
		Algorithms:        v.algorithms(),
		Issuer:            issuer,
		AcceptAnyAudience: true,
		AllowHighS:        true,
		Leeway:            v.cfg.Leeway,
		MaxTokenBytes:     v.maxTokenBytes(),
		Now:               v.cfg.Now,
	}
}

// checkPolicy applies p's rules after the signature: audience, subject,
// claims, expiry, lifetime. It returns the first failed rule ("" when
// all pass), the claim name of a claim rule, and the detail.
func (v *Verifier) checkPolicy(p *store.TrustPolicy, c *jwtauth.Claims) (Rule, string, string) {
	if !slices.ContainsFunc(c.Audience, func(a string) bool { return slices.Contains(p.Audiences, a) }) {
		if len(c.Audience) == 0 {
			return RuleAudience, "", "the token has no aud"
		}
		return RuleAudience, "", "the token's aud " + shownList(c.Audience) + " names none of the policy's audiences"
	}
	if c.Subject == "" {
		return RuleSubject, "", "the token has no sub"
	}
	if !MatchPattern(p.Subject, c.Subject) {
		return RuleSubject, "", "the token's sub " + shown(c.Subject) + " does not match " + shown(p.Subject)
	}
	names := make([]string, 0, len(p.Claims))
	for name := range p.Claims {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		val, ok := ClaimValue(c.Raw, name)
		if !ok {
			return RuleClaim, name, "the token has no claim " + shown(name) + " with a string, number or boolean value"
		}
		if !MatchPattern(p.Claims[name], val) {
			return RuleClaim, name, "the token's claim " + shown(name) + " is " + shown(val) + ", which does not match " + shown(p.Claims[name])
		}
	}
	if err := v.validator(p.Issuer).ValidateClaims(c); err != nil {
		var ce *m2m.CredentialError
		if errors.As(err, &ce) {
			return RuleExpiry, "", ce.Description
		}
		return RuleExpiry, "", err.Error()
	}
	start := c.IssuedAt
	if start.IsZero() {
		start = v.now()
	}
	if life := c.ExpiresAt.Sub(start); life > v.maxTokenLifetime() {
		return RuleLifetime, "", fmt.Sprintf("the token lives %s, more than %s", life.Round(time.Second), v.maxTokenLifetime())
	}
	return "", "", ""
}

func shownList(list []string) string {
	const most = 4
	parts := make([]string, 0, min(len(list), most)+1)
	for i, s := range list {
		if i == most {
			parts = append(parts, fmt.Sprintf("and %d more", len(list)-most))
			break
		}
		parts = append(parts, shown(s))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// pick chooses among matching policies as Verify documents.
func (v *Verifier) pick(ctx context.Context, matches []*store.TrustPolicy, audiences []string) (*store.TrustPolicy, error) {
	if len(matches) == 1 {
		return matches[0], nil
	}
	names := make([]string, len(matches))
	for i, p := range matches {
		names[i] = p.Name
	}
	ambiguous := func(why string) error {
		return &Refusal{Rule: RuleAmbiguous, Detail: fmt.Sprintf("policies %s all match; %s", shownList(names), why)}
	}
	if len(audiences) == 0 {
		return nil, ambiguous("the request names no audience to pick one")
	}
	if v.cfg.Clients == nil {
		return nil, ambiguous("no client store to pick one by audience")
	}
	var picked []*store.TrustPolicy
	for _, p := range matches {
		c, err := v.cfg.Clients.GetClient(ctx, p.ClientID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("federation: looking up client of policy %s: %w", logattr.Clean(p.Name, 0), err)
		}
		if !slices.ContainsFunc(audiences, func(a string) bool { return !slices.Contains(c.Audiences, a) }) {
			picked = append(picked, p)
		}
	}
	switch len(picked) {
	case 1:
		return picked[0], nil
	case 0:
		return nil, ambiguous("no policy's client accepts the requested audiences " + shownList(audiences))
	}
	return nil, ambiguous("the requested audiences " + shownList(audiences) + " do not pick one")
}

func newMatch(p *store.TrustPolicy, c *jwtauth.Claims, signingInput string) *Match {
	m := &Match{
		Policy:   p.Clone(),
		ClientID: p.ClientID,
		Issuer:   c.Issuer,
		Subject:  c.Subject,
		Expiry:   c.ExpiresAt,
		IssuedAt: c.IssuedAt,
		JTI:      c.ID,
		Claims:   c.Raw,
	}
	if m.JTI == "" {
		sum := sha256.Sum256([]byte(signingInput))
		m.JTI = "sha256:" + base64.RawURLEncoding.EncodeToString(sum[:])
	}
	h := sha256.New()
	h.Write([]byte(m.Issuer))
	h.Write([]byte{0})
	h.Write([]byte(m.JTI))
	m.ReplayKey = "federation:" + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
	return m
}

func (v *Verifier) now() time.Time {
	if v.cfg.Now != nil {
		return v.cfg.Now()
	}
	return time.Now()
}

func (v *Verifier) logger() *slog.Logger {
	if v.cfg.Logger != nil {
		return v.cfg.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (v *Verifier) algorithms() []string {
	if len(v.cfg.Algorithms) == 0 {
		return DefaultAlgorithms
	}
	return v.cfg.Algorithms
}

func (v *Verifier) maxTokenBytes() int {
	if v.cfg.MaxTokenBytes == 0 {
		return DefaultMaxTokenBytes
	}
	return v.cfg.MaxTokenBytes
}

func (v *Verifier) maxTokenLifetime() time.Duration {
	return orDefault(v.cfg.MaxTokenLifetime, DefaultMaxTokenLifetime)
}
func (v *Verifier) fetchTimeout() time.Duration {
	return orDefault(v.cfg.FetchTimeout, DefaultFetchTimeout)
}
func (v *Verifier) minRefetchInterval() time.Duration {
	return orDefault(v.cfg.MinRefetchInterval, DefaultMinRefetchInterval)
}
func (v *Verifier) keyCacheLifetime() time.Duration {
	return orDefault(v.cfg.KeyCacheLifetime, DefaultKeyCacheLifetime)
}
func (v *Verifier) maxStale() time.Duration { return max(MaxKeyStaleness, 2*v.keyCacheLifetime()) }

func (v *Verifier) maxDocumentBytes() int64 {
	if v.cfg.MaxDocumentBytes == 0 {
		return DefaultMaxDocumentBytes
	}
	return v.cfg.MaxDocumentBytes
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// policyCache keeps the policies read from the store for ttl.
type policyCache struct {
	src   PolicySource
	ttl   time.Duration
	prune func([]*store.TrustPolicy)

	mu      sync.Mutex
	list    []*store.TrustPolicy
	fetched time.Time
	valid   bool
	gen     uint64 // incremented by invalidate
	flight  *policyFlight
}

type policyFlight struct {
	done chan struct{}
	list []*store.TrustPolicy
	err  error
}

func (pc *policyCache) invalidate() {
	pc.mu.Lock()
	pc.valid = false
	pc.gen++
	pc.mu.Unlock()
}

// get returns the current policies: the cached list when it was read less
// than ttl ago, otherwise a fresh read (one read shared by concurrent
// callers, detached from any one caller's cancellation and bounded).
func (pc *policyCache) get(ctx context.Context, now time.Time) ([]*store.TrustPolicy, error) {
	pc.mu.Lock()
	if pc.valid && pc.ttl > 0 && now.Sub(pc.fetched) < pc.ttl && !now.Before(pc.fetched) {
		list := pc.list
		pc.mu.Unlock()
		return list, nil
	}
	f := pc.flight
	if f == nil {
		f = &policyFlight{done: make(chan struct{})}
		pc.flight = f
		gen := pc.gen
		go func() {
			fctx, cancel := withTimeout(ctx, policyReadTimeout, true)
			defer cancel()
			list, err := pc.src.ListTrustPolicies(fctx)
			if err != nil {
				err = fmt.Errorf("federation: reading the trust policies: %w", err)
			}
			pc.mu.Lock()
			if err == nil && gen == pc.gen {
				// A read begun before an invalidation is not kept.
				pc.list, pc.fetched, pc.valid = list, now, true
			}
			f.list, f.err = list, err
			pc.flight = nil
			close(f.done)
			pc.mu.Unlock()
			if err == nil && pc.prune != nil {
				pc.prune(list)
			}
		}()
	}
	pc.mu.Unlock()
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return f.list, f.err
}
