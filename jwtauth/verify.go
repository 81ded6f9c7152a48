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
)

// DefaultMaxTokenBytes is the size cap of a [Validator] whose
// MaxTokenBytes is 0. Longer tokens are refused with m2m.ReasonTooLarge
// before any decoding.
const DefaultMaxTokenBytes = jws.DefaultMaxTokenBytes

// Header holds the JOSE header parameters that select a key.
type Header struct {
	Alg string // the signing algorithm, such as "HS256" or "ES256"
	Kid string // the key id; "" when absent
	Typ string // the token type, such as "JWT" or "at+jwt"; "" when absent
}

// KeyFunc returns the keys that may have signed a token with header h, to
// be tried in order: []byte (or m2m.Secret) for HS256/384/512,
// *rsa.PublicKey for RS*/PS*, *ecdsa.PublicKey for ES*, ed25519.PublicKey
// for EdDSA. A key of the wrong type for h.Alg never verifies (so an RSA
// public key cannot be abused as an HMAC secret).
//
// It returns no keys, or a [*m2m.CredentialError] with
// m2m.ReasonUnknownKey, for a kid it does not know, and another error for
// a technical failure (a key set that cannot be fetched).
type KeyFunc func(ctx context.Context, h Header) ([]any, error)

// StaticKeys returns a KeyFunc that offers keys for every token.
func StaticKeys(keys ...any) KeyFunc {
	return func(context.Context, Header) ([]any, error) { return keys, nil }
}

// Validator is the verification policy for JWTs. Its zero value is not
// usable: Algorithms must be set, and Issuer and Audience must be set or
// explicitly skipped; a misconfigured Validator refuses every token with a
// configuration error (a technical failure, never an acceptance).
//
// A Validator is safe for concurrent use; do not change its fields while
// it is in use.
type Validator struct {
	// Algorithms is the allow-list of header "alg" values, such as
	// []string{"HS256"} or []string{"ES256", "EdDSA"}. "none" is never
	// accepted.
	Algorithms []string

	// Issuer is the required "iss" claim. Empty is a configuration error
	// unless SkipIssuerCheck is set.
	Issuer string
	// SkipIssuerCheck accepts any issuer (or none), as device tokens that
	// are issued and verified by the same program do.
	SkipIssuerCheck bool

	// Audience lists the accepted audiences; a token is accepted when its
	// "aud" (a string or an array) contains one of them. Empty is a
	// configuration error unless SkipAudienceCheck is set.
	Audience []string
	// SkipAudienceCheck is for tokens that carry no audience. A token that
	// does name an audience is still refused (wrong_audience), as PyJWT
	// does: it was meant for some other service.
	SkipAudienceCheck bool

	// Type, if set, is the required "typ" header, compared
	// case-insensitively and with an "application/" prefix ignored
	// (RFC 8725 section 3.11), such as "at+jwt" for RFC 9068 access
	// tokens. Empty accepts any typ.
	Type string

	// RequiredClaims lists claims that must be present and not null,
	// besides "exp".
	RequiredClaims []string
	// InsecureAllowMissingExpiry accepts tokens without "exp" (PyJWT's
	// default); such a token is valid forever.
	InsecureAllowMissingExpiry bool

	// Leeway is the clock skew allowed for exp, nbf and iat; zero means
	// [DefaultLeeway] and [NoLeeway] (or any negative value) means none.
	Leeway time.Duration
	// MaxTokenBytes caps the token size; zero means
	// [DefaultMaxTokenBytes].
	MaxTokenBytes int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Verify parses token, checks its algorithm against the allow-list and its
// typ, verifies the signature with the keys from keys (the first that
// verifies wins), and validates the claims with [Validator.ValidateClaims].
//
// It returns the claims of a valid token, a [*m2m.CredentialError] (scheme
// m2m.SchemeBearer) for a refused one, and another error for a
// configuration or key-lookup failure.
func (v *Validator) Verify(ctx context.Context, token string, keys KeyFunc) (*Claims, error) {
	if err := v.configError(); err != nil {
		return nil, err
	}
	t, err := jws.Parse(token, v.MaxTokenBytes)
	if err != nil {
		return nil, jwsError(err)
	}
	h := Header{Alg: t.Header.Alg, Kid: t.Header.Kid, Typ: t.Header.Typ}
	if !slices.Contains(v.Algorithms, h.Alg) {
		return nil, m2m.Invalid(m2m.SchemeBearer, m2m.ReasonBadAlgorithm, "the token's algorithm is not allowed")
	}
	if v.Type != "" && !typeMatches(h.Typ, v.Type) {
		return nil, malformed("the token has the wrong type (typ)")
	}
	ks, err := keys(ctx, h)
	if err != nil {
		var ce *m2m.CredentialError
		if errors.As(err, &ce) {
			return nil, err
		}
		return nil, fmt.Errorf("jwtauth: looking up the key: %w", err)
	}
	if len(ks) == 0 {
		return nil, m2m.Invalid(m2m.SchemeBearer, m2m.ReasonUnknownKey, "no key for this token")
	}
	err = jws.ErrSignature
	for _, k := range ks {
		if s, ok := k.(m2m.Secret); ok {
			k = []byte(s)
		}
		if err = t.Verify(k); err == nil {
			break
		}
	}
	if err != nil {
		return nil, jwsError(err)
	}
	c, err := ParseClaims(t.Payload)
	if err != nil {
		return nil, err
	}
	c.Header = h
	if err := v.ValidateClaims(c); err != nil {
		return nil, err
	}
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
	// An empty HMAC key: a configuration problem.
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
