package authserver

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/m2mkit/m2m/internal/oautherr"
	"github.com/m2mkit/m2m/ratelimit"
)

// The error codes of RFC 6749 section 5.2, RFC 8707 and Auth0 that the
// token endpoint answers with.
const (
	CodeInvalidRequest       = "invalid_request"
	CodeInvalidClient        = "invalid_client"
	CodeUnauthorizedClient   = "unauthorized_client"
	CodeUnsupportedGrantType = "unsupported_grant_type"
	CodeInvalidGrant         = "invalid_grant" // an external token refused (RFC 7523, RFC 8693)
	CodeInvalidScope         = "invalid_scope"
	CodeInvalidTarget        = "invalid_target"    // RFC 8707
	CodeAccessDenied         = "access_denied"     // audience not granted (Auth0)
	CodeTooManyRequests      = "too_many_requests" // rate limited (Auth0)
	CodeServerError          = "server_error"
	CodeUnavailable          = "temporarily_unavailable"
	CodeInvalidDPoPProof     = "invalid_dpop_proof" // RFC 9449
	CodeUseDPoPNonce         = "use_dpop_nonce"     // RFC 9449 section 8
)

// Error is a token endpoint refusal: an HTTP status, an RFC 6749 error
// code and a client-safe description. Reason is the stable reason code
// used in logs and metrics (more specific than Code). Error values are
// never shared: each refusal builds its own.
type Error struct {
	Status      int
	Code        string
	Description string
	Reason      string
	// RetryAfter, when positive, is sent as Retry-After (seconds, rounded up).
	RetryAfter time.Duration
	// Basic marks a failed client_secret_basic authentication: the 401
	// carries a Basic challenge (RFC 6749 section 5.2).
	Basic bool

	rate *ratelimit.Decision // sent as X-RateLimit-* headers when set
	// dpopNonce, when set, is sent as DPoP-Nonce (with use_dpop_nonce).
	dpopNonce string
	// knownClient marks a refusal whose client id names a registered
	// client, which the log may then show (see Server.refuse).
	knownClient bool
}

// Error returns the code, reason and description (never a secret).
func (e *Error) Error() string {
	return fmt.Sprintf("authserver: %s (%s): %s", e.Code, e.Reason, e.Description)
}

func errInvalidRequest(reason, desc string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Reason: reason, Description: desc}
}

// errorBody returns the JSON error body of RFC 6749 section 5.2, defined
// once in [oautherr.Body] for the server and the client.
func errorBody(code, desc string) oautherr.Body {
	return oautherr.Body{Error: code, ErrorDescription: desc}
}

// auth0Shape maps a refusal to the status and body Auth0 answers with in
// the same situation (see the protocol examples in the auth0 vectors).
func auth0Shape(e *Error) (int, oautherr.Body) {
	switch e.Code {
	case CodeInvalidClient:
		return http.StatusUnauthorized, errorBody(CodeAccessDenied, "Unauthorized")
	case CodeUnauthorizedClient:
		return http.StatusForbidden, errorBody(CodeUnauthorizedClient, e.Description)
	}
	return e.Status, errorBody(e.Code, e.Description)
}

func (s *Server) writeError(w http.ResponseWriter, e *Error) {
	h := w.Header()
	status, body := e.Status, errorBody(e.Code, e.Description)
	if s.auth0Errors {
		status, body = auth0Shape(e)
	}
	if status == http.StatusUnauthorized && e.Basic {
		h.Set("WWW-Authenticate", s.basicChall)
	}
	if e.dpopNonce != "" {
		h.Set("DPoP-Nonce", e.dpopNonce)
	}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(ceilSeconds(e.RetryAfter)))
	}
	writeJSON(w, status, body)
}

func ceilSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}
