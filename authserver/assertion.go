package authserver

import (
	"context"
	"crypto/sha256"
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

// ClientAssertionType is the client_assertion_type of a JWT client
// assertion (RFC 7523 section 2.2).
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Named defaults and bounds of [ClientAssertions].
const (
	// DefaultMaxAssertionLifetime is how far ahead of now an assertion's
	// exp may be when MaxLifetime is 0; MaxAssertionLifetimeLimit is the
	// most MaxLifetime may be set to (an assertion is a one-shot
	// credential: its jti is remembered until it expires).
	DefaultMaxAssertionLifetime = 5 * time.Minute
	MaxAssertionLifetimeLimit   = time.Hour
	// DefaultMaxAssertionBytes caps an assertion when MaxAssertionBytes
	// is 0: room for an RS256 signature over ordinary claims, far below
	// what a header or form field limit allows.
	DefaultMaxAssertionBytes = 8 << 10
	// MaxAssertionIDBytes bounds an assertion's jti, which is stored in
	// the replay cache.
	MaxAssertionIDBytes = 256
	// DefaultJWKSFetchTimeout bounds one fetch of a client's jwks_uri
	// when JWKSFetchTimeout is 0: the token request waits for it.
	DefaultJWKSFetchTimeout = 5 * time.Second
	// maxKeySetCache bounds the cached key sets (parsed JWK Sets and
	// remote key sets); past it the cache starts afresh.
	maxKeySetCache = 4096
)

// DefaultAssertionAlgorithms are the signing algorithms a client
// assertion may use when [ClientAssertions].Algorithms is empty. HMAC
// (client_secret_jwt, which needs the server to hold the secret) and
// "none" are never accepted.
var DefaultAssertionAlgorithms = []string{"RS256", "PS256", "ES256", "ES384", "EdDSA"}

// assertionTypes are the accepted typ headers of an assertion: none,
// "JWT", or the explicit type of draft-ietf-oauth-rfc7523bis. Access
// tokens (at+jwt), DPoP proofs (dpop+jwt) and other explicitly typed JWTs
// are refused, so that no other kind of token can pass for an assertion.
var assertionTypes = []string{"", "JWT", "client-authentication+jwt"}

// ClientAssertions verifies the JWT client assertions of private_key_jwt
// clients (RFC 7523 section 2.2, OpenID Connect Core section 9) through
// the one verification core, [jwtauth.Validator]: only the rules of an
// assertion are added here. An assertion is a compact JWS signed with an
// algorithm of Algorithms by a key of the client's registered JWK Set or
// of the set at its jwks_uri, whose iss and sub are both the client id,
// whose aud names one of Audience (a string or an array), whose exp is
// present and at most MaxLifetime ahead, whose iat and nbf are not in the
// future (with the core's leeway), and whose jti (at most
// [MaxAssertionIDBytes]) has not been seen from this client before: it is
// recorded in Replay until the assertion expires.
//
// ECDSA signatures in the upper half of the curve order (high-S) are
// accepted: clients sign with Go's crypto/ecdsa, Node's jose or WebCrypto,
// which do not normalize s, so half of their ES256 assertions are high-S.
// That is safe here because replay is refused by jti, not by the token's
// bytes: the second spelling (r, n-s) of an assertion carries the same
// jti.
//
// The zero value is not usable: Audience and Replay must be set. A
// ClientAssertions is safe for concurrent use; do not change its fields
// once in use.
type ClientAssertions struct {
	// Audience lists the values an assertion's aud must name one of:
	// the server's token endpoint URL and its issuer identifier. Empty is
	// a configuration error.
	Audience []string
	// Replay remembers the jti of every accepted assertion until it
	// expires (package replay in one process, package redisstore across
	// replicas). Nil is a configuration error. An error from it refuses
	// the request as a technical failure (fail closed).
	Replay m2m.ReplayCache
	// Algorithms is the allow-list of signing algorithms; empty means
	// [DefaultAssertionAlgorithms]. An HMAC algorithm or one m2m does not
	// implement is a configuration error.
	Algorithms []string
	// MaxLifetime is how far ahead of now exp may be (plus Leeway, for a
	// client whose clock is ahead); zero means
	// [DefaultMaxAssertionLifetime]. Negative or above
	// [MaxAssertionLifetimeLimit] is a configuration error.
	MaxLifetime time.Duration
	// Leeway is the clock skew allowed for exp, nbf and iat, as
	// [jwtauth.Validator].Leeway: zero means [jwtauth.DefaultLeeway],
	// [jwtauth.NoLeeway] none.
	Leeway time.Duration
	// MaxAssertionBytes caps an assertion; zero means
	// [DefaultMaxAssertionBytes].
	MaxAssertionBytes int
	// HTTPClient fetches clients' jwks_uri documents; nil means
	// http.DefaultClient. JWKSFetchTimeout bounds one fetch (zero means
	// [DefaultJWKSFetchTimeout]); the response is capped at
	// [jwk.DefaultMaxSetBytes] and refetched on an unknown kid at most
	// once per [jwk.DefaultMinRefetchInterval].
	HTTPClient       *http.Client
	JWKSFetchTimeout time.Duration
	// Logger receives one Info line per refused assertion with its
	// reason and detail (the client id only when it names a registered
	// client); nil discards them.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	mu     sync.Mutex
	sets   map[[sha256.Size]byte]*jwk.Set // parsed JWK Sets by digest
	remote map[string]*jwk.RemoteKeySet   // by jwks_uri
}

// AssertionError is a refused client assertion. The token endpoint
// answers every one with invalid_client and a fixed description; Reason
// and Detail are for the log only.
type AssertionError struct {
	// Reason is a stable, snake_case reason code (see [m2m.Reason] for
	// those shared with other credentials, and wrong_subject,
	// not_private_key_jwt, client_id_mismatch, lifetime_too_long,
	// jwks_unavailable).
	Reason string
	// Detail says what was wrong, for the operator; it never holds the
	// assertion.
	Detail string
	// ClientID is the client the assertion names, set only when it is a
	// registered client (so that a log line never shows a made-up id).
	ClientID string
}

func (e *AssertionError) Error() string {
	return "authserver: client assertion refused (" + e.Reason + "): " + e.Detail
}

// Authenticate verifies a client assertion and returns the client it
// authenticates. assertionType and assertion are the request's
// client_assertion_type and client_assertion; clientID is its client_id
// ("" when absent; when present it must equal the assertion's iss); lookup
// returns a registered client by id (nil or an error wrapping
// [store.ErrNotFound] for an unknown id).
//
// A refusal is an [*AssertionError], also logged; any other error is a
// configuration or technical failure (the store, the replay cache). A
// disabled client is returned like any other: the caller refuses it as it
// refuses a disabled client that presents its secret.
func (a *ClientAssertions) Authenticate(ctx context.Context, assertionType, assertion, clientID string,
	lookup func(ctx context.Context, id string) (*store.Client, error)) (*store.Client, error) {
	if err := a.configError(); err != nil {
		return nil, err
	}
	c, err := a.authenticate(ctx, assertionType, assertion, clientID, lookup)
	var ae *AssertionError
	if errors.As(err, &ae) {
		attrs := []slog.Attr{slog.String("reason", ae.Reason), logattr.String("detail", ae.Detail)}
		if ae.ClientID != "" {
			attrs = append(attrs, logattr.String("client_id", ae.ClientID))
		}
		a.logger().LogAttrs(ctx, slog.LevelInfo, "authserver: client assertion refused", attrs...)
	}
	return c, err
}

func (a *ClientAssertions) authenticate(ctx context.Context, assertionType, assertion, clientID string,
	lookup func(ctx context.Context, id string) (*store.Client, error)) (*store.Client, error) {
	refuse := func(reason, format string, args ...any) error {
		return &AssertionError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
	}
	if assertionType != ClientAssertionType {
		return nil, refuse(string(m2m.ReasonMalformed), "client_assertion_type is not %s", ClientAssertionType)
	}
	// Read iss, unverified, to find the client whose keys must have
	// signed; everything is then verified by the core.
	t, err := jws.Parse(assertion, a.maxBytes())
	if err != nil {
		if errors.Is(err, jws.ErrTooLarge) {
			return nil, refuse(string(m2m.ReasonTooLarge), "the assertion is larger than %d bytes", a.maxBytes())
		}
		return nil, refuse(string(m2m.ReasonMalformed), "the assertion is not a well-formed compact JWS")
	}
	unverified, err := jwtauth.ParseClaims(t.Payload)
	if err != nil {
		return nil, refuse(string(m2m.ReasonMalformed), "the assertion's claims are not a valid JWT claims set")
	}
	iss := unverified.Issuer
	if !store.ValidClientID(iss) {
		return nil, refuse(string(m2m.ReasonWrongIssuer), "the assertion's iss is not a client id")
	}
	if clientID != "" && clientID != iss {
		return nil, refuse("client_id_mismatch", "client_id differs from the assertion's iss")
	}
	client, err := lookup(ctx, iss)
	if errors.Is(err, store.ErrNotFound) {
		client, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("authserver: looking up the assertion's client: %w", err)
	}
	if client == nil {
		return nil, refuse(string(m2m.ReasonWrongIssuer), "the assertion's iss names no registered client")
	}
	refuseKnown := func(reason, format string, args ...any) error {
		return &AssertionError{Reason: reason, Detail: fmt.Sprintf(format, args...), ClientID: client.ID}
	}
	if client.AuthMethod != store.AuthMethodPrivateKeyJWT {
		return nil, refuseKnown("not_private_key_jwt", "the client authenticates with a secret, not private_key_jwt")
	}
	keys, err := a.keySource(client)
	if err != nil {
		return nil, refuseKnown("jwks_unavailable", "the client's registered JWK Set is not usable: %v", err)
	}
	v := jwtauth.Validator{
		Algorithms:     a.algorithms(),
		Issuer:         client.ID,
		Audience:       a.Audience,
		Types:          assertionTypes,
		RequiredClaims: []string{"sub", "jti"},
		AllowHighS:     true, // replay is refused by jti: see the type's doc
		Leeway:         a.Leeway,
		MaxTokenBytes:  a.maxBytes(),
		Now:            a.Now,
	}
	claims, err := v.Verify(ctx, assertion, keys)
	if err != nil {
		var ce *m2m.CredentialError
		if errors.As(err, &ce) {
			return nil, refuseKnown(string(ce.Reason), "%s", ce.Description)
		}
		if client.JWKSURI != "" {
			// The client's key endpoint failed: its problem, a clean
			// refusal (the fetch is bounded in time and size).
			return nil, refuseKnown("jwks_unavailable", "the client's jwks_uri could not be fetched: %v", err)
		}
		return nil, err
	}
	if claims.Subject != client.ID {
		return nil, refuseKnown("wrong_subject", "the assertion's sub is not its iss (the client id)")
	}
	now := a.now()
	if claims.ExpiresAt.Sub(now) > a.maxLifetime()+a.leeway() {
		return nil, refuseKnown("lifetime_too_long", "the assertion expires more than %s ahead", a.maxLifetime())
	}
	if claims.ID == "" || len(claims.ID) > MaxAssertionIDBytes {
		return nil, refuseKnown(string(m2m.ReasonMalformed), "the assertion's jti must be 1 to %d bytes", MaxAssertionIDBytes)
	}
	// The client id has no ':' (store.ValidClientID), so the key is
	// unambiguous. The entry lives until the assertion can no longer be
	// accepted: its exp plus the leeway the core allowed.
	first, err := a.Replay.Use(ctx, "client_assertion:"+client.ID+":"+claims.ID, claims.ExpiresAt.Add(a.leeway()))
	if err != nil {
		return nil, fmt.Errorf("authserver: replay cache: %w", err)
	}
	if !first {
		return nil, refuseKnown(string(m2m.ReasonReplayed), "the assertion's jti was used before")
	}
	return client, nil
}

// keySource returns the keys of a private_key_jwt client: its registered
// JWK Set (parsed once per distinct document) or the set at its jwks_uri
// (one cached [jwk.RemoteKeySet] per URL).
func (a *ClientAssertions) keySource(c *store.Client) (jwtauth.KeySource, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c.JWKSURI != "" {
		if err := store.ValidateJWKSURI(c.JWKSURI); err != nil {
			return nil, err
		}
		ks, ok := a.remote[c.JWKSURI]
		if !ok {
			if a.remote == nil || len(a.remote) >= maxKeySetCache {
				a.remote = make(map[string]*jwk.RemoteKeySet)
			}
			ks = &jwk.RemoteKeySet{URL: c.JWKSURI, HTTPClient: a.HTTPClient, FetchTimeout: a.fetchTimeout(), Now: a.Now, Logger: a.Logger}
			a.remote[c.JWKSURI] = ks
		}
		return jwtauth.PublicKeys(ks), nil
	}
	sum := sha256.Sum256(c.JWKS)
	set, ok := a.sets[sum]
	if !ok {
		// A record written before validation, or by hand, is checked
		// again: no private member, no skipped key, bounded.
		if err := store.ValidateClientJWKS(c.JWKS); err != nil {
			return nil, err
		}
		var err error
		if set, err = jwk.ParseSet(c.JWKS); err != nil {
			return nil, err
		}
		if a.sets == nil || len(a.sets) >= maxKeySetCache {
			a.sets = make(map[[sha256.Size]byte]*jwk.Set)
		}
		a.sets[sum] = set
	}
	return jwtauth.PublicKeys(jwk.NewStaticKeySet(set)), nil
}

// configError reports every problem of the configuration at once.
func (a *ClientAssertions) configError() error {
	var problems []string
	if len(a.Audience) == 0 || slices.Contains(a.Audience, "") {
		problems = append(problems, "no Audience (the token endpoint URL and the issuer)")
	}
	if a.Replay == nil {
		problems = append(problems, "no Replay cache")
	}
	for _, alg := range a.Algorithms {
		if alg == "none" || jws.IsHMAC(alg) || !jws.Supported(alg) {
			problems = append(problems, fmt.Sprintf("algorithm %q is not an asymmetric signing algorithm m2m implements", alg))
		}
	}
	if a.MaxLifetime < 0 || a.MaxLifetime > MaxAssertionLifetimeLimit {
		problems = append(problems, fmt.Sprintf("MaxLifetime must be 0 (the default, %s) to %s", DefaultMaxAssertionLifetime, MaxAssertionLifetimeLimit))
	}
	if a.MaxAssertionBytes < 0 {
		problems = append(problems, "negative MaxAssertionBytes")
	}
	if a.JWKSFetchTimeout < 0 {
		problems = append(problems, "negative JWKSFetchTimeout")
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New("authserver: invalid ClientAssertions: " + strings.Join(problems, "; "))
}

func (a *ClientAssertions) algorithms() []string {
	if len(a.Algorithms) == 0 {
		return DefaultAssertionAlgorithms
	}
	return a.Algorithms
}

func (a *ClientAssertions) maxLifetime() time.Duration {
	if a.MaxLifetime == 0 {
		return DefaultMaxAssertionLifetime
	}
	return a.MaxLifetime
}

func (a *ClientAssertions) maxBytes() int {
	if a.MaxAssertionBytes == 0 {
		return DefaultMaxAssertionBytes
	}
	return a.MaxAssertionBytes
}

func (a *ClientAssertions) fetchTimeout() time.Duration {
	if a.JWKSFetchTimeout == 0 {
		return DefaultJWKSFetchTimeout
	}
	return a.JWKSFetchTimeout
}

func (a *ClientAssertions) leeway() time.Duration {
	switch {
	case a.Leeway == 0:
		return jwtauth.DefaultLeeway
	case a.Leeway < 0:
		return 0
	}
	return a.Leeway
}

func (a *ClientAssertions) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *ClientAssertions) logger() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.New(slog.DiscardHandler)
}
