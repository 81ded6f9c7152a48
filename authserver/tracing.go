package authserver

import (
	"net/http"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/m2mkit/m2m/internal/tracing"
	"github.com/m2mkit/m2m/store"
)

// startTokenSpan starts the token endpoint's server span (only with
// Config.Trace), a child of the caller's span when the request carries
// one the global propagator reads (W3C traceparent), and returns r with
// it in its context.
func (s *Server) startTokenSpan(r *http.Request) (*http.Request, trace.Span) {
	ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := s.tracer.Start(ctx, "POST /oauth/token", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(tracing.HTTPMethod.String(r.Method), tracing.HTTPRoute.String("/oauth/token")))
	return r.WithContext(ctx), span
}

// traceGrant records the request's grant type on r's span: a grant type
// of RFC 6749 or an extension registered with IANA as it is, anything
// else (a caller-controlled value) as "other".
func traceGrant(r *http.Request, tr *TokenRequest) {
	gt := tr.GrantType
	switch gt {
	case "client_credentials", "authorization_code", "refresh_token", "password",
		"urn:ietf:params:oauth:grant-type:jwt-bearer", "urn:ietf:params:oauth:grant-type:token-exchange",
		"urn:ietf:params:oauth:grant-type:device_code", "urn:ietf:params:oauth:grant-type:saml2-bearer":
	case "":
		return
	default:
		gt = "other"
	}
	trace.SpanFromContext(r.Context()).SetAttributes(tracing.GrantType.String(gt))
}

// traceIssued records a token issued to client on r's span.
func traceIssued(r *http.Request, client *store.Client) {
	span := trace.SpanFromContext(r.Context())
	span.SetAttributes(
		tracing.ClientID.String(client.ID),
		tracing.Outcome.String("issued"),
		tracing.HTTPStatus.Int(http.StatusOK),
	)
}

// traceRefused records a refusal on r's span: the public reason (as the
// metrics count it), the OAuth error code and the status; the client id
// only when it names a registered client (as the log shows it).
func (s *Server) traceRefused(r *http.Request, clientID string, e *Error) {
	span := trace.SpanFromContext(r.Context())
	attrs := []attribute.KeyValue{
		tracing.Outcome.String("refused"),
		tracing.Reason.String(publicReason(e.Reason)),
		tracing.ErrorCode.String(e.Code),
		tracing.HTTPStatus.Int(e.Status),
	}
	if clientID != "" && (e.knownClient || s.clients.known(clientID)) {
		attrs = append(attrs, tracing.ClientID.String(clientID))
	}
	span.SetAttributes(attrs...)
	if e.Status >= 500 {
		span.SetStatus(codes.Error, e.Code)
	}
}
