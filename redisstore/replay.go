package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/m2mkit/m2m"
)

// DefaultReplayPrefix prefixes the keys of a [ReplayCache] whose Prefix is
// empty.
const DefaultReplayPrefix = "m2m:replay:"

// ReplayCache is an [m2m.ReplayCache] in Redis, shared by every replica
// that uses the same server and prefix: each key is recorded with one
// atomic SET NX PX, whose lifetime is the time left until the key's
// expiry, so of any number of concurrent uses across replicas exactly one
// reports first use.
//
// When Redis cannot answer, Use returns the error (callers then refuse the
// credential: fail closed), unless InsecureFailOpen is set. The zero value (no
// Client) fails closed on every call. A ReplayCache is safe for concurrent
// use; do not change its fields while it is in use.
type ReplayCache struct {
	Client *Client
	// Prefix is prepended to every key (empty means DefaultReplayPrefix).
	// Give each cache a distinct prefix when several share one server.
	Prefix string
	// InsecureFailOpen makes Use report a first use, and log a warning, when Redis
	// cannot answer. It keeps the service up during a Redis outage at the
	// price of accepting replays until Redis is back; the default (false)
	// refuses instead.
	InsecureFailOpen bool
	// Logger receives the failures, one line a second at most (nil
	// discards them).
	Logger *slog.Logger
	// Now returns the current time, from which the key's lifetime is
	// computed (nil means time.Now).
	Now func() time.Time

	lastLog atomic.Int64 // unix nanoseconds of the last failure logged
}

var _ m2m.ReplayCache = (*ReplayCache)(nil)

// Use records key until expiry and reports whether it was unseen. A key
// whose expiry has already passed is not recorded and reports true, as
// [replay.Memory] does: the credential it stands for is refused by its own
// time check.
func (c *ReplayCache) Use(ctx context.Context, key string, expiry time.Time) (bool, error) {
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	ttl := ttlMillis(expiry.Sub(now))
	if ttl <= 0 {
		return true, nil
	}
	first, err := c.use(ctx, key, ttl)
	if err == nil {
		return first, nil
	}
	// One line a second at most: an outage must not flood the log.
	log := false
	if now := time.Now().UnixNano(); now-c.lastLog.Load() >= int64(time.Second) {
		c.lastLog.Store(now)
		log = true
	}
	if c.InsecureFailOpen {
		if log {
			logger(c.Logger).WarnContext(ctx, "redisstore: replay cache unavailable, accepting (fail open)", "error", err)
		}
		return true, nil
	}
	if log {
		logger(c.Logger).ErrorContext(ctx, "redisstore: replay cache unavailable, refusing (fail closed)", "error", err)
	}
	return false, err
}

func (c *ReplayCache) use(ctx context.Context, key string, ttl int64) (bool, error) {
	if c.Client == nil {
		return false, errNoClient
	}
	prefix := c.Prefix
	if prefix == "" {
		prefix = DefaultReplayPrefix
	}
	var first bool
	err := c.Client.do(ctx, func(ctx context.Context) (err error) {
		first, err = c.Client.rdb.SetNX(ctx, keyName(prefix, key), "1", time.Duration(ttl)*time.Millisecond).Result()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("redisstore: replay cache: %w", err)
	}
	return first, nil
}

var discard = slog.New(slog.DiscardHandler)

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return discard
	}
	return l
}
