package authserver

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/clientaddr"
	"github.com/m2mkit/m2m/federation"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/internal/logattr"
	"github.com/m2mkit/m2m/internal/tracing"
	"github.com/m2mkit/m2m/internal/vcache"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/ratelimit"
	"github.com/m2mkit/m2m/replay"
	"github.com/m2mkit/m2m/store"
)

// JWKSMaxAge is the Cache-Control max-age of the JWKS response: short, so
// that a key published as next reaches verifiers well before it signs
// and a revoked key leaves their caches within it (jwk.RemoteKeySet
// honours it).
const JWKSMaxAge = time.Minute

var jwksCacheControl = fmt.Sprintf("public, max-age=%d", int(JWKSMaxAge/time.Second))

// Defaults for the zero values of [Config].
const (
	DefaultTokenTTL    = time.Hour
	DefaultMaxTokenTTL = 24 * time.Hour
)

// DefaultRateLimit is the per-client token bucket when Config.RateLimit
// is zero: 10 tokens per second with bursts of 50. A well-behaved client
// caches its token and asks once per lifetime; the bucket only stops a
// runaway loop.
var DefaultRateLimit = ratelimit.Limit{Rate: 10, Burst: 50}

// Signer signs access tokens and publishes the keys that verify them.
// *keyring.Keyring implements it. It must be safe for concurrent use.
type Signer interface {
	// Sign returns the compact JWS of payload with header typ typ, signed
	// with the active key, and that key's id. It must not modify payload
	// or keep it after returning: the server reuses its memory.
	Sign(typ string, payload []byte) (token, kid string, err error)
	// JWKS returns the JSON Web Key Set of every published key.
	JWKS() []byte
	// PublicKeys returns the keys JWKS publishes as an immutable set of
	// typed public keys, and a version that changes whenever they change
	// (and only then). The server reads its own tokens back
	// (introspection, revocation) with them; it must not modify the set.
	PublicKeys() (keys *jwk.Set, version uint64)
}

// Config configures a [Server]. The zero value of each optional field is
// documented beside it.
type Config struct {
	// Issuer is the server's issuer identifier (RFC 8414): an absolute
	// http or https URL without query or fragment. Required. Tokens in the
	// Auth0 profile carry it with a trailing slash.
	Issuer string
	// Clients is where client records live. Required.
	Clients store.Clients
	// Signer signs tokens and serves the JWKS. Required.
	Signer Signer
	// SigningAlgorithms are advertised in the metadata (nil: ES256).
	SigningAlgorithms []string
	// Profile is the default token profile: jwtauth.ProfileRFC9068 (""
	// means it) or jwtauth.ProfileAuth0 (see [jwtauth.Profile] for the
	// claims of each). With ProfileAuth0, refusals also take Auth0's
	// shapes (401 access_denied "Unauthorized" for bad credentials).
	Profile jwtauth.Profile
	// AudienceProfiles overrides Profile for tokens for an audience; a
	// client's own Profile overrides both.
	AudienceProfiles map[string]jwtauth.Profile
	// TokenTTL is the default access-token lifetime (0: DefaultTokenTTL);
	// a client's TokenTTL overrides it.
	TokenTTL time.Duration
	// MaxTokenTTL caps every lifetime (0: DefaultMaxTokenTTL). It must not
	// exceed the keyring's MaxTokenTTL, which keeps a retired key
	// published until its last token has expired.
	MaxTokenTTL time.Duration
	// RateLimit is the per-client token bucket (zero: DefaultRateLimit); a
	// client's RateLimitPerSecond and RateLimitBurst override it.
	RateLimit ratelimit.Limit
	// FailureLimit throttles failed client authentication (zero:
	// ratelimit.DefaultFailureLimit). It bounds the secrets compared for
	// one client id from one client address: past it, requests for that
	// id from that address are answered 429 before any comparison. It
	// also counts failures per address, but that budget never refuses a
	// correct secret (secrets are 256-bit and cannot be guessed online;
	// see the token endpoint's documentation): an address over it only
	// has its further failures answered 429 instead of 401.
	FailureLimit ratelimit.Limit
	// TrustedProxies are the proxies whose Forwarded / X-Forwarded-For
	// headers name the client address that failures are counted and
	// logged under (see [clientaddr.TrustedProxies.ClientAddr]); nil means
	// the TCP peer is the client and those headers are ignored.
	TrustedProxies clientaddr.TrustedProxies
	// Limiter holds the buckets (nil: an in-memory limiter private to this
	// server). Replicas share a Redis limiter.
	Limiter ratelimit.Limiter
	// ClientCacheTTL bounds how long a client record read from Clients is
	// trusted (0: DefaultClientCacheTTL; negative: read the store on every
	// request).
	ClientCacheTTL time.Duration
	// MaxBodyBytes caps a token request body (0: DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// Ready, if set, is called by /readyz in addition to pinging Clients
	// (when it has a Ping method) and checking that the Signer publishes a
	// key.
	Ready func(ctx context.Context) error
	// AdminTokenHash is the SHA-256 digest of the admin API's bearer token
	// (see [HashSecret]). The token must be a random value of at least 128
	// bits (m2m serve generates 256): the right token is never refused
	// because others failed from the same address; failures are only
	// counted per address and answered 429 past FailureLimit. nil: no admin API (/admin/ answers 404). With
	// it, /admin/clients manages clients (list, create, show, disable,
	// enable, rotate-secret, delete), /admin/trust-policies manages trust
	// policies (when Clients implements store.TrustPolicies; else 501) and
	// POST /admin/keys/rotate rotates the signing key through KeyRotator.
	AdminTokenHash []byte
	// Revocations records revoked tokens by jti for POST /oauth/revoke and
	// POST /oauth/introspect (nil: Clients when it implements
	// store.Revocations, else no revocation endpoint, and introspection
	// checks only the client's RevokedBefore). Replicas share a Redis or
	// database one.
	Revocations store.Revocations
	// ClientAssertionReplay remembers the jti of every accepted
	// private_key_jwt client assertion until it expires (nil: an
	// in-memory cache private to this server; replicas must share one,
	// such as redisstore's, or an assertion could be replayed at another
	// replica).
	ClientAssertionReplay m2m.ReplayCache
	// ClientAssertionMaxLifetime is how far ahead of now a client
	// assertion's exp may be (0: DefaultMaxAssertionLifetime, 5 minutes;
	// at most MaxAssertionLifetimeLimit).
	ClientAssertionMaxLifetime time.Duration
	// JWKSHTTPClient fetches the jwks_uri of private_key_jwt clients (nil:
	// http.DefaultClient); each fetch is bounded by
	// DefaultJWKSFetchTimeout and jwk.DefaultMaxSetBytes.
	JWKSHTTPClient *http.Client
	// KeyRotator rotates keys for the admin API (nil: key rotation through
	// the admin API answers 501).
	KeyRotator KeyRotator
	// DPoP, when set, makes the token endpoint accept DPoP proofs
	// (RFC 9449): a request with a valid proof for POST to the token
	// endpoint gets a token bound to the proof key (cnf.jkt) with
	// token_type DPoP, a request without one a Bearer token as before,
	// and the metadata advertise dpop_signing_alg_values_supported. Its
	// Replay cache must be shared by the replicas (redisstore), and so
	// must the secret of its Nonces, if any. nil: DPoP headers are ignored.
	DPoP *jwtauth.DPoPVerifier
	// MutualTLS, when set, accepts client authentication with client
	// certificates (tls_client_auth, self_signed_tls_client_auth) and
	// binds tokens to certificates (cnf.x5t#S256, RFC 8705); see
	// [MutualTLS]. nil: client certificates are ignored, and a client
	// registered for either is refused.
	MutualTLS *MutualTLS
	// Federation, when set, lets workloads authenticate with an external
	// identity token that matches a trust policy (see package federation)
	// as the policy's client: as a client assertion of the client
	// credentials grant (an assertion whose iss is not a client id), with
	// the JWT bearer grant (RFC 7523 section 2.1) or by token exchange
	// (RFC 8693); the metadata then advertise those grants. Single-use
	// policies record each token in ClientAssertionReplay. nil: only
	// client_credentials, with private_key_jwt assertions from registered
	// clients.
	Federation *federation.Verifier
	// Usage is where per-client usage counts are flushed and read (nil:
	// Clients when it implements store.Usage, else none is kept, unless
	// SkipUsage). The token endpoint only counts in memory;
	// [Server.Run] flushes every UsageFlushInterval (0:
	// DefaultUsageFlushInterval).
	Usage              store.Usage
	UsageFlushInterval time.Duration
	// SkipUsage turns usage telemetry off (and with it quotas, which
	// count from it unless QuotaCounter is set).
	SkipUsage bool
	// QuotaCounter counts requests against client quotas across replicas
	// (nil: counted from the usage telemetry; replicas sharing Redis
	// should use redisstore's, which is exact).
	QuotaCounter QuotaCounter
	// MetricsPerClient adds the per-client series
	// m2m_client_token_requests_total{client_id,outcome} to /metrics
	// (false: none; one series per client and outcome).
	MetricsPerClient bool
	// Audit is where audit events are stored (nil: Clients when it
	// implements store.Audit, else none, unless SkipAudit).
	// AuditRetention is how long they are kept (0:
	// DefaultAuditRetention). AuditSinks receive every event as well,
	// each through a queue of AuditSinkQueue events (0:
	// DefaultAuditSinkQueue) fed by [Server.Run].
	Audit          store.Audit
	AuditRetention time.Duration
	AuditSinks     []AuditSink
	AuditSinkQueue int
	// SkipAudit turns the audit log off.
	SkipAudit bool
	// Logger receives one line per refusal (Info, with client_id and
	// reason) and per issued token (Debug). nil: discard. Secrets are
	// never logged.
	Logger *slog.Logger
	// Trace makes an OpenTelemetry span per token request (grant type,
	// the client id once it names a registered client, outcome, reason,
	// status; never a secret) through the global tracer provider of
	// go.opentelemetry.io/otel, as set when New is called. False, the
	// default, makes none and costs nothing on the token path.
	Trace bool
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Validate reports every problem with c at once.
func (c *Config) Validate() error {
	var errs []error
	if err := validateIssuer(c.Issuer); err != nil {
		errs = append(errs, err)
	}
	if c.Clients == nil {
		errs = append(errs, errors.New("authserver: Clients is required"))
	}
	if c.Signer == nil {
		errs = append(errs, errors.New("authserver: Signer is required"))
	}
	if !validProfile(c.Profile) {
		errs = append(errs, fmt.Errorf("authserver: unknown Profile %q", c.Profile))
	}
	for aud, p := range c.AudienceProfiles {
		if p == "" || !validProfile(p) {
			errs = append(errs, fmt.Errorf("authserver: unknown profile %q for audience %q", p, aud))
		}
	}
	if c.AdminTokenHash != nil && len(c.AdminTokenHash) != sha256.Size {
		errs = append(errs, errors.New("authserver: AdminTokenHash must be a SHA-256 digest"))
	}
	if c.DPoP != nil {
		if err := c.DPoP.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("authserver: DPoP: %w", err))
		}
	}
	if c.MutualTLS != nil {
		if err := c.MutualTLS.Certificates.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("authserver: MutualTLS: %w", err))
		}
	}
	if c.TokenTTL < 0 || c.MaxTokenTTL < 0 {
		errs = append(errs, errors.New("authserver: negative token lifetime"))
	}
	if c.MaxTokenTTL > 0 && c.TokenTTL > c.MaxTokenTTL {
		errs = append(errs, errors.New("authserver: TokenTTL exceeds MaxTokenTTL"))
	}
	if c.RateLimit.Rate < 0 || c.RateLimit.Burst < 0 || c.FailureLimit.Rate < 0 || c.FailureLimit.Burst < 0 {
		errs = append(errs, errors.New("authserver: negative rate limit"))
	}
	for _, r := range []float64{c.RateLimit.Rate, c.FailureLimit.Rate} {
		if math.IsNaN(r) || math.IsInf(r, 0) {
			errs = append(errs, errors.New("authserver: rate limit is not a finite number"))
			break
		}
	}
	if c.UsageFlushInterval < 0 || c.AuditRetention < 0 || c.AuditSinkQueue < 0 {
		errs = append(errs, errors.New("authserver: negative UsageFlushInterval, AuditRetention or AuditSinkQueue"))
	}
	if c.ClientAssertionMaxLifetime < 0 || c.ClientAssertionMaxLifetime > MaxAssertionLifetimeLimit {
		errs = append(errs, fmt.Errorf("authserver: ClientAssertionMaxLifetime must be 0 (the default, %s) to %s", DefaultMaxAssertionLifetime, MaxAssertionLifetimeLimit))
	}
	return errors.Join(errs...)
}

// validProfile reports whether the server issues tokens of p ("" is the
// default); it does not issue ProfileGeneric, which only verifiers read.
func validProfile(p jwtauth.Profile) bool {
	return p == "" || p == jwtauth.ProfileRFC9068 || p == jwtauth.ProfileAuth0
}

// Server is the token server. It is safe for concurrent use.
type Server struct {
	cfg         Config
	issuer      string
	auth0Issuer string
	realm       string
	basicChall  string
	auth0Errors bool
	tokenTTL    time.Duration
	maxTokenTTL time.Duration
	rate        ratelimit.Limit
	limiter     ratelimit.Limiter
	failures    ratelimit.Limit
	clients     *clientCache
	log         *slog.Logger
	metrics     *metrics
	metadata    []byte
	mux         *http.ServeMux // publicMux and adminMux together
	publicMux   *http.ServeMux
	adminMux    *http.ServeMux
	revocations store.Revocations
	assertions  *ClientAssertions
	usage       *usageRecorder // nil: no usage telemetry
	quota       QuotaCounter   // nil: quotas are not applied
	audit       *auditor       // nil: no audit log
	// guesses serializes, per client id and address, the failure check,
	// the secret comparison and the recording of a failure.
	guesses ratelimit.KeyLocks
	// tracer makes the token endpoint's spans; nil without Config.Trace.
	tracer trace.Tracer
	// own reads back the server's own tokens; introspected remembers
	// those it verified (see ownToken).
	own          *jwtauth.Validator
	introspected *vcache.Cache[*tokenInfo]
}

// New checks cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:         cfg,
		issuer:      cfg.Issuer,
		auth0Issuer: strings.TrimSuffix(cfg.Issuer, "/") + "/",
		realm:       cfg.Issuer,
		auth0Errors: cfg.Profile == jwtauth.ProfileAuth0,
		tokenTTL:    cfg.TokenTTL,
		maxTokenTTL: cfg.MaxTokenTTL,
		rate:        cfg.RateLimit,
		limiter:     cfg.Limiter,
		failures:    cfg.FailureLimit,
		log:         cfg.Logger,
		metrics:     newMetrics(),
	}
	if s.maxTokenTTL == 0 {
		s.maxTokenTTL = DefaultMaxTokenTTL
	}
	if s.tokenTTL == 0 {
		s.tokenTTL = min(DefaultTokenTTL, s.maxTokenTTL)
	}
	if s.rate == (ratelimit.Limit{}) {
		s.rate = DefaultRateLimit
	}
	if s.failures == (ratelimit.Limit{}) {
		s.failures = ratelimit.DefaultFailureLimit
	}
	if s.limiter == nil {
		s.limiter = &ratelimit.Memory{Now: cfg.Now}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Trace {
		s.tracer = tracing.Tracer()
	}
	s.own, s.introspected = s.ownTokens(), newIntrospectionCache()
	ttl := cfg.ClientCacheTTL
	if ttl == 0 {
		ttl = DefaultClientCacheTTL
	}
	s.clients = &clientCache{ttl: ttl, clients: cfg.Clients}
	replayCache := cfg.ClientAssertionReplay
	if replayCache == nil {
		replayCache = &replay.Memory{Now: cfg.Now}
	}
	s.assertions = &ClientAssertions{
		// RFC 7523 section 3: the token endpoint URL or the issuer (in
		// either spelling the server's tokens use).
		Audience:    slices.Compact([]string{s.endpoint("/oauth/token"), s.issuer, s.auth0Issuer}),
		Replay:      replayCache,
		MaxLifetime: cfg.ClientAssertionMaxLifetime,
		HTTPClient:  cfg.JWKSHTTPClient,
		Logger:      s.log,
		Now:         cfg.Now,
	}
	s.revocations = cfg.Revocations
	if s.revocations == nil {
		s.revocations, _ = cfg.Clients.(store.Revocations)
	}
	s.setupUsage()
	s.basicChall = httpauth.Challenge{Scheme: "Basic", Params: []httpauth.Param{{Name: "realm", Value: s.realm}, {Name: "charset", Value: "UTF-8"}}}.String()
	s.metadata = s.mergeMetadata(s.buildMetadata())

	s.publicMux, s.adminMux, s.mux = http.NewServeMux(), http.NewServeMux(), http.NewServeMux()
	s.publicRoutes(s.publicMux)
	s.publicRoutes(s.mux)
	for _, mux := range []*http.ServeMux{s.adminMux, s.mux} {
		mux.Handle("GET /metrics", s.metrics.handler())
		s.adminRoutes(mux)
	}
	return s, nil
}

// publicRoutes adds what the clients of the token server use: the OAuth
// endpoints, JWKS, metadata and health.
func (s *Server) publicRoutes(mux *http.ServeMux) {
	mux.HandleFunc("/oauth/token", s.handleToken)
	mux.HandleFunc("/oauth/introspect", s.handleIntrospect)
	if s.revocations != nil {
		mux.HandleFunc("/oauth/revoke", s.handleRevoke)
	}
	mux.HandleFunc("GET /.well-known/jwks.json", s.handleJWKS)
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", s.handleMetadata)
	mux.HandleFunc("GET /.well-known/openid-configuration", s.handleMetadata)
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("GET /readyz", s.handleReady)
}

// Handler returns the server's HTTP handler: [Server.PublicHandler] and
// [Server.AdminHandler] together, for a server on one address.
func (s *Server) Handler() http.Handler { return s.mux }

// PublicHandler serves only the OAuth endpoints, JWKS, metadata and
// health; the admin API and /metrics answer 404 there. Serve it with
// [Server.AdminHandler] on another address that only operators reach.
func (s *Server) PublicHandler() http.Handler { return s.publicMux }

// AdminHandler serves the admin API under /admin/ (when
// Config.AdminTokenHash is set) and /metrics; everything else answers 404.
func (s *Server) AdminHandler() http.Handler { return s.adminMux }

// ServeHTTP serves r with [Server.Handler].
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

var _ http.Handler = (*Server)(nil)

func (s *Server) now() time.Time {
	if s.cfg.Now != nil {
		return s.cfg.Now()
	}
	return time.Now()
}

func (s *Server) endpoint(path string) string {
	return strings.TrimSuffix(s.issuer, "/") + path
}

// metadataDoc is the RFC 8414 authorization server metadata, served at
// both well-known paths. It advertises only what the server does: no
// OpenID Connect fields (no ID tokens, no userinfo, no subject types),
// one grant type, the client authentication methods the token endpoint
// accepts, and no response type (there is no authorization endpoint).
type metadataDoc struct {
	Issuer                                string   `json:"issuer"`
	TokenEndpoint                         string   `json:"token_endpoint"`
	JWKSURI                               string   `json:"jwks_uri"`
	GrantTypesSupported                   []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported     []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValues     []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	ResponseTypesSupported                []string `json:"response_types_supported"`
	AccessTokenSigningAlgValues           []string `json:"access_token_signing_alg_values_supported"`
	DPoPSigningAlgValues                  []string `json:"dpop_signing_alg_values_supported,omitempty"`
	TLSClientCertificateBoundAccessTokens bool     `json:"tls_client_certificate_bound_access_tokens,omitempty"`
}

func (s *Server) buildMetadata() []byte {
	algs := s.cfg.SigningAlgorithms
	if len(algs) == 0 {
		algs = []string{"ES256"}
	}
	doc := metadataDoc{
		Issuer:                            s.issuer,
		TokenEndpoint:                     s.endpoint("/oauth/token"),
		JWKSURI:                           s.endpoint("/.well-known/jwks.json"),
		GrantTypesSupported:               s.grantTypes(),
		TokenEndpointAuthMethodsSupported: []string{authBasic, authPost, authPKJWT},
		TokenEndpointAuthSigningAlgValues: s.assertions.algorithms(),
		// No authorization endpoint: no response type is supported.
		ResponseTypesSupported:      []string{},
		AccessTokenSigningAlgValues: algs,
	}
	if s.cfg.DPoP != nil {
		doc.DPoPSigningAlgValues = s.cfg.DPoP.Algorithms
		if doc.DPoPSigningAlgValues == nil {
			doc.DPoPSigningAlgValues = jwtauth.DefaultDPoPAlgorithms
		}
	}
	s.mutualTLSMetadata(&doc)
	b, _ := json.Marshal(doc)
	return b
}

// grantTypes are the grant types the token endpoint accepts.
func (s *Server) grantTypes() []string {
	if s.cfg.Federation != nil {
		return []string{"client_credentials", GrantTypeJWTBearer, GrantTypeTokenExchange}
	}
	return []string{"client_credentials"}
}

func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=3600")
	w.Write(s.metadata)
}

func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", jwksCacheControl)
	w.Write(s.cfg.Signer.JWKS())
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

type pinger interface {
	Ping(ctx context.Context) error
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	problem := ""
	if p, ok := s.cfg.Clients.(pinger); ok {
		if err := p.Ping(ctx); err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "authserver: store not ready", logattr.Error(err))
			problem = "store unreachable"
		}
	}
	if keys, _ := s.cfg.Signer.PublicKeys(); problem == "" && keys.Len() == 0 {
		problem = "no signing key"
	}
	if problem == "" && s.cfg.Ready != nil {
		if err := s.cfg.Ready(ctx); err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "authserver: not ready", logattr.Error(err))
			problem = "not ready"
		}
	}
	if problem != "" {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": problem})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
