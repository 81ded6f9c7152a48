package redisstore_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"time"

	"github.com/m2mkit/m2m/ratelimit"
	"github.com/m2mkit/m2m/redisstore"
)

func ExampleOpen() {
	ctx := context.Background()
	c, err := redisstore.Open(ctx, "redis://127.0.0.1:6379/0")
	if err != nil {
		log.Fatal(err) // unreachable, or a bad URL (the error never shows the password)
	}
	defer c.Close()
	fmt.Println(c.Ping(ctx) == nil)
}

func ExampleConfig_Open() {
	// Start even while Redis is down, with tighter bounds than the defaults.
	cfg := redisstore.Config{
		DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 100 * time.Millisecond,
		CallTimeout: 300 * time.Millisecond,
		Lazy:        true,
	}
	c, err := cfg.Open(context.Background(), "redis://127.0.0.1:6379/2")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
}

func ExampleClient_Ping() {
	c, err := redisstore.Config{Lazy: true}.Open(context.Background(), "redis://127.0.0.1:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	// A /readyz handler.
	ready := func(ctx context.Context) bool { return c.Ping(ctx) == nil }
	_ = ready
}

func ExampleReplayCache() {
	ctx := context.Background()
	c, err := redisstore.Open(ctx, "redis://127.0.0.1:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	cache := &redisstore.ReplayCache{Client: c, Prefix: "myapp:nonces:", Logger: slog.Default()}
	// Every replica sharing this Redis accepts the nonce once.
	expiry := time.Now().Add(2 * time.Minute)
	first, err := cache.Use(ctx, "nonce-7f3a", expiry)
	if err != nil {
		log.Print(err) // Redis is down: refuse the request (fail closed)
	}
	fmt.Println(first)
}

func ExampleLimiter() {
	ctx := context.Background()
	c, err := redisstore.Open(ctx, "redis://127.0.0.1:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	lim := &redisstore.Limiter{
		Client:   c,
		Fallback: &ratelimit.Memory{}, // local buckets while Redis is down
		Logger:   slog.Default(),
		// Large limits in batches (never more than the shared budget), and
		// peeks of a full bucket answered locally for a second.
		Lease:   100 * time.Millisecond,
		PeekTTL: time.Second,
	}
	d, err := lim.Take(ctx, "client:billing-worker", ratelimit.PerMinute(600, 50), 1)
	if err != nil {
		log.Fatal(err)
	}
	if !d.Allowed {
		fmt.Println("429, Retry-After:", d.RetryAfterSeconds())
	}
}

func ExampleLeaseSize() {
	const lease = 100 * time.Millisecond
	for _, lim := range []ratelimit.Limit{
		{Rate: 10, Burst: 50},      // exact: one script per token
		{Rate: 100, Burst: 1000},   // a tenth of a second's refill
		{Rate: 1000, Burst: 100},   // an eighth of the burst
		{Rate: 1e5, Burst: 10_000}, // MaxLeaseSize
	} {
		fmt.Printf("%v/s burst %d: %d\n", lim.Rate, lim.Burst, redisstore.LeaseSize(lim, lease))
	}
	// Output:
	// 10/s burst 50: 1
	// 100/s burst 1000: 10
	// 1000/s burst 100: 12
	// 100000/s burst 10000: 64
}

func ExampleRevocations() {
	ctx := context.Background()
	c, err := redisstore.Open(ctx, "redis://127.0.0.1:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	rev := &redisstore.Revocations{Client: c}
	// Revoke a token by its jti until it would have expired anyway.
	if err := rev.RevokeToken(ctx, "9b2f0c1e", time.Now().Add(10*time.Minute)); err != nil {
		log.Fatal(err)
	}
	revoked, err := rev.IsRevoked(ctx, "9b2f0c1e")
	fmt.Println(revoked, err)
}

// Replicas that share Redis share each client's quota exactly.
func ExampleQuotaCounter() {
	ctx := context.Background()
	c, err := redisstore.Open(ctx, "redis://127.0.0.1:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	q := &redisstore.QuotaCounter{Client: c} // authserver.Config.QuotaCounter
	hour, day, err := q.TakeQuota(ctx, "billing", time.Now())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(hour, day) // the client's requests this hour and today before this one
}
