package authserver_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/store"
)

// withSpanRecorder installs a tracer provider that records every span as
// the global one until the test ends.
func withSpanRecorder(t *testing.T) *tracetest.SpanRecorder {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr)))
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	return sr
}

func spanAttrs(s sdktrace.ReadOnlySpan) map[attribute.Key]string {
	m := map[attribute.Key]string{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value.Emit()
	}
	return m
}

func TestTokenSpans(t *testing.T) {
	sr := withSpanRecorder(t)
	f := newFixture(t, func(cfg *authserver.Config, _ *store.Client) { cfg.Trace = true })
	for _, tc := range []struct {
		name   string
		form   func() []string
		status int
		want   map[attribute.Key]string
		absent []attribute.Key
	}{
		{"issued", func() []string { return nil }, 200, map[attribute.Key]string{
			"oauth.grant_type": "client_credentials", "oauth.client_id": f.id, "m2m.outcome": "issued",
			"http.response.status_code": "200", "http.route": "/oauth/token", "http.request.method": "POST",
		}, []attribute.Key{"m2m.reason"}},
		{"wrong secret", func() []string { return []string{"client_secret", "wrong-secret-value"} }, 401, map[attribute.Key]string{
			"oauth.grant_type": "client_credentials", "oauth.client_id": f.id, "m2m.outcome": "refused",
			"m2m.reason": "invalid_client", "oauth.error": "invalid_client", "http.response.status_code": "401",
		}, nil},
		{"unknown client", func() []string { return []string{"client_id", "maybe-a-secret-in-the-wrong-field"} }, 401, map[attribute.Key]string{
			"m2m.outcome": "refused", "m2m.reason": "invalid_client",
		}, []attribute.Key{"oauth.client_id"}},
		{"other grant", func() []string { return []string{"grant_type", "made-up-grant"} }, 400, map[attribute.Key]string{
			"oauth.grant_type": "other", "m2m.outcome": "refused", "m2m.reason": "unsupported_grant_type",
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(sr.Ended())
			w := f.post(f.creds(tc.form()...))
			if w.Code != tc.status {
				t.Fatalf("POST /oauth/token = %d %s; want %d", w.Code, w.Body, tc.status)
			}
			spans := sr.Ended()[before:]
			if len(spans) != 1 || spans[0].Name() != "POST /oauth/token" {
				t.Fatalf("ended spans %v; want one POST /oauth/token", spans)
			}
			got := spanAttrs(spans[0])
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("span attribute %s = %q; want %q (all: %v)", k, got[k], v, got)
				}
			}
			for _, k := range tc.absent {
				if _, ok := got[k]; ok {
					t.Errorf("span has %s = %q; want none", k, got[k])
				}
			}
			for k, v := range got {
				if strings.Contains(v, f.secret) || strings.Contains(v, "wrong-secret-value") || strings.Contains(v, "maybe-a-secret") {
					t.Errorf("span attribute %s = %q holds a secret", k, v)
				}
			}
		})
	}
}

// TestTokenTracingOff checks that without Config.Trace the token endpoint
// makes no span even when a tracer provider is installed, and allocates
// no more than with no provider at all.
func TestTokenTracingOff(t *testing.T) {
	f := newFixture(t, func(_ *authserver.Config, c *store.Client) { c.RateLimitPerSecond, c.RateLimitBurst = 1e6, 1e6 })
	body := f.creds().Encode()
	issue := func() {
		r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		f.srv.ServeHTTP(w, r)
		if w.Code != 200 {
			t.Fatalf("POST /oauth/token = %d", w.Code)
		}
	}
	prev := otel.GetTracerProvider()
	defer otel.SetTracerProvider(prev)
	otel.SetTracerProvider(noop.NewTracerProvider())
	issue()
	without := testing.AllocsPerRun(50, issue)
	sr := withSpanRecorder(t)
	with := testing.AllocsPerRun(50, issue)
	if n := len(sr.Ended()); n != 0 {
		t.Errorf("Trace false: %d spans; want none", n)
	}
	// Under -race, sync.Pool drops items at random, so allocation counts
	// vary from run to run; the comparison holds only without it.
	if !authserver.RaceEnabled && with > without {
		t.Errorf("Trace false with a tracer provider installed: %v allocations per token; want at most %v (none installed)", with, without)
	}
}
