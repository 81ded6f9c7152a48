package redisstore

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultQuotaPrefix prefixes the keys of [QuotaCounter] whose Prefix is
// empty.
const DefaultQuotaPrefix = "m2m:quota:"

// QuotaCounter counts the token requests of clients with a quota in
// Redis, so that replicas share one budget exactly: one pipelined round
// trip of INCR and EXPIRE on the client's key for the current clock hour
// and for the current UTC day. Keys expire one window after theirs ends.
// It implements authserver.QuotaCounter. The zero value (no Client)
// returns an error on every call. It is safe for concurrent use.
type QuotaCounter struct {
	Client *Client
	// Prefix is prepended to every key (empty means DefaultQuotaPrefix).
	Prefix string
}

// TakeQuota counts one request of clientID at now and returns the counts
// of its hour and its day before this request.
func (q *QuotaCounter) TakeQuota(ctx context.Context, clientID string, now time.Time) (hour, day int64, err error) {
	if q.Client == nil {
		return 0, 0, errNoClient
	}
	p := q.Prefix
	if p == "" {
		p = DefaultQuotaPrefix
	}
	t := now.Unix()
	hs, ds := t-t%3600, t-t%86400
	hk := keyName(p, "h:"+strconv.FormatInt(hs, 10)+":"+clientID)
	dk := keyName(p, "d:"+strconv.FormatInt(ds, 10)+":"+clientID)
	var hc, dc *redis.IntCmd
	err = q.Client.do(ctx, func(ctx context.Context) error {
		_, err := q.Client.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			hc = p.Incr(ctx, hk)
			p.Expire(ctx, hk, 2*time.Hour)
			dc = p.Incr(ctx, dk)
			p.Expire(ctx, dk, 48*time.Hour)
			return nil
		})
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	return hc.Val() - 1, dc.Val() - 1, nil
}
