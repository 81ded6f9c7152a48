package httpauth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
)

// clientStub authenticates "Bearer c1" as client c1.
type clientStub struct{}

func (clientStub) Verify(r *http.Request) (*m2m.Principal, error) {
	cred, err := httpauth.Credentials(r, "Bearer", m2m.SchemeBearer)
	if err != nil {
		return nil, err
	}
	if cred != "c1" {
		return nil, m2m.Invalid(m2m.SchemeBearer, m2m.ReasonExpired, "token expired")
	}
	return &m2m.Principal{Subject: "c1", ClientID: "c1", Scheme: m2m.SchemeBearer}, nil
}

func TestMiddlewareSpans(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr)))
	defer otel.SetTracerProvider(prev)

	traced := &httpauth.Middleware{Verifiers: []m2m.Verifier{clientStub{}}, Trace: true}
	boom := &httpauth.Middleware{Verifiers: []m2m.Verifier{bearerStub{}}, Trace: true}
	for _, tc := range []struct {
		name   string
		m      *httpauth.Middleware
		header string
		want   map[attribute.Key]string
		error  bool
	}{
		{"authenticated", traced, "Bearer c1", map[attribute.Key]string{
			"m2m.outcome": "authenticated", "oauth.client_id": "c1", "m2m.auth.scheme": m2m.SchemeBearer}, false},
		{"refused", traced, "Bearer secret-token-text", map[attribute.Key]string{
			"m2m.outcome": "refused", "m2m.reason": "expired", "m2m.auth.scheme": m2m.SchemeBearer}, false},
		{"no credentials", traced, "", map[attribute.Key]string{"m2m.outcome": "no_credentials"}, false},
		{"technical failure", boom, "Bearer boom", map[attribute.Key]string{"m2m.outcome": "error"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(sr.Ended())
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			tc.m.Handler(http.HandlerFunc(whoami)).ServeHTTP(httptest.NewRecorder(), r)
			spans := sr.Ended()[before:]
			if len(spans) != 1 || spans[0].Name() != "m2m.authenticate" {
				t.Fatalf("ended spans %v; want one m2m.authenticate", spans)
			}
			got := map[attribute.Key]string{}
			for _, kv := range spans[0].Attributes() {
				got[kv.Key] = kv.Value.Emit()
				if kv.Value.Emit() == "secret-token-text" || kv.Value.Emit() == "key store down" {
					t.Errorf("span attribute %s holds the credential or error text", kv.Key)
				}
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("span attribute %s = %q; want %q (all: %v)", k, got[k], v, got)
				}
			}
			if isErr := spans[0].Status().Code == codes.Error; isErr != tc.error {
				t.Errorf("span status %v; want error %v", spans[0].Status(), tc.error)
			}
		})
	}

	// Without Trace, no span, and no allocation more than with no
	// provider at all.
	plain := &httpauth.Middleware{Verifiers: []m2m.Verifier{clientStub{}}}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer c1")
	check := func() {
		if _, err := plain.Check(r); err != nil {
			t.Fatal(err)
		}
	}
	before := len(sr.Ended())
	with := testing.AllocsPerRun(100, check)
	if n := len(sr.Ended()) - before; n != 0 {
		t.Errorf("Trace false: %d spans; want none", n)
	}
	otel.SetTracerProvider(noop.NewTracerProvider())
	if without := testing.AllocsPerRun(100, check); with > without {
		t.Errorf("Trace false with a tracer provider installed: %v allocations; want at most %v", with, without)
	}
}

// With Trace set, every checked request makes an "m2m.authenticate" span
// through the tracer provider the program installed (here one that
// records spans; in production an OTLP exporter).
func ExampleMiddleware_tracing() {
	sr := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr)))
	defer otel.SetTracerProvider(noop.NewTracerProvider())

	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{clientStub{}}, Trace: true}
	api := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))

	r := httptest.NewRequest(http.MethodGet, "/reports", nil)
	r.Header.Set("Authorization", "Bearer c1")
	api.ServeHTTP(httptest.NewRecorder(), r)

	for _, s := range sr.Ended() {
		for _, kv := range s.Attributes() {
			if kv.Key == "m2m.outcome" {
				fmt.Println(s.Name(), kv.Value.Emit())
			}
		}
	}
	// Output: m2m.authenticate authenticated
}
