package jwtauth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/jwk"
)

// Defaults of a [DPoPVerifier] whose fields are zero.
const (
	// DefaultDPoPMaxAge is how old a proof's iat may be.
	DefaultDPoPMaxAge = 60 * time.Second
	// DefaultDPoPFutureSkew is how far ahead of the server's clock a
	// proof's iat may be.
	DefaultDPoPFutureSkew = 5 * time.Second
	// DefaultMaxDPoPProofBytes caps a proof before any decoding: an RSA
	// 4096 key in the header and the claims fit in well under 4 KiB.
	DefaultMaxDPoPProofBytes = 8 << 10
	// MaxDPoPJTIBytes caps a proof's jti (RFC 9449 asks for at least 96
	// bits of randomness, 16 base64url characters).
	MaxDPoPJTIBytes = 128
)

// DefaultDPoPAlgorithms are the proof algorithms a [DPoPVerifier] with no
// Algorithms accepts: the asymmetric algorithms DPoP clients use (ES256
// first: WebCrypto, Node jose, oauth4webapi and Keycloak default to it).
// RS384, RS512, PS384 and PS512 may be added through Algorithms; HMAC
// algorithms and "none" are never accepted.
var DefaultDPoPAlgorithms = []string{"ES256", "ES384", "ES512", "EdDSA", "PS256", "RS256"}

// DPoPVerifier verifies DPoP proofs (RFC 9449) on the one verification
// core: a proof is a JWT whose key is its own header's "jwk", checked by
// [Validator.VerifySignature] (size, one spelling, algorithm allow-list,
// typ "dpop+jwt", key type against the algorithm, signature), and this type
// adds the proof's own rules: htm, htu, iat window, jti once, ath, the
// thumbprint against the token's cnf.jkt, and an optional server nonce.
//
// The zero value is not usable: Replay must be set (or
// InsecureSkipReplayCheck); a misconfigured verifier refuses every proof
// with a configuration error. A DPoPVerifier is safe for concurrent use;
// do not change its fields while it is in use.
type DPoPVerifier struct {
	// Algorithms is the allow-list of proof algorithms; nil means
	// [DefaultDPoPAlgorithms]. An HMAC algorithm is a configuration error.
	Algorithms []string

	// Replay accepts each proof once: its key is the proof key's
	// thumbprint and the jti, kept until the proof's iat window closes.
	// Use a shared cache (package redisstore) when several replicas
	// verify proofs. Nil is a configuration error unless
	// InsecureSkipReplayCheck is set.
	Replay m2m.ReplayCache
	// InsecureSkipReplayCheck accepts a proof any number of times within
	// its iat window. For tests only.
	InsecureSkipReplayCheck bool

	// Nonces, when set, requires every proof to carry a nonce it issued
	// and still accepts (RFC 9449 section 8). A proof without one, or with
	// a stale one, is refused with m2m.ReasonUseDPoPNonce: answer with a
	// fresh nonce from [DPoPVerifier.Nonce] in a DPoP-Nonce header. Nil
	// means no nonce is required (a nonce the client sends is ignored).
	Nonces NonceSource

	// MaxAge is how old a proof's iat may be; zero means
	// [DefaultDPoPMaxAge]; negative is a configuration error.
	MaxAge time.Duration
	// FutureSkew is how far in the future iat may be; zero means
	// [DefaultDPoPFutureSkew] and a negative value means none at all.
	FutureSkew time.Duration
	// MaxProofBytes caps the proof before any decoding; zero means
	// [DefaultMaxDPoPProofBytes].
	MaxProofBytes int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// DPoPRequest is what a proof is checked against.
type DPoPRequest struct {
	// Proofs are the values of the request's DPoP header fields
	// (r.Header.Values("DPoP")): exactly one is accepted.
	Proofs []string
	// Method is the request's method, compared exactly with htm.
	Method string
	// URL is the public URL the request was sent to, from explicit
	// configuration ([DPoPRequestURL]), never guessed from the Host
	// header. Its query and fragment are ignored.
	URL string
	// AccessToken, when not empty, is the token presented with the proof:
	// the proof's ath must be its hash.
	AccessToken string
	// JKT, when not empty, is the thumbprint the token is bound to (its
	// cnf.jkt): the proof key's thumbprint must equal it.
	JKT string
}

// DPoPProof is a verified proof.
type DPoPProof struct {
	// JKT is the RFC 7638 SHA-256 thumbprint of the proof key, base64url:
	// the value to bind a token to (cnf.jkt).
	JKT string
	// Algorithm is the proof's alg.
	Algorithm string
	// ID is the jti; IssuedAt the iat.
	ID       string
	IssuedAt time.Time
	// Key is the proof's public key.
	Key jwk.Key
}

// DPoPRequestURL returns the URL to check a proof's htu against: the
// configured public base URL of the service (such as
// "https://api.example.com" or "https://example.com/prefix") joined with
// the escaped path of the request. The Host header is never read.
func DPoPRequestURL(base string, r *http.Request) string {
	return strings.TrimSuffix(base, "/") + r.URL.EscapedPath()
}

// dpopError is a refused proof: reason invalid_dpop_proof, with the cause
// (and its specific reason) as Err.
func dpopError(cause *m2m.CredentialError) *m2m.CredentialError {
	c := *cause // never mutate the core's value
	c.Scheme = m2m.SchemeDPoP
	return &m2m.CredentialError{Scheme: m2m.SchemeDPoP, Reason: m2m.ReasonInvalidDPoPProof,
		Description: "DPoP proof: " + c.Description, Err: &c}
}

func dpopInvalid(reason m2m.Reason, desc string) *m2m.CredentialError {
	return dpopError(m2m.Invalid(m2m.SchemeDPoP, reason, desc))
}

// Verify checks the request's DPoP proof. It returns the verified proof;
// a [*m2m.CredentialError] with scheme m2m.SchemeDPoP and reason
// m2m.ReasonInvalidDPoPProof (its Err is a CredentialError with the
// specific reason: malformed, too_large, bad_algorithm, bad_signature,
// missing_claim, expired, not_yet_valid, replayed, wrong_audience for a
// proof made for another method or URL, bad_credentials for another
// token or key) or m2m.ReasonUseDPoPNonce; or another error for a
// configuration, replay cache or nonce source failure.
//
// ECDSA proofs may be high-S: DPoP clients (WebCrypto, Node jose) do not
// normalize s, and a proof is identified by its jti, not by its bytes.
func (v *DPoPVerifier) Verify(ctx context.Context, req DPoPRequest) (*DPoPProof, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	switch len(req.Proofs) {
	case 0:
		return nil, dpopInvalid(m2m.ReasonMissing, "the request has no DPoP header")
	case 1:
	default:
		return nil, dpopInvalid(m2m.ReasonMalformed, "the request has more than one DPoP header")
	}
	proof := req.Proofs[0]
	max := v.MaxProofBytes
	if max <= 0 {
		max = DefaultMaxDPoPProofBytes
	}
	if len(proof) > max {
		return nil, dpopInvalid(m2m.ReasonTooLarge, "the proof is too large")
	}
	want, err := normalizeHTU(req.URL, true)
	if err != nil {
		return nil, fmt.Errorf("jwtauth: DPoP request URL: %w", err)
	}
	core := Validator{
		Algorithms:      v.algorithms(),
		Types:           []string{"dpop+jwt"},
		SkipIssuerCheck: true, AcceptAnyAudience: true, InsecureAllowMissingExpiry: true,
		AllowHighS:    true,
		MaxTokenBytes: max,
	}
	c, err := core.VerifySignature(ctx, proof, proofKey)
	if err != nil {
		var ce *m2m.CredentialError
		if errors.As(err, &ce) {
			return nil, dpopError(ce)
		}
		return nil, err
	}
	if c.ID == "" {
		return nil, dpopInvalid(m2m.ReasonMissingClaim, `the proof has no "jti" claim`)
	}
	if len(c.ID) > MaxDPoPJTIBytes {
		return nil, dpopInvalid(m2m.ReasonMalformed, "the proof's jti is too long")
	}
	htm, err := proofString(c, "htm")
	if err != nil {
		return nil, err
	}
	if htm != req.Method {
		return nil, dpopInvalid(m2m.ReasonWrongAudience, "the proof was made for another method (htm)")
	}
	htu, err := proofString(c, "htu")
	if err != nil {
		return nil, err
	}
	got, err := normalizeHTU(htu, false)
	if err != nil {
		return nil, dpopInvalid(m2m.ReasonMalformed, "the proof's htu is not an absolute http(s) URL without query or fragment")
	}
	if got != want {
		return nil, dpopInvalid(m2m.ReasonWrongAudience, "the proof was made for another URL (htu)")
	}
	if _, ok := c.Raw["iat"]; !ok {
		return nil, dpopInvalid(m2m.ReasonMissingClaim, `the proof has no "iat" claim`)
	}
	now := v.now()
	maxAge := v.MaxAge
	if maxAge == 0 {
		maxAge = DefaultDPoPMaxAge
	}
	if c.IssuedAt.After(now.Add(v.futureSkew())) {
		return nil, dpopInvalid(m2m.ReasonNotYetValid, "the proof was made in the future (iat)")
	}
	// iat is whole seconds: a proof made at now-maxAge-0.5s has
	// iat = now-maxAge-1s and is too old.
	expiry := c.IssuedAt.Add(maxAge)
	if expiry.Before(now) {
		return nil, dpopInvalid(m2m.ReasonExpired, "the proof is too old (iat)")
	}
	if req.AccessToken != "" {
		ath, err := proofString(c, "ath")
		if err != nil {
			return nil, err
		}
		sum := tokenDigest(req.AccessToken)
		var enc [43]byte
		base64.RawURLEncoding.Encode(enc[:], sum[:])
		if subtle.ConstantTimeCompare([]byte(ath), enc[:]) != 1 {
			return nil, dpopInvalid(m2m.ReasonBadCredentials, "the proof was made for another access token (ath)")
		}
	}
	if req.JKT != "" && subtle.ConstantTimeCompare([]byte(req.JKT), []byte(c.KeyThumbprint)) != 1 {
		return nil, dpopInvalid(m2m.ReasonBadCredentials, "the proof key is not the key the token is bound to (cnf.jkt)")
	}
	if v.Nonces != nil {
		nonce, _ := c.Raw["nonce"].(string)
		if nonce == "" {
			return nil, &m2m.CredentialError{Scheme: m2m.SchemeDPoP, Reason: m2m.ReasonUseDPoPNonce,
				Description: "the DPoP proof must carry the server's nonce"}
		}
		if err := v.Nonces.CheckNonce(ctx, nonce); err != nil {
			if errors.Is(err, ErrBadNonce) {
				return nil, &m2m.CredentialError{Scheme: m2m.SchemeDPoP, Reason: m2m.ReasonUseDPoPNonce,
					Description: "the DPoP proof's nonce is stale or unknown", Err: err}
			}
			return nil, fmt.Errorf("jwtauth: checking the DPoP nonce: %w", err)
		}
	}
	if !v.InsecureSkipReplayCheck {
		// Kept one second past the window: iat is truncated to seconds.
		first, err := v.Replay.Use(ctx, "dpop:"+c.KeyThumbprint+":"+c.ID, expiry.Add(time.Second))
		if err != nil {
			return nil, fmt.Errorf("jwtauth: DPoP replay cache: %w", err)
		}
		if !first {
			return nil, dpopInvalid(m2m.ReasonReplayed, "the proof was used before (jti)")
		}
	}
	p := &DPoPProof{JKT: c.KeyThumbprint, Algorithm: c.Header.Alg, ID: c.ID, IssuedAt: c.IssuedAt}
	if k, err := cachedProofKey(c.Header.JWK); err == nil {
		p.Key = *k
	}
	return p, nil
}

// Nonce returns a fresh nonce for a DPoP-Nonce header, or "" when the
// verifier requires none.
func (v *DPoPVerifier) Nonce(ctx context.Context) (string, error) {
	if v.Nonces == nil {
		return "", nil
	}
	return v.Nonces.Nonce(ctx)
}

func proofString(c *Claims, name string) (string, error) {
	raw, ok := c.Raw[name]
	if !ok {
		return "", dpopInvalid(m2m.ReasonMissingClaim, fmt.Sprintf("the proof has no %q claim", name))
	}
	s, ok := raw.(string)
	if !ok || s == "" {
		return "", dpopInvalid(m2m.ReasonMalformed, fmt.Sprintf("the proof's %q claim is not a non-empty string", name))
	}
	return s, nil
}

func (v *DPoPVerifier) algorithms() []string {
	if v.Algorithms == nil {
		return DefaultDPoPAlgorithms
	}
	return v.Algorithms
}

// Validate reports every problem of v's configuration at once; nil when
// it can verify proofs.
func (v *DPoPVerifier) Validate() error {
	var problems []string
	algs := v.algorithms()
	if len(algs) == 0 {
		problems = append(problems, "no Algorithms")
	}
	for _, a := range algs {
		if !jws.Supported(a) || jws.IsHMAC(a) {
			problems = append(problems, fmt.Sprintf("algorithm %q is not an asymmetric algorithm", a))
		}
	}
	if v.Replay == nil && !v.InsecureSkipReplayCheck {
		problems = append(problems, "no Replay cache (set InsecureSkipReplayCheck to accept replays)")
	}
	if v.MaxAge < 0 {
		problems = append(problems, "negative MaxAge")
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New("jwtauth: invalid DPoPVerifier: " + strings.Join(problems, "; "))
}

func (v *DPoPVerifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *DPoPVerifier) futureSkew() time.Duration {
	switch {
	case v.FutureSkew == 0:
		return DefaultDPoPFutureSkew
	case v.FutureSkew < 0:
		return 0
	}
	return v.FutureSkew
}

// proofKey is the KeySource of a DPoP proof: the public key in its own
// header. A jwk with a private or symmetric member, of an unsupported
// type, or (for RSA) shorter than 2048 bits, is refused; one whose type
// does not fit alg is refused by the core.
var proofKey = KeyFunc(func(_ context.Context, h Header) ([]Key, error) {
	if h.JWK == "" {
		return nil, m2m.Invalid(m2m.SchemeDPoP, m2m.ReasonMalformed, `the proof has no "jwk" header`)
	}
	k, err := cachedProofKey(h.JWK)
	if err != nil {
		return nil, m2m.Invalid(m2m.SchemeDPoP, m2m.ReasonMalformed, `the proof's "jwk" header is not a public signature key`)
	}
	return []Key{{pub: k}}, nil
})

// proofKeys caches parsed proof keys by their JSON: a client signs every
// proof with the same key, so most proofs skip the JWK decoding and the
// thumbprint. Bounded, and cleared when full. Keys are immutable.
var proofKeys struct {
	sync.RWMutex
	m map[string]*jwk.Key
}

const (
	proofKeyCacheMax    = 1024
	proofKeyCacheMaxKey = 1024 // bytes of JSON; an RSA 4096 key is ~750
)

func cachedProofKey(raw string) (*jwk.Key, error) {
	proofKeys.RLock()
	k, ok := proofKeys.m[raw]
	proofKeys.RUnlock()
	if ok {
		return k, nil
	}
	k, err := jwk.ParseKey([]byte(raw))
	if err != nil {
		return nil, err
	}
	if len(raw) > proofKeyCacheMaxKey {
		return k, nil
	}
	proofKeys.Lock()
	if proofKeys.m == nil || len(proofKeys.m) >= proofKeyCacheMax {
		proofKeys.m = make(map[string]*jwk.Key)
	}
	proofKeys.m[strings.Clone(raw)] = k
	proofKeys.Unlock()
	return k, nil
}

// normalizeHTU returns the form of an htu (RFC 9449 section 4.3) two URLs
// are compared in: scheme and host in lower case, the scheme's default
// port elided (as is an empty port), an empty path as "/", the path
// otherwise exactly as sent. It refuses what is not an absolute http or
// https URL with a host, and userinfo; a query or fragment is dropped when
// stripQuery is set (the request's URL) and refused otherwise (a proof's
// htu carries none).
func normalizeHTU(s string, stripQuery bool) (string, error) {
	if len(s) > DefaultMaxDPoPProofBytes {
		return "", errors.New("URL too long")
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", errors.New("not a URL")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", errors.New("not an http or https URL")
	}
	if u.Opaque != "" || u.Host == "" || u.User != nil {
		return "", errors.New("not an absolute URL with a host and no userinfo")
	}
	if !stripQuery && (u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsRune(s, '#')) {
		return "", errors.New("a query or fragment")
	}
	host := strings.ToLower(u.Host)
	// Elide the default or an empty port; a host of "[::1]" keeps its brackets.
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		port := host[i+1:]
		if port == "" || (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
			host = host[:i]
		}
	}
	if host == "" {
		return "", errors.New("no host")
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, nil
}

// ErrBadNonce is returned by [NonceSource.CheckNonce] for a nonce it did
// not issue or no longer accepts.
var ErrBadNonce = errors.New("jwtauth: bad DPoP nonce")

// NonceSource issues and checks DPoP server nonces (RFC 9449 section 8).
// Implementations must be safe for concurrent use.
type NonceSource interface {
	// Nonce returns a nonce to send in a DPoP-Nonce header.
	Nonce(ctx context.Context) (string, error)
	// CheckNonce returns nil for a nonce it accepts, an error wrapping
	// [ErrBadNonce] for one it does not, and another error for a
	// technical failure.
	CheckNonce(ctx context.Context, nonce string) error
}
