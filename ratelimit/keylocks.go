package ratelimit

import (
	"hash/maphash"
	"slices"
	"sync"
)

// keyLockStripes is the number of mutexes a [KeyLocks] spreads keys over.
const keyLockStripes = 64

// keyLockSeed picks the stripe of a key; it is random per process so that
// a client cannot choose keys (user names) that share another key's stripe.
var keyLockSeed = maphash.MakeSeed()

// KeyLocks serializes work per key, for callers of a [Throttle] that must
// bound guesses: Throttle.Check only peeks, so a caller holds the locks of
// its throttle keys from Check until the failure is recorded with Fail,
// and a burst of concurrent guesses then gets no more tries than the same
// guesses sent one at a time. Keys are striped over 64 mutexes, so
// unrelated keys that share a stripe also wait for each other.
//
// The zero KeyLocks is ready to use. A KeyLocks must not be copied after
// first use.
type KeyLocks struct {
	mu [keyLockStripes]sync.Mutex
}

// Lock locks the stripes of keys, each once and in stripe order (so that
// two callers locking overlapping keys in any order never deadlock), and
// returns the function that unlocks them. With no keys it locks nothing.
func (l *KeyLocks) Lock(keys ...string) (unlock func()) {
	var buf [4]uint8
	idx := buf[:0]
	for _, k := range keys {
		idx = append(idx, uint8(maphash.String(keyLockSeed, k)%keyLockStripes))
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		l.mu[i].Lock()
	}
	return func() {
		for j := len(idx) - 1; j >= 0; j-- {
			l.mu[idx[j]].Unlock()
		}
	}
}
