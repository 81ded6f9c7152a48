package m2m

import (
	"context"
	"time"
)

// ReplayCache remembers single-use credentials (rolling codes, dynamic
// token nonces) so that each is accepted at most once.
//
// Use records key and reports whether this was its first use. The entry
// must be kept at least until expiry, after which the credential can no
// longer be valid and may be forgotten. Implementations must make the
// check-and-record atomic: of any number of concurrent calls with the same
// key, exactly one returns true. An error means the cache could not answer;
// callers fail closed unless configured otherwise.
//
// Package replay has an in-memory implementation; package redisstore has
// one shared by several replicas.
type ReplayCache interface {
	Use(ctx context.Context, key string, expiry time.Time) (first bool, err error)
}
