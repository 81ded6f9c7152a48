package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/m2mkit/m2m/internal/logattr"
	"github.com/m2mkit/m2m/internal/redact"
	"github.com/m2mkit/m2m/internal/version"
)

// tracingShutdownTimeout bounds the flush of buffered spans at shutdown.
const tracingShutdownTimeout = 5 * time.Second

// tracingEnabled reads the standard OpenTelemetry variables that decide
// whether serve exports traces: OTEL_SDK_DISABLED=true turns everything
// off; OTEL_TRACES_EXPORTER=otlp turns traces on, none (or unset) off,
// unless an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, which turns them on when
// OTEL_TRACES_EXPORTER is unset. Only OTLP over HTTP with protobuf is
// built in: another exporter or protocol is refused.
func tracingEnabled(getenv func(string) string) (bool, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false, nil
	}
	on := false
	switch exp := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); exp {
	case "":
		on = getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	case "none":
		return false, nil
	case "otlp":
		on = true
	default:
		return false, fmt.Errorf("OTEL_TRACES_EXPORTER=%s: m2m exports traces with otlp (or none)", logattr.Clean(exp, 64))
	}
	if !on {
		return false, nil
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := strings.TrimSpace(getenv(name)); p != "" {
			if p != "http/protobuf" {
				return false, fmt.Errorf("%s=%s: m2m exports OTLP over http/protobuf only", name, logattr.Clean(p, 64))
			}
			break
		}
	}
	return true, nil
}

// setupTracing installs, when the OTEL_* variables ask for traces, the
// global tracer provider (OTLP over HTTP, batched: a bounded queue that
// drops spans rather than slow a request when the collector is slow or
// away; sampler, endpoint, headers, timeout and batching from the
// standard variables; service.name m2m unless OTEL_SERVICE_NAME or
// OTEL_RESOURCE_ATTRIBUTES say otherwise) and the W3C trace-context
// propagator. It returns whether tracing is on and the function that
// flushes and stops it.
func setupTracing(ctx context.Context, logger *slog.Logger) (bool, func() error, error) {
	on, err := tracingEnabled(os.Getenv)
	if err != nil || !on {
		return false, func() error { return nil }, err
	}
	// The endpoint may carry a credential (user information, a key in
	// the query): the exporter's errors are masked for it.
	endpoint := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if endpoint == "" {
		endpoint = os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return false, nil, fmt.Errorf("OpenTelemetry OTLP exporter: %w", redact.Error(err, endpoint))
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "m2m"), attribute.String("service.version", version.String())),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil && res == nil {
		return false, nil, fmt.Errorf("OpenTelemetry resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("m2m: OpenTelemetry export failed", "error", logattr.Clean(redact.Error(err, endpoint).Error(), 512))
	}))
	shown := redact.URL(endpoint)
	if endpoint == "" {
		shown = "http://localhost:4318 (default)"
	}
	logger.Info("m2m: OpenTelemetry traces", "exporter", "otlp http/protobuf", "endpoint", shown)
	return true, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), tracingShutdownTimeout)
		defer cancel()
		return errors.Join(tp.Shutdown(ctx))
	}, nil
}
