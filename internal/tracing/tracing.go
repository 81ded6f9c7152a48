// Package tracing is how m2m's libraries make OpenTelemetry spans: through
// the global tracer provider (go.opentelemetry.io/otel), only when their
// Trace setting asks for it, so that a server without tracing pays
// nothing on its hot paths. The attribute names are defined here once.
// OpenTelemetry types stay inside the module's internals: the public API
// has a Trace bool, never a tracer.
package tracing

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/m2mkit/m2m/internal/version"
)

// ScopeName is the instrumentation scope of every m2m span.
const ScopeName = "github.com/m2mkit/m2m"

// Tracer returns m2m's tracer from the global tracer provider, as it is
// when called: call it when a component is built, after the provider is
// set.
func Tracer() trace.Tracer {
	return otel.Tracer(ScopeName, trace.WithInstrumentationVersion(version.String()))
}

// Attribute keys of m2m's spans. Client ids are recorded only once they
// name a registered client (an unknown id may be a secret sent in the
// wrong field); secrets and tokens never are.
const (
	GrantType  = attribute.Key("oauth.grant_type")
	ClientID   = attribute.Key("oauth.client_id")
	Outcome    = attribute.Key("m2m.outcome")
	Reason     = attribute.Key("m2m.reason")
	ErrorCode  = attribute.Key("oauth.error")
	Scheme     = attribute.Key("m2m.auth.scheme")
	HTTPStatus = attribute.Key("http.response.status_code")
	HTTPMethod = attribute.Key("http.request.method")
	HTTPRoute  = attribute.Key("http.route")
)
