package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/jwk"
)

// DefaultMaxTokenBytes is the size cap of a [Validator] whose
// MaxTokenBytes is 0. Longer tokens are refused with m2m.ReasonTooLarge
// before any decoding.
const DefaultMaxTokenBytes = jws.DefaultMaxTokenBytes

// Header holds the JOSE header parameters a [KeySource] may select a key
// by.
type Header struct {
	Alg string // the signing algorithm, such as "HS256" or "ES256"
	Kid string // the key id; "" when absent
	Typ string // the token type, such as "JWT" or "at+jwt"; "" when absent
	// JWK is the raw JSON of the header's "jwk" parameter, "" when
	// absent. Only a key source made for tokens that carry their own key
	// (a DPoP proof, RFC 9449) may read it; the key sources of this
	// package never do.
	JWK string
}

// Key is one key that may verify a token's signature: an HMAC secret
// ([SecretKey]) or a public key ([PublicKey]). The zero Key verifies
// nothing. Its String method does not reveal a secret.
type Key struct {
	secret []byte
	pub    *jwk.Key // immutable once in a Key
}

// SecretKey returns the Key of an HMAC secret (HS256, HS384, HS512).
func SecretKey(s m2m.Secret) Key { return Key{secret: []byte(s)} }

// PublicKey returns the Key of a public key from a key set. It verifies
// the algorithms that fit the key ([jwk.Key.Fits]), never an HMAC.
func PublicKey(k jwk.Key) Key { return Key{pub: &k} }

// ID returns the key id ("" for a secret or an unnamed key).
func (k Key) ID() string {
	if k.pub == nil {
		return ""
	}
	return k.pub.ID
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of a public key,
// base64url; "" for a secret.
func (k Key) Thumbprint() string {
	if k.pub == nil {
		return ""
	}
	return k.pub.Thumbprint
}

// String describes the key without its material.
func (k Key) String() string {
	switch {
	case k.pub != nil:
		return fmt.Sprintf("jwtauth.Key{public kid=%q thumbprint=%s}", k.pub.ID, k.pub.Thumbprint)
	case k.secret != nil:
		return "jwtauth.Key{secret [REDACTED]}"
	}
	return "jwtauth.Key{}"
}

// GoString is String, so that %#v does not print a secret either.
func (k Key) GoString() string { return k.String() }

// fits reports whether k may verify a signature made with alg: an HMAC
// algorithm needs a non-empty secret, any other a public key of its type
// (and of its JWK "alg", when the key names one).
func (k *Key) fits(alg string) bool {
	if jws.IsHMAC(alg) {
		return len(k.secret) > 0
	}
	return k.pub != nil && k.pub.Public != nil && k.pub.Fits(alg)
}

func (k *Key) material() any {
	if k.pub != nil {
		return k.pub.Public
	}
	return k.secret
}

// KeySource supplies the keys that may verify a token, given its header.
// It is how every kind of JWT plugs its keys into [Validator.Verify]: a
// shared secret ([Secrets]), an issuer's key set at its jwks_uri
// ([PublicKeys] over a [jwk.RemoteKeySet]), the JWKS registered for one
// client (a client assertion, RFC 7523: build the source for the client
// the request names), or the key a token carries in its own header (a
// DPoP proof: a source that reads Header.JWK).
//
// TokenKeys returns the candidate keys, tried in order; no keys, or a
// [*m2m.CredentialError] with m2m.ReasonUnknownKey, for a token it has no
// key for; and another error for a technical failure (a key set that
// cannot be fetched). Implementations must be safe for concurrent use.
type KeySource interface {
	TokenKeys(ctx context.Context, h Header) ([]Key, error)
}

// KeyFunc adapts a function to a [KeySource].
type KeyFunc func(ctx context.Context, h Header) ([]Key, error)

// TokenKeys calls f.
func (f KeyFunc) TokenKeys(ctx context.Context, h Header) ([]Key, error) { return f(ctx, h) }

var _ KeySource = KeyFunc(nil)

// StaticKeys returns a KeySource that offers keys for every token.
func StaticKeys(keys ...Key) KeySource { return staticKeys(slices.Clone(keys)) }

type staticKeys []Key

func (s staticKeys) TokenKeys(context.Context, Header) ([]Key, error) { return s, nil }

// Secrets returns a KeySource that offers the HMAC secrets for every
// token, in order (the current secret first, then its fallbacks).
func Secrets(secrets ...m2m.Secret) KeySource {
	keys := make([]Key, len(secrets))
	for i, s := range secrets {
		keys[i] = SecretKey(s)
	}
	return staticKeys(keys)
}

// PublicKeys returns a KeySource of the keys of ks for the token's kid
// (see [jwk.Set.Lookup]: a token without kid gets a key only from a set
// of one unnamed key). An HMAC algorithm never fits them.
func PublicKeys(ks jwk.KeySet) KeySource {
	return KeyFunc(func(ctx context.Context, h Header) ([]Key, error) {
		found, err := ks.Lookup(ctx, h.Kid)
		if err != nil || len(found) == 0 {
			return nil, err
		}
		keys := make([]Key, len(found))
		for i := range found {
			keys[i] = Key{pub: &found[i]} // found is the set's: immutable
		}
		return keys, nil
	})
}

// Validator is the one verification core of every JWT m2m reads: device
// tokens, access tokens, the token server's introspection, and every
// later kind (client assertions, DPoP proofs, tokens of other issuers),
// which add only their own claim rules on top of [Validator.Verify]. Its
// zero value is not usable: Algorithms must be set, and Issuer and
// Audience must be set or explicitly skipped; a misconfigured Validator
// refuses every token with a configuration error (a technical failure,
// never an acceptance).
//
// A Validator is safe for concurrent use; do not change its fields while
// it is in use.
type Validator struct {
	// Algorithms is the allow-list of header "alg" values, such as
	// []string{"HS256"} or []string{"ES256", "EdDSA"}. "none" is never
	// accepted. Empty is a configuration error.
	Algorithms []string

	// Issuer is the required "iss" claim. Empty is a configuration error
	// unless SkipIssuerCheck is set.
	Issuer string
	// SkipIssuerCheck accepts any issuer (or none), as device tokens that
	// are issued and verified by the same program do, or as a caller that
	// checks "iss" itself against several issuers.
	SkipIssuerCheck bool

	// Audience lists the accepted audiences; a token is accepted when its
	// "aud" (a string or an array) contains one of them. Empty is a
	// configuration error unless SkipAudienceCheck or AcceptAnyAudience
	// is set.
	Audience []string
	// SkipAudienceCheck is for tokens that carry no audience. A token that
	// does name an audience is still refused (wrong_audience), as PyJWT
	// does: it was meant for some other service.
	SkipAudienceCheck bool
	// AcceptAnyAudience accepts a token whatever its audience, or none:
	// for an issuer reading back its own tokens (introspection), which
	// reports the audience rather than checking it.
	AcceptAnyAudience bool

	// Types, if not empty, lists the accepted "typ" headers, compared
	// case-insensitively and with an "application/" prefix ignored
	// (RFC 8725 section 3.11), such as []string{"at+jwt"} for RFC 9068
	// access tokens. Empty accepts any typ.
	Types []string

	// RequiredClaims lists claims that must be present and not null,
	// besides "exp".
	RequiredClaims []string
	// InsecureAllowMissingExpiry accepts tokens without "exp" (PyJWT's
	// default); such a token is valid forever.
	InsecureAllowMissingExpiry bool

	// AllowHighS accepts ECDSA (ES256/384/512) signatures whose s is in
	// the upper half of the curve order. False (the default) refuses
	// them: an ECDSA signature (r, s) is as valid as (r, n-s), so a
	// verifier that accepts both lets anyone derive a second spelling of
	// every token, which defeats caches and replay checks keyed by the
	// token's bytes. m2m's own signers always emit low-S. Set it only for
	// tokens of other signers (Go's crypto/ecdsa, Node's jose and
	// WebCrypto, and OpenSSL do not normalize s, so about half of their
	// ES* signatures are high-S) whose replay protection does not rely on
	// the bytes: a JWT access token of another issuer, a client assertion
	// or a DPoP proof, all identified by their jti.
	AllowHighS bool

	// Leeway is the clock skew allowed for exp, nbf and iat; zero means
	// [DefaultLeeway] and [NoLeeway] (or any negative value) means none.
	Leeway time.Duration
	// MaxTokenBytes caps the token size; zero means
	// [DefaultMaxTokenBytes].
	MaxTokenBytes int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Verify runs the one verification pipeline: it checks the size, parses
// the token (one spelling only: a byte outside the base64url alphabet and
// the two dots, such as a line break, non-canonical base64url in any
// segment, or a high-S ECDSA signature unless AllowHighS, is refused as
// malformed or bad_signature), checks its algorithm
// against the allow-list and its typ against Types, asks keys for the
// candidate keys, verifies the signature with the first key that fits the
// algorithm and verifies ([Validator.VerifySignature]), and validates the
// registered claims ([Validator.ValidateClaims]).
//
// It returns the claims of a valid token (with the id and thumbprint of
// the key that verified it), a [*m2m.CredentialError] (scheme
// m2m.SchemeBearer) for a refused one, and another error for a
// configuration or key-lookup failure.
func (v *Validator) Verify(ctx context.Context, token string, keys KeySource) (*Claims, error) {
	c, err := v.VerifySignature(ctx, token, keys)
	if err != nil {
		return nil, err
	}
	if err := v.ValidateClaims(c); err != nil {
		return nil, err
	}
	return c, nil
}

// VerifySignature is [Validator.Verify] without [Validator.ValidateClaims]:
// size, spelling, algorithm, typ, key and signature are checked and the
// claims parsed with their RFC 7519 types, but not the times, issuer,
// audience or required claims. It is for a caller that must read a token
// whatever its age, such as a command that revokes it (an expired token
// needs no revocation); it must call ValidateClaims, or check what it
// relies on itself, before trusting the token.
func (v *Validator) VerifySignature(ctx context.Context, token string, keys KeySource) (*Claims, error) {
	if err := v.configError(); err != nil {
		return nil, err
	}
	if keys == nil {
		return nil, errors.New("jwtauth: Verify without a KeySource")
	}
	t, err := jws.Parse(token, v.MaxTokenBytes)
	if err != nil {
		return nil, jwsError(err)
	}
	h := Header{Alg: t.Header.Alg, Kid: t.Header.Kid, Typ: t.Header.Typ, JWK: t.Header.JWK}
	if !slices.Contains(v.Algorithms, h.Alg) {
		return nil, m2m.Invalid(m2m.SchemeBearer, m2m.ReasonBadAlgorithm, "the token's algorithm is not allowed")
	}
	if len(v.Types) > 0 && !slices.ContainsFunc(v.Types, func(want string) bool { return typeMatches(h.Typ, want) }) {
		return nil, malformed("the token has the wrong type (typ)")
	}
	ks, err := keys.TokenKeys(ctx, h)
	if err != nil {
		var ce *m2m.CredentialError
		if errors.As(err, &ce) {
			return nil, err
		}
		return nil, fmt.Errorf("jwtauth: looking up the key: %w", err)
	}
	if len(ks) == 0 {
		if h.Kid == "" {
			return nil, m2m.Invalid(m2m.SchemeBearer, m2m.ReasonUnknownKey, "no key for this token (it has no key id, kid)")
		}
		return nil, m2m.Invalid(m2m.SchemeBearer, m2m.ReasonUnknownKey, "no key for the token's key id (kid)")
	}
	var used *Key
	err = jws.ErrKeyType // when no key fits the algorithm
	for i := range ks {
		if !ks[i].fits(h.Alg) {
			continue
		}
		if v.AllowHighS {
			err = t.VerifyAllowHighS(ks[i].material())
		} else {
			err = t.Verify(ks[i].material())
		}
		if err == nil {
			used = &ks[i]
			break
		}
	}
	if used == nil {
		return nil, jwsError(err)
	}
	c, err := ParseClaims(t.Payload)
	if err != nil {
		return nil, err
	}
	c.Header = h
	c.KeyID, c.KeyThumbprint = used.ID(), used.Thumbprint()
	return c, nil
}

// jwsError maps an error of package jws to a refusal.
func jwsError(err error) error {
	switch {
	case errors.Is(err, jws.ErrTooLarge):
		return m2m.Invalid(m2m.SchemeBearer, m2m.ReasonTooLarge, "the token is too large")
	case errors.Is(err, jws.ErrSignature):
		return m2m.Invalid(m2m.SchemeBearer, m2m.ReasonBadSignature, "the token's signature does not verify")
	case errors.Is(err, jws.ErrAlgorithm):
		return m2m.Invalid(m2m.SchemeBearer, m2m.ReasonBadAlgorithm, "the token's algorithm is not allowed")
	case errors.Is(err, jws.ErrKeyType):
		return m2m.Invalid(m2m.SchemeBearer, m2m.ReasonBadAlgorithm, "the token's algorithm does not match the key")
	case errors.Is(err, jws.ErrUnsupported):
		return malformed("the token has an unsupported critical header")
	case errors.Is(err, jws.ErrMalformed):
		return malformed("the token is not a well-formed JWS")
	}
	return fmt.Errorf("jwtauth: %w", err)
}

func typeMatches(got, want string) bool {
	norm := func(s string) string {
		if len(s) > len("application/") && strings.EqualFold(s[:len("application/")], "application/") {
			s = s[len("application/"):]
		}
		return s
	}
	return strings.EqualFold(norm(got), norm(want))
}

func supported(alg string) bool { return jws.Supported(alg) }
