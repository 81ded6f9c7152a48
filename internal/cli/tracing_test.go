package cli

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestTracingEnabled(t *testing.T) {
	for _, tc := range []struct {
		name string
		vars map[string]string
		on   bool
		err  string
	}{
		{"nothing set", nil, false, ""},
		{"endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true, ""},
		{"traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true, ""},
		{"exporter otlp", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true, ""},
		{"exporter none wins", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, false, ""},
		{"sdk disabled", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, false, ""},
		{"http/protobuf", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, true, ""},
		{"grpc refused", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, false, "OTEL_EXPORTER_OTLP_PROTOCOL=grpc"},
		{"traces protocol wins", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
			"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, true, ""},
		{"other exporter refused", map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, false, "OTEL_TRACES_EXPORTER=zipkin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			on, err := tracingEnabled(func(k string) string { return tc.vars[k] })
			if on != tc.on || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("tracingEnabled(%v) = %v, %v; want %v, error containing %q", tc.vars, on, err, tc.on, tc.err)
			}
		})
	}
}

// TestServeExportsTraces runs m2m serve with OTEL_EXPORTER_OTLP_ENDPOINT
// naming a stand-in collector: a refused token request's span reaches it
// over OTLP/HTTP (flushed at the latest when serve stops), without the
// secret that was sent.
func TestServeExportsTraces(t *testing.T) {
	var (
		mu     sync.Mutex
		bodies [][]byte
	)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if r.URL.Path == "/v1/traces" && r.Header.Get("Content-Type") == "application/x-protobuf" {
			mu.Lock()
			bodies = append(bodies, b)
			mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_SERVICE_NAME", "m2m-under-test")

	data := filepath.Join(t.TempDir(), "data")
	p := startServe(t, nil, "--data", data, "--addr", "127.0.0.1:0")
	resp, err := http.PostForm(p.url+"/oauth/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {"nobody"}, "client_secret": {"a-secret-that-must-not-travel"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("POST /oauth/token = %d; want 401", resp.StatusCode)
	}
	if code := p.stop(); code != 0 {
		t.Fatalf("exit code %d\n%s", code, p.stderr)
	}
	mu.Lock()
	all := bytes.Join(bodies, nil)
	mu.Unlock()
	for _, want := range []string{"POST /oauth/token", "m2m.outcome", "refused", "invalid_client", "m2m-under-test"} {
		if !bytes.Contains(all, []byte(want)) {
			t.Errorf("the collector got no %q (%d requests)", want, len(bodies))
		}
	}
	if bytes.Contains(all, []byte("a-secret-that-must-not-travel")) || bytes.Contains(all, []byte("nobody")) {
		t.Error("the exported spans hold the secret or the unknown client id")
	}
	if !strings.Contains(p.stderr.String(), "m2m: OpenTelemetry traces") {
		t.Errorf("the start log does not say traces are on:\n%s", p.stderr)
	}
}
