package store

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/jwk"
)

// ErrInvalid is wrapped by the errors of [Client.Validate], which every
// backend returns from CreateClient and UpdateClient for a client it
// refuses to store.
var ErrInvalid = errors.New("store: invalid record")

// Bounds of the fields of a [Client], checked by [Client.Validate].
const (
	// MaxClientIDBytes bounds a client id; ids use only the RFC 3986
	// unreserved characters A-Z a-z 0-9 - . _ ~ (see [ValidClientID]).
	MaxClientIDBytes = 128
	// MaxClientNameBytes bounds a client's name (UTF-8, no control
	// characters).
	MaxClientNameBytes = 256
	// MaxAudiences and MaxAudienceBytes bound a client's audiences: each
	// is printable ASCII without spaces.
	MaxAudiences     = 32
	MaxAudienceBytes = 1024
	// MaxScopes bounds a client's scopes; each is an RFC 6749 scope token
	// ([m2m.ValidScopeToken]).
	MaxScopes = 256
	// MaxClientTokenTTL bounds a client's token lifetime; a positive
	// lifetime is at least one second (tokens state it in seconds).
	MaxClientTokenTTL = 366 * 24 * time.Hour
	// MinRateLimitPerSecond and MaxRateLimitPerSecond bound a positive
	// per-client rate (one token a day to a million a second);
	// MaxRateLimitBurst bounds the burst, and a full bucket refills in at
	// most MaxRateLimitRefill.
	MinRateLimitPerSecond = 1.0 / 86400
	MaxRateLimitPerSecond = 1e6
	MaxRateLimitBurst     = 1_000_000
	MaxRateLimitRefill    = 30 * 24 * time.Hour
	// MaxMetadataEntries, MaxMetadataKeyBytes and MaxMetadataValueBytes
	// bound a client's metadata: keys are printable ASCII without spaces,
	// values UTF-8 without control characters.
	MaxMetadataEntries    = 64
	MaxMetadataKeyBytes   = 128
	MaxMetadataValueBytes = 1024
	// MaxClientJWKSBytes and MaxClientJWKSKeys bound the JWK Set of a
	// private_key_jwt client (a client rotating its key needs two or three);
	// MaxJWKSURIBytes bounds its jwks_uri.
	MaxClientJWKSBytes = 64 << 10
	MaxClientJWKSKeys  = 16
	MaxJWKSURIBytes    = 2048
)

// The client authentication methods (RFC 7591 token_endpoint_auth_method)
// a [Client] may have in AuthMethod; "" means either secret method.
const (
	AuthMethodClientSecretBasic = "client_secret_basic"
	AuthMethodClientSecretPost  = "client_secret_post"
	AuthMethodPrivateKeyJWT     = "private_key_jwt"
	// AuthMethodTLSClientAuth is mutual TLS with a certificate from a CA
	// the server trusts, whose subject or subject alternative name is
	// registered (RFC 8705 section 2.1).
	AuthMethodTLSClientAuth = "tls_client_auth"
	// AuthMethodSelfSignedTLSClientAuth is mutual TLS with a certificate
	// whose public key is in the client's registered JWK Set (RFC 8705
	// section 2.2), self-signed or not.
	AuthMethodSelfSignedTLSClientAuth = "self_signed_tls_client_auth"
)

// Bounds of the certificate names of a tls_client_auth client.
const (
	MaxTLSSubjectBytes = 1024
	MaxTLSSANBytes     = 2048
)

// FieldError is one problem [Client.Validate] found. Field is the
// client's field as the admin API names it (client_id, name, audiences,
// scopes, token_ttl_seconds, rate_limit_per_second, rate_limit_burst,
// profile, metadata, token_endpoint_auth_method, jwks, jwks_uri); Problem says what is wrong without repeating the
// value.
type FieldError struct {
	// Record is the kind of record: "" for a client, "trust policy" for a
	// [TrustPolicy].
	Record  string
	Field   string
	Problem string
}

func (e *FieldError) Error() string {
	r := e.Record
	if r == "" {
		r = "client"
	}
	return "store: " + r + " " + e.Field + ": " + e.Problem
}

// Unwrap returns [ErrInvalid].
func (e *FieldError) Unwrap() error { return ErrInvalid }

// UsesSecret reports whether the client authenticates with a secret
// (its AuthMethod is "", client_secret_basic or client_secret_post).
func (c *Client) UsesSecret() bool {
	switch c.AuthMethod {
	case "", AuthMethodClientSecretBasic, AuthMethodClientSecretPost:
		return true
	}
	return false
}

// UsesMutualTLS reports whether the client authenticates with a client
// certificate (tls_client_auth or self_signed_tls_client_auth).
func (c *Client) UsesMutualTLS() bool {
	return c.AuthMethod == AuthMethodTLSClientAuth || c.AuthMethod == AuthMethodSelfSignedTLSClientAuth
}

// ValidClientID reports whether id is a valid client id: 1 to
// [MaxClientIDBytes] of A-Z a-z 0-9 - . _ ~.
func ValidClientID(id string) bool {
	if id == "" || len(id) > MaxClientIDBytes {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// Validate reports every problem with the fields of c that a caller sets
// (id, name, audiences, scopes, token lifetime, rate limit, profile,
// metadata, authentication method and keys) at once, as [*FieldError]
// values joined with errors.Join; each wraps [ErrInvalid]. It checks form and bounds only: what a server
// additionally requires (an audience, a lifetime within its maximum) is
// checked by the server.
func (c *Client) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	if !ValidClientID(c.ID) {
		bad("client_id", "must be 1 to %d characters of A-Z a-z 0-9 - . _ ~", MaxClientIDBytes)
	}
	if len(c.Name) > MaxClientNameBytes || !printableUTF8(c.Name) {
		bad("name", "must be at most %d bytes of UTF-8 without control characters", MaxClientNameBytes)
	}
	validateAudiences(c.Audiences, bad)
	validateScopes(c.Scopes, bad)
	if c.TokenTTL < 0 || c.TokenTTL > MaxClientTokenTTL || c.TokenTTL > 0 && c.TokenTTL < time.Second {
		bad("token_ttl_seconds", "must be 0 (the server's default) or 1 to %d seconds", int64(MaxClientTokenTTL/time.Second))
	}
	r := c.RateLimitPerSecond
	if math.IsNaN(r) || math.IsInf(r, 0) || r < 0 || r > 0 && (r < MinRateLimitPerSecond || r > MaxRateLimitPerSecond) {
		bad("rate_limit_per_second", "must be 0 (the server's default) or from %g (one a day) to %g", MinRateLimitPerSecond, float64(MaxRateLimitPerSecond))
	}
	if c.RateLimitBurst < 0 || c.RateLimitBurst > MaxRateLimitBurst {
		bad("rate_limit_burst", "must be 0 (the default) to %d", MaxRateLimitBurst)
	} else if r >= MinRateLimitPerSecond && float64(c.RateLimitBurst)/r > MaxRateLimitRefill.Seconds() {
		bad("rate_limit_burst", "a full bucket must refill within %d days at rate_limit_per_second", int(MaxRateLimitRefill/(24*time.Hour)))
	}
	switch c.Profile {
	case "", "rfc9068", "auth0":
	default:
		bad("profile", `must be "", "rfc9068" or "auth0"`)
	}
	if len(c.Metadata) > MaxMetadataEntries {
		bad("metadata", "at most %d entries", MaxMetadataEntries)
	}
	for k, v := range c.Metadata {
		if k == "" || len(k) > MaxMetadataKeyBytes || !visibleASCII(k) || len(v) > MaxMetadataValueBytes || !printableUTF8(v) {
			bad("metadata", "keys must be 1 to %d bytes of printable ASCII without spaces, values at most %d bytes of UTF-8 without control characters", MaxMetadataKeyBytes, MaxMetadataValueBytes)
			break
		}
	}
	c.validateQuota(bad)
	c.validateAuthMethod(bad)
	return errors.Join(errs...)
}

// validateAudiences checks a list of audiences: at most MaxAudiences,
// each 1 to MaxAudienceBytes of visible ASCII, none repeated.
func validateAudiences(list []string, bad func(field, format string, args ...any)) {
	if len(list) > MaxAudiences {
		bad("audiences", "at most %d audiences", MaxAudiences)
	}
	for i, a := range list {
		if a == "" || len(a) > MaxAudienceBytes || !visibleASCII(a) {
			bad("audiences", "audience %d must be 1 to %d bytes of printable ASCII without spaces", i, MaxAudienceBytes)
		} else if indexOf(list[:i], a) >= 0 {
			bad("audiences", "audience %d is repeated", i)
		}
	}
}

// validateScopes checks a list of scopes: at most MaxScopes RFC 6749
// scope tokens, none repeated.
func validateScopes(list []string, bad func(field, format string, args ...any)) {
	if len(list) > MaxScopes {
		bad("scopes", "at most %d scopes", MaxScopes)
	}
	for i, s := range list {
		if !m2m.ValidScopeToken(s) {
			bad("scopes", "scope %d is not an RFC 6749 scope token (1 to %d characters of printable ASCII other than space, '\"' and '\\')", i, m2m.MaxScopeTokenBytes)
		} else if indexOf(list[:i], s) >= 0 {
			bad("scopes", "scope %d is repeated", i)
		}
	}
}

// MaxQuota bounds QuotaHourly and QuotaDaily.
const MaxQuota = 1_000_000_000

// Quota modes (Client.QuotaMode).
const (
	QuotaEnforce = "enforce"
	QuotaMonitor = "monitor"
)

// validateQuota checks QuotaHourly, QuotaDaily and QuotaMode.
func (c *Client) validateQuota(bad func(field, format string, args ...any)) {
	if c.QuotaHourly < 0 || c.QuotaHourly > MaxQuota {
		bad("quota_hourly", "must be 0 (no quota) to %d", MaxQuota)
	}
	if c.QuotaDaily < 0 || c.QuotaDaily > MaxQuota {
		bad("quota_daily", "must be 0 (no quota) to %d", MaxQuota)
	}
	switch c.QuotaMode {
	case "", QuotaEnforce, QuotaMonitor:
	default:
		bad("quota_mode", `must be "enforce" or "monitor"`)
	}
}

// validateAuthMethod checks AuthMethod, JWKS and JWKSURI.
func (c *Client) validateAuthMethod(bad func(field, format string, args ...any)) {
	if c.AuthMethod != AuthMethodTLSClientAuth {
		for _, f := range c.tlsNames() {
			if f.value != "" {
				bad(f.field, "only a tls_client_auth client has a certificate subject or subject alternative name")
			}
		}
	}
	switch c.AuthMethod {
	case "", AuthMethodClientSecretBasic, AuthMethodClientSecretPost:
		if c.JWKS != nil || c.JWKSURI != "" {
			bad("jwks", "only a private_key_jwt or self_signed_tls_client_auth client has a JWK Set, only a private_key_jwt client a jwks_uri")
		}
		return
	case AuthMethodTLSClientAuth, AuthMethodSelfSignedTLSClientAuth:
		c.validateMutualTLS(bad)
		return
	case AuthMethodPrivateKeyJWT:
	default:
		bad("token_endpoint_auth_method", `must be "", %q, %q, %q, %q or %q`, AuthMethodClientSecretBasic, AuthMethodClientSecretPost,
			AuthMethodPrivateKeyJWT, AuthMethodTLSClientAuth, AuthMethodSelfSignedTLSClientAuth)
		return
	}
	if len(c.SecretHash) > 0 || len(c.PreviousSecretHash) > 0 {
		bad("token_endpoint_auth_method", "a private_key_jwt client has no secret")
	}
	switch {
	case c.JWKS == nil && c.JWKSURI == "":
		bad("jwks", "a private_key_jwt client needs a JWK Set or a jwks_uri")
	case c.JWKS != nil && c.JWKSURI != "":
		bad("jwks", "give a JWK Set or a jwks_uri, not both")
	case c.JWKS != nil:
		if err := ValidateClientJWKS(c.JWKS); err != nil {
			bad("jwks", "%s", strings.TrimPrefix(err.Error(), "store: "))
		}
	default:
		if err := ValidateJWKSURI(c.JWKSURI); err != nil {
			bad("jwks_uri", "%s", strings.TrimPrefix(err.Error(), "store: "))
		}
	}
}

// ValidateClientJWKS checks the JWK Set document of a private_key_jwt
// client: at most [MaxClientJWKSBytes] and [MaxClientJWKSKeys] keys, public
// signature keys only (a key with a private member such as "d", or a
// symmetric "oct" key, is refused rather than reduced to its public part:
// whoever holds this document can then sign as the client), every key
// usable (no entry silently skipped), and a distinct kid on each key when
// there are several, so that an assertion's kid names exactly one key.
func ValidateClientJWKS(doc []byte) error {
	return validateJWKS(doc, MaxClientJWKSBytes, MaxClientJWKSKeys)
}

// validateJWKS checks a JWK Set document of public signature keys, at
// most maxBytes and maxKeys keys, each with a distinct kid when there are
// several.
func validateJWKS(doc []byte, maxBytes, maxKeys int) error {
	if len(doc) > maxBytes {
		return fmt.Errorf("store: the JWK Set is larger than %d bytes", maxBytes)
	}
	set, err := jwk.ParseSet(doc)
	if err != nil {
		return fmt.Errorf("store: the JWK Set is not usable: %w", err)
	}
	if set.Skipped > 0 {
		return fmt.Errorf("store: %d key(s) of the JWK Set cannot verify signatures (symmetric, for encryption, unsupported or RSA under 2048 bits)", set.Skipped)
	}
	if set.Len() > maxKeys {
		return fmt.Errorf("store: the JWK Set has %d keys, at most %d", set.Len(), maxKeys)
	}
	if keys := set.Keys(); len(keys) > 1 {
		seen := map[string]bool{}
		for i, k := range keys {
			if k.ID == "" {
				return fmt.Errorf("store: key %d of the JWK Set has no kid (needed when there are several keys)", i)
			}
			if seen[k.ID] {
				return fmt.Errorf("store: key %d of the JWK Set repeats a kid", i)
			}
			seen[k.ID] = true
		}
	}
	return nil
}

// ValidateJWKSURI checks the jwks_uri of a private_key_jwt client: an
// absolute https URL of at most [MaxJWKSURIBytes] without user
// information or fragment; plain http only to a loopback host (127.0.0.0/8,
// ::1 or localhost), for tests and local development.
func ValidateJWKSURI(raw string) error {
	if raw == "" || len(raw) > MaxJWKSURIBytes || !visibleASCII(raw) {
		return fmt.Errorf("store: the jwks_uri must be 1 to %d bytes of printable ASCII without spaces", MaxJWKSURIBytes)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return errors.New("store: the jwks_uri is not an absolute URL with a host")
	}
	if u.User != nil {
		return errors.New("store: the jwks_uri must not carry user information")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("store: the jwks_uri must not have a fragment")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !loopbackHost(u.Hostname()) {
			return errors.New("store: the jwks_uri must be https (plain http only to a loopback host)")
		}
	default:
		return errors.New("store: the jwks_uri must be https (plain http only to a loopback host)")
	}
	return nil
}

func loopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.Unmap().IsLoopback() && ip.Zone() == ""
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// visibleASCII reports whether s is %x21-7E only.
func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// printableUTF8 reports whether s is valid UTF-8 without C0, DEL or C1
// control characters, nor line or paragraph separators.
func printableUTF8(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r >= 0x7f && r < 0xa0 || r == 0x2028 || r == 0x2029 {
			return false
		}
	}
	return true
}

// ValidateUpdate reports the problems of after, the result of an update of
// before, that before did not have: an update may not make a client
// invalid, but a record stored before validation existed (or written to
// the database by hand) can still be disabled, rotated or repaired. Every
// backend's UpdateClient calls it.
func ValidateUpdate(before, after *Client) error {
	return newProblems(after.Validate(), before.Validate)
}

// newProblems returns the field errors of err (the validation of an
// updated record) that before (the validation of the record before the
// update, run only when err is not nil) does not report.
func newProblems(err error, before func() error) error {
	if err == nil {
		return nil
	}
	old := map[FieldError]bool{}
	for _, e := range FieldErrors(before()) {
		old[*e] = true
	}
	var errs []error
	for _, e := range FieldErrors(err) {
		if !old[*e] {
			errs = append(errs, e)
		}
	}
	return errors.Join(errs...)
}

// FieldErrors returns the [*FieldError] values in err (as returned by
// [Client.Validate] or [ValidateUpdate], possibly wrapped), in order.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *FieldError:
			out = append(out, e)
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}
