package store

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Bounds of the fields of a [TrustPolicy], checked by
// [TrustPolicy.Validate].
const (
	// MaxTrustPolicyNameBytes bounds a policy name; names use only the
	// RFC 3986 unreserved characters A-Z a-z 0-9 - . _ ~, like client ids,
	// so that they stand in a URL path as they are.
	MaxTrustPolicyNameBytes = 128
	// MaxIssuerBytes bounds a policy's issuer and jwks_uri.
	MaxIssuerBytes = 2048
	// MaxTrustJWKSBytes and MaxTrustJWKSKeys bound a JWK Set given by
	// value: an issuer may publish more keys than a client (a cluster
	// with several API servers, a rotation in progress); the size leaves
	// room for the rest of an admin API request.
	MaxTrustJWKSBytes = 32 << 10
	MaxTrustJWKSKeys  = 32
	// MaxPatternBytes bounds the subject pattern and each claim pattern.
	MaxPatternBytes = 1024
	// MaxTrustClaims and MaxClaimNameBytes bound a policy's claim
	// conditions.
	MaxTrustClaims    = 32
	MaxClaimNameBytes = 128
	// MaxClaimDepth bounds the members of a claim name that is a JSON
	// Pointer (RFC 6901) into nested objects, such as
	// /kubernetes.io/namespace.
	MaxClaimDepth = 16
	// MaxTrustPolicyTTL bounds a policy's MaxTTL; a positive MaxTTL is
	// at least one second.
	MaxTrustPolicyTTL = 24 * time.Hour
)

// The presets a [TrustPolicy] may name in Preset.
const (
	PresetGitHubActions = "github-actions"
	PresetGitLab        = "gitlab"
	PresetKubernetes    = "kubernetes"
	PresetSPIFFE        = "spiffe"
)

// ruledClaims are the registered claims a policy checks with its own
// fields or rules (Issuer, Audiences, Subject, the token's lifetime); a
// claim condition on them is refused rather than silently duplicated or
// ignored.
var ruledClaims = []string{"iss", "sub", "aud", "exp", "nbf", "iat"}

// Validate reports every problem with the fields of p at once, as
// [*FieldError] values (Record "trust policy") joined with errors.Join;
// each wraps [ErrInvalid]. Field names are those of the admin API: name,
// issuer, jwks, jwks_uri, audiences, subject, claims, client_id, scopes,
// max_ttl_seconds, preset.
//
// It requires a name of A-Z a-z 0-9 - . _ ~; an issuer that is an
// absolute https URL without user information, query or fragment (plain
// http only when its host is a loopback IP literal such as 127.0.0.1 or
// [::1], for tests); at most one of JWKS and JWKSURI (neither: OIDC
// discovery at the issuer), JWKS a JWK Set of public signature keys with
// distinct kids and JWKSURI an URL of the same form as the issuer; at
// least one audience; a subject pattern that is not only '*' (it would
// accept every token of the issuer); claim names of printable ASCII
// without '=' (a top-level claim, or a JSON Pointer into nested objects
// when it starts with '/') other than the claims the policy checks
// otherwise (iss, sub, aud, exp, nbf, iat), with non-empty patterns; a valid client id; RFC
// 6749 scope tokens; a MaxTTL of 0 or one second to [MaxTrustPolicyTTL];
// and a known preset or none. It checks form and bounds only: whether the
// client exists is for the caller to check.
func (p *TrustPolicy) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Record: "trust policy", Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	if !ValidClientID(p.Name) || len(p.Name) > MaxTrustPolicyNameBytes {
		bad("name", "must be 1 to %d characters of A-Z a-z 0-9 - . _ ~", MaxTrustPolicyNameBytes)
	}
	if err := validateTrustURL(p.Issuer, true); err != nil {
		bad("issuer", "%s", err)
	}
	switch {
	case p.JWKS != nil && p.JWKSURI != "":
		bad("jwks", "give a JWK Set or a jwks_uri, not both")
	case p.JWKS != nil:
		if err := validateJWKS(p.JWKS, MaxTrustJWKSBytes, MaxTrustJWKSKeys); err != nil {
			bad("jwks", "%s", strings.TrimPrefix(err.Error(), "store: "))
		}
	case p.JWKSURI != "":
		if err := validateTrustURL(p.JWKSURI, false); err != nil {
			bad("jwks_uri", "%s", err)
		}
	}
	if len(p.Audiences) == 0 {
		bad("audiences", "at least one audience is required")
	}
	validateAudiences(p.Audiences, bad)
	switch {
	case !validPattern(p.Subject):
		bad("subject", "must be 1 to %d bytes of UTF-8 without control characters", MaxPatternBytes)
	case strings.Trim(p.Subject, "*") == "":
		bad("subject", "a pattern of only '*' accepts every token of the issuer; name the subject (a prefix and '*' at least)")
	}
	if len(p.Claims) > MaxTrustClaims {
		bad("claims", "at most %d claim conditions", MaxTrustClaims)
	}
	for _, name := range sortedKeys(p.Claims) {
		switch {
		case name == "" || len(name) > MaxClaimNameBytes || !visibleASCII(name) || strings.Contains(name, "="):
			bad("claims", "claim names must be 1 to %d bytes of printable ASCII without spaces or '='", MaxClaimNameBytes)
		case strings.HasPrefix(name, "/") && !validClaimPointer(name):
			bad("claims", "claim %s is not a JSON Pointer (RFC 6901: '~' only as ~0 or ~1) of at most %d members", name, MaxClaimDepth)
		case indexOf(ruledClaims, strings.TrimPrefix(name, "/")) >= 0:
			bad("claims", "claim %s has its own rule (issuer, audiences, subject or the token's lifetime)", name)
		case !validPattern(p.Claims[name]):
			bad("claims", "the pattern of claim %s must be 1 to %d bytes of UTF-8 without control characters", name, MaxPatternBytes)
		}
	}
	if !ValidClientID(p.ClientID) {
		bad("client_id", "must be 1 to %d characters of A-Z a-z 0-9 - . _ ~", MaxClientIDBytes)
	}
	validateScopes(p.Scopes, bad)
	if p.MaxTTL < 0 || p.MaxTTL > MaxTrustPolicyTTL || p.MaxTTL > 0 && p.MaxTTL < time.Second {
		bad("max_ttl_seconds", "must be 0 (the client's or the server's lifetime) or 1 to %d seconds", int64(MaxTrustPolicyTTL/time.Second))
	}
	switch p.Preset {
	case "", PresetGitHubActions, PresetGitLab, PresetKubernetes, PresetSPIFFE:
	default:
		bad("preset", `must be "", %q, %q, %q or %q`, PresetGitHubActions, PresetGitLab, PresetKubernetes, PresetSPIFFE)
	}
	return errors.Join(errs...)
}

// validClaimPointer reports whether name, which starts with '/', is a
// JSON Pointer (RFC 6901) of at most MaxClaimDepth reference tokens, each
// '~' escaped as ~0 or ~1.
func validClaimPointer(name string) bool {
	segs := strings.Split(name[1:], "/")
	if len(segs) > MaxClaimDepth {
		return false
	}
	for _, seg := range segs {
		for i := 0; i < len(seg); i++ {
			if seg[i] == '~' && (i+1 == len(seg) || seg[i+1] != '0' && seg[i+1] != '1') {
				return false
			}
		}
	}
	return true
}

// ValidateTrustPolicyUpdate reports the problems of after, the result of
// an update of before, that before did not have (as [ValidateUpdate] for
// clients): a policy stored under older, looser rules can still be
// repaired or changed. Every backend's UpdateTrustPolicy calls it.
func ValidateTrustPolicyUpdate(before, after *TrustPolicy) error {
	return newProblems(after.Validate(), before.Validate)
}

// validPattern reports whether s is a subject or claim pattern: 1 to
// MaxPatternBytes of UTF-8 without control characters.
func validPattern(s string) bool {
	return s != "" && len(s) <= MaxPatternBytes && printableUTF8(s)
}

// validateTrustURL checks an issuer (issuer true: no query either, as
// OpenID Connect Discovery requires) or a jwks_uri: an absolute https URL
// of at most MaxIssuerBytes without user information or fragment; plain
// http only to a loopback IP literal. Its errors name no value.
func validateTrustURL(raw string, issuer bool) error {
	if raw == "" || len(raw) > MaxIssuerBytes || !visibleASCII(raw) {
		return fmt.Errorf("must be 1 to %d bytes of printable ASCII without spaces", MaxIssuerBytes)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return errors.New("is not an absolute URL with a host")
	}
	if u.User != nil {
		return errors.New("must not carry user information")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("must not have a fragment")
	}
	if issuer && (u.RawQuery != "" || strings.Contains(raw, "?")) {
		return errors.New("must not have a query")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if ip, err := netip.ParseAddr(u.Hostname()); err == nil && ip.Unmap().IsLoopback() && ip.Zone() == "" {
			return nil
		}
	}
	return errors.New("must be https (plain http only to a loopback IP address such as 127.0.0.1)")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
