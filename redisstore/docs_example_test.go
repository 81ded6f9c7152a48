package redisstore_test

import (
	"context"
	"log"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/m2mkit/m2m/dynamic"
	"github.com/m2mkit/m2m/ratelimit"
	"github.com/m2mkit/m2m/redisstore"
)

// docs/replicas.md: an API on several instances sharing replay cache, rate
// limits and revocations in Redis. (Compiled, not run: it needs a Redis.)
func Example_docsShared() {
	ctx := context.Background()
	var w http.ResponseWriter
	clientID, jti, tokenExpiry := "billing", "c0bp5", time.Now().Add(time.Hour)

	c, err := redisstore.Open(ctx, os.Getenv("M2M_REDIS")) // e.g. redis://127.0.0.1:6379/0
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	v := &dynamic.Sealed{ /* key, ... */ Replay: &redisstore.ReplayCache{Client: c, Prefix: "api:dyn:"}}

	lim := &redisstore.Limiter{Client: c, Fallback: &ratelimit.Memory{}, Logger: slog.Default()}
	d, err := lim.Take(ctx, "client:"+clientID, ratelimit.PerMinute(600, 50), 1)
	if err == nil && !d.Allowed {
		w.Header().Set("Retry-After", strconv.Itoa(d.RetryAfterSeconds()))
		http.Error(w, "slow down", http.StatusTooManyRequests)
	}

	rev := &redisstore.Revocations{Client: c}
	_ = rev.RevokeToken(ctx, jti, tokenExpiry) // kept until the token would expire anyway
	revoked, err := rev.IsRevoked(ctx, jti)

	_, _ = v, revoked
}
