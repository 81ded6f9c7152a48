package jwtauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/m2mkit/m2m"
)

// DefaultLeeway is the clock skew a [Validator] with a zero Leeway allows
// when comparing exp, nbf and iat with the current time.
const DefaultLeeway = 30 * time.Second

// NoLeeway, as a Leeway, compares times exactly (PyJWT's default).
const NoLeeway time.Duration = -1

// Claims are the claims of a verified token.
//
// The registered claims are decoded into fields; Raw holds every claim,
// registered or not, with JSON numbers as json.Number so that large
// integers keep their exact value.
type Claims struct {
	Issuer   string   // iss; "" when absent
	Subject  string   // sub; "" when absent
	Audience []string // aud, a string or an array in the token; nil when absent
	ID       string   // jti; "" when absent
	// ExpiresAt is exp truncated to whole seconds (as PyJWT's int(exp)
	// does); zero when absent.
	ExpiresAt time.Time
	// NotBefore is nbf truncated to whole seconds; zero when absent.
	NotBefore time.Time
	// IssuedAt is iat truncated to whole seconds; zero when absent.
	IssuedAt time.Time
	// Header is the header of the token the claims came from.
	Header Header
	// KeyID and KeyThumbprint name the key that verified the signature
	// (see [Key]); both "" for an unnamed secret.
	KeyID, KeyThumbprint string
	// Raw holds all claims as decoded JSON values (string, bool, nil,
	// json.Number, []any, map[string]any).
	Raw map[string]any
}

// maxNumericDate bounds NumericDate values (about 31 million years) so that
// conversions to time.Time cannot overflow.
const maxNumericDate = 1e15

// ParseClaims decodes a JWT claims set: a JSON object whose registered
// claims have their RFC 7519 types (iss, sub and jti strings; aud a string
// or an array of strings; exp, nbf and iat numbers). Anything else is a
// [*m2m.CredentialError] with [m2m.ReasonMalformed]. The payload size is
// the caller's to bound (a [Validator] caps the whole token first).
func ParseClaims(payload []byte) (*Claims, error) {
	raw, ok := parseObject(payload)
	if !ok {
		var err error
		if raw, err = decodeObject(payload); err != nil {
			return nil, err
		}
	}
	c := &Claims{Raw: raw}
	var err error
	if c.Issuer, err = stringClaim(raw, "iss"); err != nil {
		return nil, err
	}
	if c.Subject, err = stringClaim(raw, "sub"); err != nil {
		return nil, err
	}
	if c.ID, err = stringClaim(raw, "jti"); err != nil {
		return nil, err
	}
	switch a := raw["aud"].(type) {
	case nil:
		// Absent or null: no audience (PyJWT treats a falsy aud as absent).
	case string:
		if a != "" {
			c.Audience = []string{a}
		}
	case []any:
		c.Audience = make([]string, 0, len(a))
		for _, v := range a {
			s, ok := v.(string)
			if !ok {
				return nil, malformed("aud is not a string or an array of strings")
			}
			c.Audience = append(c.Audience, s)
		}
	default:
		return nil, malformed("aud is not a string or an array of strings")
	}
	if c.ExpiresAt, err = dateClaim(raw, "exp"); err != nil {
		return nil, err
	}
	if c.NotBefore, err = dateClaim(raw, "nbf"); err != nil {
		return nil, err
	}
	if c.IssuedAt, err = dateClaim(raw, "iat"); err != nil {
		return nil, err
	}
	return c, nil
}

// decodeObject decodes a JSON object with encoding/json (numbers as
// json.Number), the reference the fast path [parseObject] falls back to.
func decodeObject(payload []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return nil, malformed("the claims are not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, malformed("trailing data after the claims")
	}
	return raw, nil
}

func stringClaim(raw map[string]any, name string) (string, error) {
	v, ok := raw[name]
	if !ok {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", malformed(name + " is not a string")
	}
	return s, nil
}

// dateClaim decodes a NumericDate truncated toward zero to whole seconds,
// as PyJWT 2.12's int() does before comparing exp, nbf and iat.
func dateClaim(raw map[string]any, name string) (time.Time, error) {
	v, ok := raw[name]
	if !ok {
		return time.Time{}, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, malformed(name + " is not a number")
	}
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil && i > -maxNumericDate && i < maxNumericDate {
		return time.Unix(i, 0), nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsNaN(f) || math.Abs(f) >= maxNumericDate {
		return time.Time{}, malformed(name + " is out of range")
	}
	return time.Unix(int64(math.Trunc(f)), 0), nil
}

func malformed(desc string) *m2m.CredentialError {
	return m2m.Invalid(m2m.SchemeBearer, m2m.ReasonMalformed, desc)
}

// ValidateClaims checks c against v's policy at v's current time, in
// PyJWT's order: required claims (exp unless InsecureAllowMissingExpiry,
// then RequiredClaims), iat, nbf, exp, issuer, audience. It returns nil or
// a [*m2m.CredentialError] with one of the reasons missing_claim,
// not_yet_valid, expired, wrong_issuer, wrong_audience. It does not look
// at the signature or the algorithm; [Validator.Verify] does.
func (v *Validator) ValidateClaims(c *Claims) error {
	// exp = -62135596800 decodes to the zero time.Time: presence is decided
	// by the raw claim too, so that such a token is expired, not eternal.
	_, rawExp := c.Raw["exp"]
	hasExp := rawExp || !c.ExpiresAt.IsZero()
	if !v.InsecureAllowMissingExpiry && !hasExp {
		return m2m.Invalid(m2m.SchemeBearer, m2m.ReasonMissingClaim, `the token has no "exp" claim`)
	}
	for _, name := range v.RequiredClaims {
		if val, ok := c.Raw[name]; !ok || val == nil {
			return m2m.Invalid(m2m.SchemeBearer, m2m.ReasonMissingClaim, fmt.Sprintf("the token has no %q claim", name))
		}
	}
	now := v.now()
	leeway := v.leeway()
	if !c.IssuedAt.IsZero() && c.IssuedAt.After(now.Add(leeway)) {
		return m2m.Invalid(m2m.SchemeBearer, m2m.ReasonNotYetValid, "the token was issued in the future (iat)")
	}
	if !c.NotBefore.IsZero() && c.NotBefore.After(now.Add(leeway)) {
		return m2m.Invalid(m2m.SchemeBearer, m2m.ReasonNotYetValid, "the token is not yet valid (nbf)")
	}
	if hasExp && !c.ExpiresAt.After(now.Add(-leeway)) {
		return m2m.Invalid(m2m.SchemeBearer, m2m.ReasonExpired, "the token has expired")
	}
	if !v.SkipIssuerCheck {
		if _, ok := c.Raw["iss"]; !ok {
			return m2m.Invalid(m2m.SchemeBearer, m2m.ReasonMissingClaim, `the token has no "iss" claim`)
		}
		if c.Issuer != v.Issuer {
			return m2m.Invalid(m2m.SchemeBearer, m2m.ReasonWrongIssuer, "the token is from another issuer")
		}
	}
	if v.AcceptAnyAudience {
		return nil
	}
	if v.SkipAudienceCheck {
		if len(c.Audience) > 0 {
			return m2m.Invalid(m2m.SchemeBearer, m2m.ReasonWrongAudience, "the token is meant for another audience")
		}
		return nil
	}
	if len(c.Audience) == 0 {
		return m2m.Invalid(m2m.SchemeBearer, m2m.ReasonMissingClaim, `the token has no "aud" claim`)
	}
	for _, a := range v.Audience {
		if slices.Contains(c.Audience, a) {
			return nil
		}
	}
	return m2m.Invalid(m2m.SchemeBearer, m2m.ReasonWrongAudience, "the token is meant for another audience")
}

// configError reports a Validator that cannot verify anything.
func (v *Validator) configError() error {
	var problems []string
	if len(v.Algorithms) == 0 {
		problems = append(problems, "no Algorithms")
	}
	for _, a := range v.Algorithms {
		if !supported(a) {
			problems = append(problems, fmt.Sprintf("unsupported algorithm %q", a))
		}
	}
	if v.Issuer == "" && !v.SkipIssuerCheck {
		problems = append(problems, "no Issuer (set SkipIssuerCheck to accept any)")
	}
	if len(v.Audience) == 0 && !v.SkipAudienceCheck && !v.AcceptAnyAudience {
		problems = append(problems, "no Audience (set SkipAudienceCheck for tokens without one)")
	}
	if v.SkipAudienceCheck && v.AcceptAnyAudience {
		problems = append(problems, "both SkipAudienceCheck and AcceptAnyAudience")
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New("jwtauth: invalid Validator: " + strings.Join(problems, "; "))
}

func (v *Validator) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Validator) leeway() time.Duration {
	switch {
	case v.Leeway == 0:
		return DefaultLeeway
	case v.Leeway < 0:
		return 0
	}
	return v.Leeway
}
