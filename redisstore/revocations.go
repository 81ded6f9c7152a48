package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/m2mkit/m2m/store"
)

// DefaultRevocationPrefix prefixes the keys of [Revocations] whose Prefix
// is empty.
const DefaultRevocationPrefix = "m2m:revoked:"

// revokeScript sets KEYS[1] with a lifetime of ARGV[1] milliseconds unless
// it already lives longer, so that revoking again never shortens a
// revocation.
const revokeScript = `
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -1 or ttl >= tonumber(ARGV[1]) then
	return 0
end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
return 1
`

var revoke = redis.NewScript(revokeScript)

// Revocations is a [store.Revocations] in Redis: each revoked jti is a key
// that expires with the token it revokes (SET PX with the token's
// remaining lifetime), so replicas see a revocation on their next check
// and the set never outgrows the live tokens. Errors are returned as is:
// the caller decides whether an unanswered IsRevoked refuses the token.
// The zero value (no Client) returns an error on every call. Revocations
// is safe for concurrent use.
type Revocations struct {
	Client *Client
	// Prefix is prepended to every key (empty means
	// DefaultRevocationPrefix).
	Prefix string
	// Now returns the current time, from which a revocation's lifetime is
	// computed (nil means time.Now).
	Now func() time.Time
}

var _ store.Revocations = (*Revocations)(nil)

func (r *Revocations) key(jti string) string {
	p := r.Prefix
	if p == "" {
		p = DefaultRevocationPrefix
	}
	return keyName(p, jti)
}

// RevokeToken marks jti revoked until expiry. A zero expiry returns an
// error wrapping [store.ErrNoExpiry]; an expiry already past records
// nothing (the token is invalid anyway), and a revocation is never
// shortened.
func (r *Revocations) RevokeToken(ctx context.Context, jti string, expiry time.Time) error {
	if expiry.IsZero() {
		return fmt.Errorf("redisstore: revoke: %w", store.ErrNoExpiry)
	}
	if r.Client == nil {
		return errNoClient
	}
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	ttl := ttlMillis(expiry.Sub(now))
	if ttl <= 0 {
		return nil
	}
	err := r.Client.do(ctx, func(ctx context.Context) error {
		return revoke.Run(ctx, r.Client.rdb, []string{r.key(jti)}, ttl).Err()
	})
	if err != nil {
		return fmt.Errorf("redisstore: revoke: %w", err)
	}
	return nil
}

// IsRevoked reports whether jti is revoked and its revocation has not
// expired.
func (r *Revocations) IsRevoked(ctx context.Context, jti string) (bool, error) {
	if r.Client == nil {
		return false, errNoClient
	}
	var n int64
	err := r.Client.do(ctx, func(ctx context.Context) (err error) {
		n, err = r.Client.rdb.Exists(ctx, r.key(jti)).Result()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("redisstore: is revoked: %w", err)
	}
	return n == 1, nil
}
