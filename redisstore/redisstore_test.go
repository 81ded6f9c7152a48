package redisstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mkit/m2m/internal/testbackend"

	"github.com/redis/go-redis/v9"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/ratelimit"
	"github.com/m2mkit/m2m/ratelimit/ratelimittest"
	"github.com/m2mkit/m2m/replay"
	"github.com/m2mkit/m2m/replay/replaytest"
	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/memstore"
	"github.com/m2mkit/m2m/store/storetest"
)

// quiet drops go-redis's own log lines (dial failures the fault tests
// provoke on purpose).
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(quiet{})
	os.Exit(m.Run())
}

// redisURL returns the URL of the test server, or skips the test.
func redisURL(t testing.TB) string {
	t.Helper()
	addr := testbackend.RedisAddr(t)
	return "redis://" + addr + "/0"
}

// open returns a new Client on the test server, closed at cleanup.
func open(t testing.TB) *Client {
	t.Helper()
	c, err := Open(context.Background(), redisURL(t))
	if err != nil {
		t.Fatalf("Open(%s) = %v", os.Getenv("M2M_TEST_REDIS_ADDR"), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// prefix returns a random key prefix and deletes every key under it at
// cleanup, so that tests never see each other's keys or leave any behind.
func prefix(t testing.TB) string {
	t.Helper()
	p := "m2mtest:" + rand.Text() + ":"
	c := open(t)
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.rdb.Scan(ctx, 0, p+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("cleanup: scan %s*: %v", p, err)
		}
		for len(keys) > 0 {
			n := min(len(keys), 500)
			if err := c.rdb.Del(ctx, keys[:n]...).Err(); err != nil {
				t.Errorf("cleanup: del: %v", err)
			}
			keys = keys[n:]
		}
	})
	return p
}

func TestReplayConformance(t *testing.T) {
	redisURL(t)
	replaytest.Run(t, func(t *testing.T) replaytest.Harness {
		p := prefix(t)
		c := open(t)
		var mu sync.Mutex
		now := time.Unix(1_700_000_000, 0)
		clock := func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return now
		}
		return replaytest.Harness{
			New: func() m2m.ReplayCache { return &ReplayCache{Client: open(t), Prefix: p, Now: clock} },
			Now: clock,
			// Redis expires keys in real time: advancing the simulated
			// clock moves every key's expiry under p nearer by d instead
			// of sleeping.
			Advance: func(d time.Duration) {
				mu.Lock()
				now = now.Add(d)
				mu.Unlock()
				advanceRedis(t, c, p, d)
			},
		}
	})
}

func TestLimiterConformance(t *testing.T) {
	redisURL(t)
	ratelimittest.Run(t, func(t *testing.T) ratelimittest.Harness {
		p := prefix(t)
		var mu sync.Mutex
		now := time.Unix(1_700_000_000, 0)
		clock := func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return now
		}
		return ratelimittest.Harness{
			New: func() ratelimit.Limiter { return &Limiter{Client: open(t), Prefix: p, Now: clock} },
			Advance: func(d time.Duration) {
				mu.Lock()
				defer mu.Unlock()
				now = now.Add(d)
			},
		}
	})
}

// TestLimiterServerClock runs the limiter on the Redis server's clock (Now
// nil, the default): two instances share one budget, and the decision's
// times are the server's.
func TestLimiterServerClock(t *testing.T) {
	p := prefix(t)
	a := &Limiter{Client: open(t), Prefix: p}
	b := &Limiter{Client: open(t), Prefix: p}
	ctx := t.Context()
	l := ratelimit.Limit{Rate: 1.0 / 60, Burst: 3} // one a minute
	before := time.Now()
	for i, lim := range []*Limiter{a, b, a} {
		d, err := lim.Take(ctx, "k", l, 1)
		if err != nil || !d.Allowed || d.Remaining != 2-i {
			t.Fatalf("Take %d = %+v, %v; want allowed, %d remaining", i, d, err, 2-i)
		}
	}
	d, err := b.Take(ctx, "k", l, 1)
	if err != nil || d.Allowed {
		t.Fatalf("Take on an empty shared bucket = %+v, %v; want refused", d, err)
	}
	// The server runs on this machine: its clock is ours within the
	// test's duration, give or take a second.
	if d.RetryAfter <= 0 || d.RetryAfter > time.Minute {
		t.Errorf("RetryAfter = %v; want in (0, 1m]", d.RetryAfter)
	}
	wantReset := before.Add(3 * time.Minute)
	if d.Reset.Before(wantReset.Add(-time.Second)) || d.Reset.After(time.Now().Add(3*time.Minute+time.Second)) {
		t.Errorf("Reset = %v; want about %v (server clock)", d.Reset, wantReset)
	}
	if d, err := a.Take(ctx, "k", l, 0); err != nil || d.Allowed {
		t.Errorf("peek = %+v, %v; want refused", d, err)
	}
	// The key expires with the bucket: about three minutes.
	ttl, err := a.Client.rdb.PTTL(ctx, keyName(p, "k")).Result()
	if err != nil || ttl <= 2*time.Minute || ttl > 3*time.Minute {
		t.Errorf("PTTL(bucket) = %v, %v; want about 3m", ttl, err)
	}

	// Concurrent takers on both instances, on the server's clock, are
	// granted exactly the budget.
	const budget = 25
	var granted atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			lim := []*Limiter{a, b}[i%2]
			for range 10 {
				d, err := lim.Take(ctx, "race", ratelimit.Limit{Rate: 1.0 / 3600, Burst: budget}, 1)
				if err != nil {
					t.Error(err)
				}
				if d.Allowed {
					granted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := granted.Load(); n != budget {
		t.Errorf("160 concurrent Takes on two instances granted %d; want exactly %d", n, budget)
	}
}

// redisStore is a memstore whose revocations live in Redis, so that the
// store conformance suite exercises Revocations.
type redisStore struct {
	*memstore.Store
	rev *Revocations
}

func (s redisStore) RevokeToken(ctx context.Context, jti string, expiry time.Time) error {
	return s.rev.RevokeToken(ctx, jti, expiry)
}

func (s redisStore) IsRevoked(ctx context.Context, jti string) (bool, error) {
	return s.rev.IsRevoked(ctx, jti)
}

func (s redisStore) Ping(ctx context.Context) error { return s.rev.Client.Ping(ctx) }

func TestRevocationsConformance(t *testing.T) {
	redisURL(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s := redisStore{memstore.New(), &Revocations{Client: open(t), Prefix: prefix(t)}}
		t.Cleanup(func() { s.Store.Close() })
		return s
	})
}

func TestRevocations(t *testing.T) {
	p := prefix(t)
	a := &Revocations{Client: open(t), Prefix: p}
	b := &Revocations{Client: open(t), Prefix: p}
	ctx := t.Context()
	now := time.Now()
	long := strings.Repeat("j", 1000)
	for _, jti := range []string{"x", long} {
		if err := a.RevokeToken(ctx, jti, now.Add(time.Minute)); err != nil {
			t.Fatalf("RevokeToken(%.10s) = %v", jti, err)
		}
		if got, err := b.IsRevoked(ctx, jti); !got || err != nil {
			t.Errorf("IsRevoked(%.10s) on another client = %v, %v; want true", jti, got, err)
		}
	}
	if got, _ := b.IsRevoked(ctx, long[:999]); got {
		t.Errorf("IsRevoked(a prefix of a revoked long jti) = true; want false")
	}
	// The record expires with the token (PX, rounded up to milliseconds).
	ttl, err := a.Client.rdb.PTTL(ctx, a.key("x")).Result()
	if err != nil || ttl <= 50*time.Second || ttl > time.Minute {
		t.Errorf("PTTL(x) = %v, %v; want about 1m", ttl, err)
	}
	// A shorter revocation leaves the longer one in place.
	if err := b.RevokeToken(ctx, "x", now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := a.Client.rdb.PTTL(ctx, a.key("x")).Result(); ttl <= 50*time.Second {
		t.Errorf("PTTL(x) after a shorter revocation = %v; want about 1m", ttl)
	}
	// Another prefix is another namespace.
	other := &Revocations{Client: a.Client, Prefix: p + "other:"}
	if got, err := other.IsRevoked(ctx, "x"); got || err != nil {
		t.Errorf("IsRevoked(x) under another prefix = %v, %v; want false", got, err)
	}
}

func TestReplayTTL(t *testing.T) {
	p := prefix(t)
	now := time.Unix(1_700_000_000, 0)
	c := &ReplayCache{Client: open(t), Prefix: p, Now: func() time.Time { return now }}
	ctx := t.Context()
	for _, tc := range []struct {
		key      string
		lifetime time.Duration
		wantPTTL time.Duration
	}{
		{"minute", time.Minute, time.Minute},
		{"sub-millisecond rounds up", 1500 * time.Microsecond, 2 * time.Millisecond},
	} {
		t.Run(tc.key, func(t *testing.T) {
			if ok, err := c.Use(ctx, tc.key, now.Add(tc.lifetime)); !ok || err != nil {
				t.Fatalf("Use = %v, %v; want true", ok, err)
			}
			ttl, err := c.Client.rdb.PTTL(ctx, keyName(p, tc.key)).Result()
			if tc.wantPTTL > time.Second && (err != nil || ttl <= tc.wantPTTL-time.Second || ttl > tc.wantPTTL) {
				t.Errorf("PTTL = %v, %v; want about %v", ttl, err, tc.wantPTTL)
			}
		})
	}
	if n, _ := c.Client.rdb.Exists(ctx, keyName(DefaultReplayPrefix, "minute")).Result(); n != 0 {
		t.Errorf("key written outside the configured prefix")
	}
}

// deadAddr returns an address on which nothing listens.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// hungAddr returns an address that accepts connections and never answers.
func hungAddr(t *testing.T) string { return fakeAddr(t, nil) }

// fakeAddr returns the address of a server that runs serve (nil: nothing,
// a server that never answers) on each connection it accepts; the
// listener and every connection are closed when the test ends.
func fakeAddr(t *testing.T, serve func(net.Conn)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			if serve != nil {
				go serve(c)
			}
		}
	}()
	return ln.Addr().String()
}

func lazy(t *testing.T, addr string) *Client {
	c, err := Config{Lazy: true}.Open(t.Context(), "redis://"+addr+"/0")
	if err != nil {
		t.Fatalf("Open(lazy) = %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestOpenUnreachable(t *testing.T) {
	start := time.Now()
	if c, err := Open(t.Context(), "redis://"+hungAddr(t)+"/0"); err == nil {
		c.Close()
		t.Fatal("Open(a server that never answers) = nil error")
	}
	if el := time.Since(start); el > 4*time.Second {
		t.Errorf("Open(a server that never answers) took %v; want bounded by the timeouts", el)
	}
	if _, err := Open(t.Context(), "redis://"+deadAddr(t)+"/0"); err == nil {
		t.Error("Open(a closed port) = nil error")
	}
}

func TestOpenBadURL(t *testing.T) {
	for _, u := range []string{
		"http://user:s3cret@localhost:6379/0",
		"redis://user:s3cret@localhost:6379/zero",
		"redis://user:s3cret@localhost:6379/0/1",
		"redis://user:s3cret@local host:6379/0",
		"redis://user:s3cret@localhost:6379/0?dial_timeout=soon",
		"redis://user:s3cret@[::1/0",
		// The password pasted where the parser quotes the value back.
		"redis://:s3cret@localhost:6379/s3cret",
		"redis://:s3cret@localhost:6379/0?dial_timeout=s3cret",
	} {
		_, err := Open(t.Context(), u)
		if err == nil {
			t.Errorf("Open(%q) = nil error", u)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%q) = %q; the error shows the password", u, err)
		}
		if !strings.HasPrefix(err.Error(), "redisstore: ") {
			t.Errorf("Open(%q) = %q; want a redisstore: error", u, err)
		}
	}
}

// TestFaults shows what each type does when Redis cannot answer: refused
// connections (a closed port) and a server that accepts but never replies
// (bounded by the timeouts). It never touches the shared Redis server.
func TestFaults(t *testing.T) {
	for _, srv := range []struct {
		name string
		addr func(*testing.T) string
	}{
		{"closed port", deadAddr},
		{"hung server", hungAddr},
	} {
		t.Run(srv.name, func(t *testing.T) {
			c := lazy(t, srv.addr(t))
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			ctx := t.Context()
			exp := time.Now().Add(time.Minute)
			bounded := func(name string, f func()) {
				t.Helper()
				start := time.Now()
				f()
				// DefaultCallTimeout is 2s; allow for a loaded machine.
				if el := time.Since(start); el > 4*time.Second {
					t.Errorf("%s took %v; want bounded by the call timeout", name, el)
				}
			}

			bounded("ReplayCache.Use (fail closed)", func() {
				rc := &ReplayCache{Client: c, Logger: log}
				if ok, err := rc.Use(ctx, "k", exp); ok || err == nil {
					t.Errorf("Use with Redis down = %v, %v; want false and an error (fail closed)", ok, err)
				}
				if !strings.Contains(logs.String(), "fail closed") {
					t.Errorf("fail-closed refusal not logged: %q", logs.String())
				}
			})
			// The failure starts the backoff: the next calls fail at once.
			start := time.Now()
			rc := &ReplayCache{Client: c}
			if ok, err := rc.Use(ctx, "k2", exp); ok || !errors.Is(err, ErrUnavailable) {
				t.Errorf("Use during the backoff = %v, %v; want false, ErrUnavailable", ok, err)
			}
			if el := time.Since(start); el > 100*time.Millisecond {
				t.Errorf("Use during the backoff took %v; want at once", el)
			}
			logs.Reset()
			bounded("ReplayCache.Use (fail open)", func() {
				rc := &ReplayCache{Client: c, Logger: log, InsecureFailOpen: true}
				if ok, err := rc.Use(ctx, "k", exp); !ok || err != nil {
					t.Errorf("Use with Redis down and InsecureFailOpen = %v, %v; want true, nil", ok, err)
				}
				if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "fail open") {
					t.Errorf("fail-open acceptance not logged as a warning: %q", logs.String())
				}
			})
			l := ratelimit.Limit{Rate: 1.0 / 60, Burst: 2}
			bounded("Limiter.Take (no fallback)", func() {
				lim := &Limiter{Client: c}
				if d, err := lim.Take(ctx, "k", l, 1); err == nil || d.Allowed {
					t.Errorf("Take with Redis down and no Fallback = %+v, %v; want an error", d, err)
				}
			})
			logs.Reset()
			lim := &Limiter{Client: c, Fallback: &ratelimit.Memory{}, Logger: log}
			for i, want := range []bool{true, true, false} {
				bounded("Limiter.Take (fallback)", func() {
					d, err := lim.Take(ctx, "k", l, 1)
					if err != nil || d.Allowed != want {
						t.Errorf("Take %d with Redis down and a Fallback = %+v, %v; want allowed=%v from local buckets", i, d, err, want)
					}
				})
			}
			if n := strings.Count(logs.String(), "using local buckets"); n != 1 {
				t.Errorf("fallback logged %d times in three quick calls; want 1 (at most once a second):\n%s", n, logs.String())
			}
			bounded("Revocations", func() {
				r := &Revocations{Client: c}
				if err := r.RevokeToken(ctx, "j", exp); err == nil {
					t.Error("RevokeToken with Redis down = nil error")
				}
				if got, err := r.IsRevoked(ctx, "j"); got || err == nil {
					t.Errorf("IsRevoked with Redis down = %v, %v; want an error", got, err)
				}
			})
			bounded("Ping", func() {
				if err := c.Ping(ctx); err == nil {
					t.Error("Ping with Redis down = nil error")
				}
			})
		})
	}
}

func TestZeroValues(t *testing.T) {
	ctx := t.Context()
	exp := time.Now().Add(time.Minute)
	if ok, err := (&ReplayCache{}).Use(ctx, "k", exp); ok || err == nil {
		t.Errorf("ReplayCache{}.Use = %v, %v; want false and an error", ok, err)
	}
	if ok, err := (&ReplayCache{InsecureFailOpen: true}).Use(ctx, "k", exp); !ok || err != nil {
		t.Errorf("ReplayCache{InsecureFailOpen}.Use = %v, %v; want true, nil", ok, err)
	}
	l := ratelimit.Limit{Rate: 1, Burst: 1}
	if d, err := (&Limiter{}).Take(ctx, "k", l, 1); d.Allowed || !errors.Is(err, errNoClient) {
		t.Errorf("Limiter{}.Take = %+v, %v; want an error", d, err)
	}
	if d, err := (&Limiter{Fallback: &ratelimit.Memory{}}).Take(ctx, "k", l, 1); !d.Allowed || err != nil {
		t.Errorf("Limiter{Fallback}.Take = %+v, %v; want allowed by the fallback", d, err)
	}
	if err := (&Revocations{}).RevokeToken(ctx, "j", exp); err == nil {
		t.Error("Revocations{}.RevokeToken = nil error")
	}
	if got, err := (&Revocations{}).IsRevoked(ctx, "j"); got || err == nil {
		t.Errorf("Revocations{}.IsRevoked = %v, %v; want an error", got, err)
	}
}

// TestRecovery routes a client through a proxy that the test cuts and
// restores, standing in for a Redis outage without stopping the shared
// server: the limiter falls back to local buckets and returns to the
// shared ones, and the replay cache refuses, then works again.
func TestRecovery(t *testing.T) {
	target := os.Getenv("M2M_TEST_REDIS_ADDR")
	p := prefix(t)
	px := newProxy(t, target)
	c := lazy(t, px.addr)
	direct := &Limiter{Client: open(t), Prefix: p}
	lim := &Limiter{Client: c, Prefix: p, Fallback: &ratelimit.Memory{}}
	rc := &ReplayCache{Client: c, Prefix: p}
	ctx := t.Context()
	l := ratelimit.Limit{Rate: 1.0 / 60, Burst: 1}
	exp := time.Now().Add(time.Minute)

	if d, err := lim.Take(ctx, "shared", l, 1); !d.Allowed || err != nil {
		t.Fatalf("Take through the proxy = %+v, %v; want allowed", d, err)
	}
	px.cut()
	if ok, err := rc.Use(ctx, "nonce", exp); ok || err == nil {
		t.Errorf("Use during the outage = %v, %v; want refused with an error", ok, err)
	}
	if d, err := lim.Take(ctx, "local", l, 1); !d.Allowed || err != nil {
		t.Errorf("Take during the outage = %+v, %v; want allowed by the local bucket", d, err)
	}
	if d, _ := direct.Take(ctx, "local", l, 0); !d.Allowed {
		t.Errorf("the outage's local take reached Redis")
	}
	px.restore()
	// Ping always tries and ends the backoff once Redis answers; a pooled
	// connection that died with the outage may cost one failed attempt.
	var perr error
	for range 3 {
		if perr = c.Ping(ctx); perr == nil {
			break
		}
	}
	if perr != nil {
		t.Fatalf("Ping after Redis came back = %v", perr)
	}
	if ok, err := rc.Use(ctx, "nonce", exp); !ok || err != nil {
		t.Errorf("first Use after recovery = %v, %v; want true, nil", ok, err)
	}
	if d, err := lim.Take(ctx, "shared", l, 1); d.Allowed || err != nil {
		t.Errorf("Take after recovery = %+v, %v; want refused by the shared bucket", d, err)
	}
}

// proxy forwards TCP connections to a target until cut.
type proxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, target: target}
	p.listen("127.0.0.1:0")
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", p.target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go pipe(in, out)
			go pipe(out, in)
		}
	}()
}

func pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

// cut closes the listener and every connection: the "server" is down.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// restore listens again on the same address.
func (p *proxy) restore() { p.listen(p.addr) }

func TestKeyName(t *testing.T) {
	long := strings.Repeat("k", MaxKeyLen+1)
	sum := keyName("", long)[1:]
	for _, tc := range []struct {
		key, want string
	}{
		{"", "p:"},
		{"abc", "p:abc"},
		{"#abc", "p:##abc"},
		{strings.Repeat("k", MaxKeyLen), "p:" + strings.Repeat("k", MaxKeyLen)},
		{long, "p:#" + sum},
		{"#" + sum, "p:##" + sum}, // a short key that looks like a digest
	} {
		if got := keyName("p:", tc.key); got != tc.want {
			t.Errorf("keyName(p:, %.20q) = %.40q; want %.40q", tc.key, got, tc.want)
		}
	}
	if len(sum) != 64 {
		t.Errorf("digest %q has %d bytes; want 64", sum, len(sum))
	}
}

func FuzzKeyName(f *testing.F) {
	f.Add("a", "b")
	f.Add("#a", "a")
	f.Add(strings.Repeat("k", MaxKeyLen+1), "#"+hex.EncodeToString(make([]byte, 32)))
	f.Fuzz(func(t *testing.T, a, b string) {
		ka, kb := keyName("p:", a), keyName("p:", b)
		if (a == b) != (ka == kb) {
			t.Fatalf("keyName(%q) = %q, keyName(%q) = %q: equal keys must map together, distinct ones apart", a, ka, b, kb)
		}
		if len(ka) > len("p:")+max(MaxKeyLen+1, 65) {
			t.Fatalf("keyName(%d bytes) = %d bytes; want bounded", len(a), len(ka))
		}
	})
}

func TestDecide(t *testing.T) {
	const s = int64(time.Second / time.Microsecond)
	now := int64(1_700_000_000) * s
	for _, tc := range []struct {
		name      string
		allowed   bool
		tat       int64
		n         int
		remaining int
		retry     time.Duration
	}{
		{"full bucket peek", true, now, 0, 3, 0},
		{"after one take", true, now + s, 1, 2, 0},
		{"empty", true, now + 3*s, 1, 0, 0},
		{"refused", false, now + 3*s, 1, 0, time.Second},
		{"refused two with one left", false, now + 2*s, 2, 1, time.Second},
		{"refused peek", false, now + 3*s + s/2, 0, 0, 1500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := decide(tc.allowed, now, tc.tat, s, 3, tc.n)
			if d.Allowed != tc.allowed || d.Remaining != tc.remaining || d.RetryAfter != tc.retry || !d.Reset.Equal(time.UnixMicro(tc.tat)) || d.Limit != 3 {
				t.Errorf("decide(%v, tat=now+%dus, n=%d) = %+v; want remaining %d, retry %v", tc.allowed, tc.tat-now, tc.n, d, tc.remaining, tc.retry)
			}
		})
	}
}

func TestLimiterRange(t *testing.T) {
	c := lazy(t, deadAddr(t))
	lim := &Limiter{Client: c}
	// A limit whose arithmetic would leave the exact range of a double is
	// an error, before Redis is asked.
	_, err := lim.Take(t.Context(), "k", ratelimit.Limit{Rate: 1e-9, Burst: 1 << 20}, 1)
	if err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("Take(rate 1e-9, burst 2^20) = %v; want out of range", err)
	}
	// A rate so slow that its interval overflows an int64 is out of range
	// too (it once wrapped to the fastest rate).
	_, err = lim.Take(t.Context(), "k", ratelimit.Limit{Rate: 1e-20, Burst: 1}, 1)
	if err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("Take(rate 1e-20, burst 1) = %v; want out of range", err)
	}
	// A negative n is refused without asking Redis (which is down here).
	d, err := lim.Take(t.Context(), "k", ratelimit.Limit{Rate: 1, Burst: 1}, -1)
	if err != nil || d.Allowed || d.RetryAfter <= 0 {
		t.Errorf("Take(n=-1) = %+v, %v; want refused without an error", d, err)
	}
}

var sink ratelimit.Decision

// The benchmarks run against the Redis at M2M_TEST_REDIS_ADDR (the memory
// cases always run, for comparison):
//
//	M2M_TEST_REDIS_ADDR=127.0.0.1:6379 go test -run '^$' -bench . -benchmem ./redisstore/

func BenchmarkReplayUse(b *testing.B) {
	exp := time.Now().Add(time.Hour)
	b.Run("memory", func(b *testing.B) {
		c := &replay.Memory{MaxEntries: 1 << 24} // b.Loop keeps every key of the ramp-up
		benchReplay(b, c, exp)
	})
	b.Run("redis", func(b *testing.B) {
		c := &ReplayCache{Client: open(b), Prefix: prefix(b)}
		benchReplay(b, c, exp)
	})
}

// benchReplay measures accept-once latency and reports its median and
// 99th percentile beside the mean.
func benchReplay(b *testing.B, c m2m.ReplayCache, exp time.Time) {
	ctx := context.Background()
	i := 0
	var lat []time.Duration
	for b.Loop() {
		i++
		start := time.Now()
		ok, err := c.Use(ctx, fmt.Sprint("nonce-", i), exp)
		lat = append(lat, time.Since(start))
		if !ok || err != nil {
			b.Fatalf("Use = %v, %v", ok, err)
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

func BenchmarkReplayUseParallel(b *testing.B) {
	c := &ReplayCache{Client: open(b), Prefix: prefix(b)}
	exp := time.Now().Add(time.Hour)
	var mu sync.Mutex
	n := 0
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			mu.Lock()
			n++
			k := n
			mu.Unlock()
			if ok, err := c.Use(ctx, fmt.Sprint("nonce-", k), exp); !ok || err != nil {
				b.Errorf("Use = %v, %v", ok, err)
				return
			}
		}
	})
}

// BenchmarkLimiterTake measures one Take of a large limit (never
// refused): in memory, on Redis exactly (one script per take), on Redis
// with leases (one script per lease of MaxLeaseSize), and peeks of a full
// bucket on Redis, asked each time or remembered (PeekTTL). It reports the
// scripts sent to Redis per take beside the latency.
func BenchmarkLimiterTake(b *testing.B) {
	l := ratelimit.Limit{Rate: 1e6, Burst: 1 << 30}
	redisLim := func(lease, peekTTL time.Duration) func(b *testing.B) ratelimit.Limiter {
		return func(b *testing.B) ratelimit.Limiter {
			return &Limiter{Client: open(b), Prefix: prefix(b), Lease: lease, PeekTTL: peekTTL}
		}
	}
	for _, bc := range []struct {
		name string
		n    int
		lim  func(b *testing.B) ratelimit.Limiter
	}{
		{"memory", 1, func(*testing.B) ratelimit.Limiter { return &ratelimit.Memory{} }},
		{"redis", 1, redisLim(0, 0)},
		{"redis-lease", 1, redisLim(100*time.Millisecond, 0)},
		{"redis-peek", 0, redisLim(0, 0)},
		{"redis-peek-remembered", 0, redisLim(0, time.Second)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			lim := bc.lim(b)
			ctx := context.Background()
			lat := make([]time.Duration, 0, 1<<20)
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				d, err := lim.Take(ctx, "client", l, bc.n)
				if len(lat) < cap(lat) {
					lat = append(lat, time.Since(start))
				}
				if err != nil || !d.Allowed {
					b.Fatalf("Take = %+v, %v", d, err)
				}
				sink = d
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			if rl, ok := lim.(*Limiter); ok {
				b.ReportMetric(float64(rl.scripts.Load())/float64(b.N), "scripts/op")
			}
		})
	}
}

// BenchmarkLimiterTakeParallel is BenchmarkLimiterTake's Redis cases
// with concurrent takers on one key, as a busy client's requests are.
func BenchmarkLimiterTakeParallel(b *testing.B) {
	l := ratelimit.Limit{Rate: 1e6, Burst: 1 << 30}
	for _, bc := range []struct {
		name  string
		lease time.Duration
	}{
		{"redis", 0},
		{"redis-lease", 100 * time.Millisecond},
	} {
		b.Run(bc.name, func(b *testing.B) {
			lim := &Limiter{Client: open(b), Prefix: prefix(b), Lease: bc.lease}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if d, err := lim.Take(ctx, "client", l, 1); err != nil || !d.Allowed {
						b.Errorf("Take = %+v, %v", d, err)
						return
					}
				}
			})
			b.ReportMetric(float64(lim.scripts.Load())/float64(b.N), "scripts/op")
		})
	}
}

// TestNoRetries guards against go-redis's default of retrying after a
// timeout: SET NX and the limiter script are not idempotent, so a retry
// after a lost reply turns a first use into a replay or takes twice.
func TestNoRetries(t *testing.T) {
	c := lazy(t, deadAddr(t))
	opt := c.rdb.Options()
	// go-redis stores "-1: no retries" as 0 once the client is made.
	if opt.MaxRetries != 0 {
		t.Errorf("MaxRetries = %d; want 0 (no retries)", opt.MaxRetries)
	}
	if opt.ReadTimeout != DefaultReadTimeout || opt.WriteTimeout != DefaultWriteTimeout || opt.DialTimeout != DefaultDialTimeout {
		t.Errorf("timeouts = dial %v read %v write %v; want the defaults", opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout)
	}
}

// advanceRedis makes d pass for the keys under prefix: each key's time to
// live shrinks by d, and a key whose time is up is deleted, as Redis would
// after d of real time.
func advanceRedis(t testing.TB, c *Client, prefix string, d time.Duration) {
	t.Helper()
	ctx := context.Background()
	iter := c.rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		ttl, err := c.rdb.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatalf("PTTL %s: %v", key, err)
		}
		switch {
		case ttl < 0: // no expiry (or gone)
		case ttl <= d:
			err = c.rdb.Del(ctx, key).Err()
		default:
			err = c.rdb.PExpire(ctx, key, ttl-d).Err()
		}
		if err != nil {
			t.Fatalf("advancing %s by %v: %v", key, d, err)
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("scan %s*: %v", prefix, err)
	}
}
