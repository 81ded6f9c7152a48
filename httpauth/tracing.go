package httpauth

import (
	"errors"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/internal/tracing"
)

// checkTraced is Check inside an "m2m.authenticate" span.
func (m *Middleware) checkTraced(r *http.Request) (*m2m.Principal, error) {
	ctx, span := tracing.Tracer().Start(r.Context(), "m2m.authenticate", trace.WithSpanKind(trace.SpanKindInternal))
	defer span.End()
	p, err := m.check(r.WithContext(ctx))
	var attrs []attribute.KeyValue
	var ce *m2m.CredentialError
	switch {
	case err == nil:
		attrs = append(attrs, tracing.Outcome.String("authenticated"), tracing.Scheme.String(p.Scheme))
		if p.ClientID != "" {
			attrs = append(attrs, tracing.ClientID.String(p.ClientID))
		}
	case errors.Is(err, m2m.ErrNoCredentials):
		attrs = append(attrs, tracing.Outcome.String("no_credentials"))
	case errors.As(err, &ce):
		attrs = append(attrs, tracing.Outcome.String("refused"), tracing.Reason.String(string(ce.Reason)))
		if ce.Scheme != "" {
			attrs = append(attrs, tracing.Scheme.String(ce.Scheme))
		}
	default:
		if reason := m2m.ReasonOf(err); reason != "" {
			attrs = append(attrs, tracing.Outcome.String("refused"), tracing.Reason.String(string(reason)))
			break
		}
		// A technical failure: its text stays in the log, which bounds
		// and cleans it; the span says only that it happened.
		attrs = append(attrs, tracing.Outcome.String("error"))
		span.SetStatus(codes.Error, "authentication failed")
	}
	span.SetAttributes(attrs...)
	return p, err
}
