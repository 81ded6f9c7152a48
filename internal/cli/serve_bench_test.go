package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkServeToken drives POST /oauth/token through the handler that
// m2m serve builds (the same open step: SQLite store, keyring, limiter,
// metrics, a JSON logger at warn), in process with an httptest recorder:
// the cost of one issuance without the network. Sub-benchmarks: each
// signing algorithm, and with a Redis limiter when M2M_TEST_REDIS_ADDR is
// set.
//
//	go test ./internal/cli -run '^$' -bench ServeToken -benchmem
func BenchmarkServeToken(b *testing.B) {
	for _, tc := range []struct {
		name, alg string
		redis     bool
	}{
		{"ES256", "ES256", false},
		{"EdDSA", "EdDSA", false},
		{"RS256", "RS256", false},
		{"ES256-redis", "ES256", true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h, body := benchServe(b, tc.alg, tc.redis)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(body))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("POST /oauth/token = %d %s", w.Code, w.Body)
				}
			}
		})
	}
}

// benchServe opens a fresh data directory with one client the way m2m
// serve does and returns its handler and a client-credentials form body.
func benchServe(b *testing.B, alg string, withRedis bool) (http.Handler, string) {
	b.Helper()
	data := filepath.Join(b.TempDir(), "data")
	var stderr bytes.Buffer
	if code := Main([]string{"init", "--data", data, "--algorithm", alg}, nil, io.Discard, &stderr); code != 0 {
		b.Fatalf("init = %d: %s", code, &stderr)
	}
	var out bytes.Buffer
	if code := Main([]string{"client", "create", "--data", data, "--name", "bench", "--audience", "https://api.example.test",
		"--scope", "read write", "--rate-limit", "1000000", "--burst", "1000000", "--json"}, nil, &out, &stderr); code != 0 {
		b.Fatalf("client create = %d: %s", code, &stderr)
	}
	var c struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal(out.Bytes(), &c); err != nil {
		b.Fatal(err)
	}

	_, o := newServeCmd(&Env{})
	o.data = data
	o.algorithm = alg
	o.profile = "rfc9068"
	o.tokenTTL = time.Hour
	o.redisPrefix = "m2m:"
	if withRedis {
		addr := os.Getenv("M2M_TEST_REDIS_ADDR")
		if addr == "" {
			b.Skip("SKIP-BACKEND: M2M_TEST_REDIS_ADDR is not set")
		}
		o.redisURL = "redis://" + addr + "/0"
		o.redisPrefix = fmt.Sprintf("m2m-bench-%d:", time.Now().UnixNano())
	}
	logger := newServeLogger(io.Discard, logFormatJSON, slog.LevelWarn)
	ctx, cancel := context.WithCancel(context.Background())
	d, err := o.open(ctx, logger, "http://127.0.0.1:8080", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cancel(); d.close() })
	body := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ID}, "client_secret": {c.Secret},
		"audience": {"https://api.example.test"}}.Encode()
	return d.srv.Handler(), body
}
