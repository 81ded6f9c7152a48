package authserver_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/internal/benchcpu"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/replay"
	"github.com/m2mkit/m2m/store"
)

// swappableReplay is a replay cache the benchmark empties when its pool of
// proofs is used up.
type swappableReplay struct{ atomic.Pointer[replay.Memory] }

func (s *swappableReplay) Use(ctx context.Context, key string, exp time.Time) (bool, error) {
	return s.Load().Use(ctx, key, exp)
}

// BenchmarkTokenEndpointDPoPBearer issues tokens through Server.ServeHTTP
// on one server, as Bearer (no proof) and as DPoP (a fresh ES256 proof per
// request: verified, its jti inserted in the in-memory replay cache, the
// token bound with cnf.jkt), so the two figures come from the same run.
func BenchmarkTokenEndpointDPoPBearer(b *testing.B) {
	const pool = 4096
	rc := &swappableReplay{}
	var now func() time.Time
	f := newFixture(b, func(cfg *authserver.Config, c *store.Client) {
		c.RateLimitPerSecond, c.RateLimitBurst = 1e6, 1e6
		now = cfg.Now
		rc.Store(&replay.Memory{Now: cfg.Now})
		cfg.DPoP = &jwtauth.DPoPVerifier{Replay: rc, Now: cfg.Now}
	})
	body := f.creds("audience", "https://api.example.test").Encode()
	req := func(proof string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if proof != "" {
			r.Header.Set("DPoP", proof)
		}
		return r
	}
	b.Run("Bearer", func(b *testing.B) {
		b.ReportAllocs()
		benchcpu.Loop(b, func() {
			w := httptest.NewRecorder()
			f.srv.ServeHTTP(w, req(""))
			if w.Code != 200 {
				b.Fatalf("status %d %s", w.Code, w.Body)
			}
		})
	})
	c := newDPoPClient(b)
	proofs := make([]string, pool)
	for i := range proofs {
		proofs[i] = c.proof(b, "POST", testIssuer+"/oauth/token", now(), map[string]any{"jti": fmt.Sprintf("bench-%016x", i)})
	}
	b.Run("DPoP", func(b *testing.B) {
		i := 0
		rc.Store(&replay.Memory{Now: now})
		b.ReportAllocs()
		benchcpu.Loop(b, func() {
			if i == pool {
				i = 0
				rc.Store(&replay.Memory{Now: now})
			}
			w := httptest.NewRecorder()
			f.srv.ServeHTTP(w, req(proofs[i]))
			i++
			if w.Code != 200 || !strings.Contains(w.Body.String(), `"token_type":"DPoP"`) {
				b.Fatalf("status %d %s", w.Code, w.Body)
			}
		})
	})
}
