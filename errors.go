package m2m

import (
	"errors"
	"net/http"
)

// ErrNoCredentials reports that a request carries no credential of the
// scheme a Verifier checks. Middleware then tries the next Verifier.
var ErrNoCredentials = errors.New("m2m: no credentials")

// ErrInvalidCredentials reports that a credential is present but not
// acceptable. Errors returned for this case wrap it, normally through a
// [*CredentialError] that carries a [Reason].
var ErrInvalidCredentials = errors.New("m2m: invalid credentials")

// ErrUnavailable marks a technical failure that is expected to pass (a
// backend is down or timed out). HTTP middleware answers 503 for errors
// that wrap it and 500 for other technical failures.
var ErrUnavailable = errors.New("m2m: temporarily unavailable")

// Reason is a stable, machine-readable code for why a credential was
// refused. Reasons appear in logs, metrics and HTTP error bodies; new ones
// may be added, existing ones keep their meaning.
type Reason string

// The reasons shared by every scheme.
const (
	ReasonMissing           Reason = "missing_credentials" // no credential of any accepted scheme
	ReasonMalformed         Reason = "malformed"           // cannot be parsed
	ReasonTooLarge          Reason = "too_large"           // over a size limit, refused before parsing
	ReasonBadSignature      Reason = "bad_signature"       // MAC or signature does not verify
	ReasonExpired           Reason = "expired"             // past its lifetime
	ReasonNotYetValid       Reason = "not_yet_valid"       // nbf/iat/timestamp in the future
	ReasonReplayed          Reason = "replayed"            // single-use credential seen before
	ReasonWrongAudience     Reason = "wrong_audience"      // aud does not name this service
	ReasonWrongIssuer       Reason = "wrong_issuer"        // iss is not the expected issuer
	ReasonMissingClaim      Reason = "missing_claim"       // a required claim is absent
	ReasonBadAlgorithm      Reason = "bad_algorithm"       // alg not in the allow-list
	ReasonUnknownKey        Reason = "unknown_key"         // kid or key id not known
	ReasonBadCredentials    Reason = "bad_credentials"     // wrong user name, password or code
	ReasonThrottled         Reason = "throttled"           // too many failures; try later
	ReasonRevoked           Reason = "revoked"             // revoked before its expiry
	ReasonDisabled          Reason = "disabled"            // the client or user is disabled
	ReasonForbidden         Reason = "forbidden"           // valid, but not for this request
	ReasonInsufficientScope Reason = "insufficient_scope"  // valid, but lacks a required scope
	ReasonRejected          Reason = "rejected"            // refused by an application callback
	// ReasonInvalidDPoPProof: a DPoP proof (RFC 9449) is missing or
	// refused; the RFC's error code. The cause, with its own reason
	// (replayed, bad_signature, ...), is the error's Err.
	ReasonInvalidDPoPProof Reason = "invalid_dpop_proof"
	// ReasonUseDPoPNonce: the DPoP proof lacks the server's current
	// nonce; answer with a fresh DPoP-Nonce header (RFC 9449 section 8).
	ReasonUseDPoPNonce Reason = "use_dpop_nonce"
)

// CredentialError is a refused credential. It wraps [ErrInvalidCredentials]
// (and Err, when set) so that errors.Is works for both.
//
// Description is shown to the client in error bodies and must never
// contain the credential or any secret.
type CredentialError struct {
	Scheme      string // the Scheme constant of the verifier that refused
	Reason      Reason
	Description string
	// Status is the HTTP status to answer with; zero means 401, or 403 for
	// ReasonForbidden and ReasonInsufficientScope.
	Status int
	// RetryAfter is set with ReasonThrottled: seconds until a retry may
	// succeed.
	RetryAfter int
	Err        error // the underlying cause, if any
}

var _ error = (*CredentialError)(nil)

// Invalid returns a [*CredentialError] for scheme with the given reason and
// client-safe description.
func Invalid(scheme string, reason Reason, description string) *CredentialError {
	return &CredentialError{Scheme: scheme, Reason: reason, Description: description}
}

// Error returns "SCHEME: invalid credentials: REASON: DESCRIPTION" (the
// scheme "m2m" when Scheme is empty). It holds no secret as long as
// Description holds none.
func (e *CredentialError) Error() string {
	s := "m2m: invalid credentials"
	if e.Scheme != "" {
		s = e.Scheme + ": invalid credentials"
	}
	s += ": " + string(e.Reason)
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// Unwrap returns ErrInvalidCredentials and the cause.
func (e *CredentialError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalidCredentials, e.Err}
	}
	return []error{ErrInvalidCredentials}
}

// HTTPStatus returns the status an HTTP server should answer with.
func (e *CredentialError) HTTPStatus() int {
	switch {
	case e.Status != 0:
		return e.Status
	case e.Reason == ReasonForbidden || e.Reason == ReasonInsufficientScope:
		return http.StatusForbidden
	case e.Reason == ReasonThrottled:
		return http.StatusTooManyRequests
	}
	return http.StatusUnauthorized
}

// ReasonOf returns the [Reason] carried by err: the reason of the first
// [*CredentialError] in its chain, [ReasonMissing] for [ErrNoCredentials],
// [ReasonBadCredentials] for any other [ErrInvalidCredentials], and "" for
// other errors (technical failures).
func ReasonOf(err error) Reason {
	var ce *CredentialError
	switch {
	case errors.As(err, &ce):
		return ce.Reason
	case errors.Is(err, ErrNoCredentials):
		return ReasonMissing
	case errors.Is(err, ErrInvalidCredentials):
		return ReasonBadCredentials
	}
	return ""
}
