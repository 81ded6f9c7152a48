// Package redisstore keeps the state that several m2m replicas must see
// within milliseconds in Redis (or any server speaking the Redis protocol
// with Lua scripting, such as Valkey): a [ReplayCache] ([m2m.ReplayCache],
// an atomic "accept once" built on SET NX PX), a [Limiter]
// ([ratelimit.Limiter], the generic cell rate algorithm in one Lua script
// that reads the server's clock, so two replicas share one budget;
// optionally leasing a large limit's tokens in batches) and
// [Revocations] ([store.Revocations], revoked token ids kept until the
// token's expiry).
//
// A [Client] is opened from a URL, redis://[USER:PASSWORD@]HOST:PORT/DB
// (rediss:// for TLS), as go-redis parses it. Every call is bounded by
// timeouts, so a dead or hung Redis turns into an error within two
// seconds rather than a stuck request (and, during the following
// [Config.Backoff], at once); what happens then is each type's
// choice: the replay cache fails closed unless InsecureFailOpen is set, the
// limiter falls back to a local [ratelimit.Limiter] when one is given.
//
// The Redis client library is an implementation detail: no go-redis type
// appears in this package's API.
package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/m2mkit/m2m/internal/redact"
)

// Default timeouts of a [Config] whose fields are zero.
const (
	DefaultDialTimeout  = time.Second
	DefaultReadTimeout  = time.Second
	DefaultWriteTimeout = time.Second
	DefaultCallTimeout  = 2 * time.Second
	DefaultBackoff      = time.Second
)

// MaxKeyLen is the longest caller key (replay key, rate-limit key, jti)
// stored as is; longer keys are stored as their SHA-256 digest, so an
// untrusted key never costs Redis more than this many bytes.
const MaxKeyLen = 256

// Config tunes a [Client]. The zero value is ready to use and gives the
// defaults named below; its fields override what the URL says.
type Config struct {
	// DialTimeout bounds establishing a connection (0 means
	// DefaultDialTimeout).
	DialTimeout time.Duration
	// ReadTimeout and WriteTimeout bound each socket read and write (0
	// means DefaultReadTimeout and DefaultWriteTimeout).
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// CallTimeout bounds each operation as a whole, retries and waiting
	// for a pooled connection included, whatever the caller's context
	// allows (0 means DefaultCallTimeout).
	CallTimeout time.Duration
	// Backoff is how long, after a failure to reach Redis, every call
	// fails at once without trying (0 means DefaultBackoff; negative
	// disables it). A dead or hung server then costs one timeout per
	// Backoff instead of one per request. Ping always tries.
	Backoff time.Duration
	// PoolSize is the maximum number of connections (0 means go-redis's
	// default, ten per CPU).
	PoolSize int
	// Lazy skips the PING that Open sends, so that a process can start
	// while Redis is down (the InsecureFailOpen and Fallback options then apply
	// until it is back). When false, Open fails if Redis is unreachable.
	Lazy bool
}

// Client is a connection pool to one Redis server. It is safe for
// concurrent use. Create it with [Open] or [Config.Open], share it between
// a [ReplayCache], a [Limiter] and [Revocations], and Close it when done.
type Client struct {
	rdb         *redis.Client
	callTimeout time.Duration
	backoff     time.Duration
	downUntil   atomic.Int64 // unix nanoseconds; calls fail at once before it
	// url is the URL the client was opened with: every error it returns
	// is passed through redact.Error for it, so that no driver message
	// shows its password.
	url string
}

// ErrUnavailable is wrapped by the errors of calls refused at once because
// Redis failed to answer within the last [Config.Backoff].
var ErrUnavailable = errors.New("redisstore: Redis unavailable")

// Open connects to the Redis server at rawURL with the default [Config].
func Open(ctx context.Context, rawURL string) (*Client, error) {
	return Config{}.Open(ctx, rawURL)
}

// Open connects to the Redis server at rawURL,
// redis://[USER:PASSWORD@]HOST:PORT/DB, and, unless c.Lazy is set, checks
// with a PING that it answers. Errors never include the URL's password.
func (c Config) Open(ctx context.Context, rawURL string) (*Client, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, password included
		}
		// The parser's errors quote parts of the URL, where a password
		// pasted into the wrong place would show.
		return nil, fmt.Errorf("redisstore: invalid URL: %w", redact.Error(err, rawURL))
	}
	opt.DialTimeout = orDefault(c.DialTimeout, DefaultDialTimeout)
	opt.ReadTimeout = orDefault(c.ReadTimeout, DefaultReadTimeout)
	opt.WriteTimeout = orDefault(c.WriteTimeout, DefaultWriteTimeout)
	opt.PoolTimeout = opt.ReadTimeout
	opt.ContextTimeoutEnabled = true
	// No retries: SET NX and the limiter's script are not idempotent. A
	// retry after a lost reply would report a first use as a replay, or
	// take twice.
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	if c.PoolSize > 0 {
		opt.PoolSize = c.PoolSize
	}
	cl := &Client{
		rdb:         redis.NewClient(opt),
		callTimeout: orDefault(c.CallTimeout, DefaultCallTimeout),
		backoff:     c.Backoff,
		url:         rawURL,
	}
	if cl.backoff == 0 {
		cl.backoff = DefaultBackoff
	}
	if !c.Lazy {
		if err := cl.Ping(ctx); err != nil {
			cl.Close()
			return nil, err // Ping's errors are masked
		}
	}
	return cl, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Ping reports whether the server answers (for /readyz). It always tries,
// and a success ends the backoff after a failure.
func (c *Client) Ping(ctx context.Context) error {
	bctx, cancel := c.bound(ctx)
	defer cancel()
	if err := c.rdb.Ping(bctx).Err(); err != nil {
		c.failed(ctx, err)
		return fmt.Errorf("redisstore: ping: %w", redact.Error(err, c.url))
	}
	c.downUntil.Store(0)
	return nil
}

// begin reports ErrUnavailable during the backoff after a failure.
func (c *Client) begin() error {
	if c.backoff > 0 && time.Now().UnixNano() < c.downUntil.Load() {
		return ErrUnavailable
	}
	return nil
}

// failed starts the backoff after err, unless err is an answer from Redis
// (the server is up), a wait for a busy pool (this process is busy, not
// Redis down) or the end of the caller's own ctx.
func (c *Client) failed(ctx context.Context, err error) {
	var reply redis.Error
	if c.backoff <= 0 || ctx.Err() != nil || errors.As(err, &reply) ||
		errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrPoolExhausted) {
		return
	}
	c.downUntil.Store(time.Now().Add(c.backoff).UnixNano())
}

// Close closes the connections. Later calls fail.
func (c *Client) Close() error { return c.rdb.Close() }

// bound applies the call timeout to ctx.
func (c *Client) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.callTimeout)
}

// do runs f with the call timeout, unless the backoff after a failure is
// running, and starts the backoff when f fails to reach Redis.
func (c *Client) do(ctx context.Context, f func(context.Context) error) error {
	if err := c.begin(); err != nil {
		return err
	}
	bctx, cancel := c.bound(ctx)
	defer cancel()
	err := f(bctx)
	if err != nil {
		c.failed(ctx, err)
		return redact.Error(err, c.url)
	}
	return nil
}

// errNoClient is returned by a ReplayCache, Limiter or Revocations whose
// Client is nil, so that their zero values fail closed.
var errNoClient = errors.New("redisstore: no Client configured")

// keyName returns the Redis key for a caller's key under prefix: the key
// itself when short, else "#" and the hex SHA-256 of it. A short key that
// starts with "#" is escaped with a second "#" so the two forms never meet.
func keyName(prefix, key string) string {
	if len(key) > MaxKeyLen {
		sum := sha256.Sum256([]byte(key))
		return prefix + "#" + hex.EncodeToString(sum[:])
	}
	if len(key) > 0 && key[0] == '#' {
		return prefix + "#" + key
	}
	return prefix + key
}

// ttlMillis rounds d up to whole milliseconds, so that a key is kept at
// least until its deadline.
func ttlMillis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}
