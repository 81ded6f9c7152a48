package ratelimit

import (
	"hash/maphash"
	"math/bits"
	"sync"
)

// keyLockStripes is the number of mutexes a [KeyLocks] spreads keys over:
// one per bit of the uint64 set a [HeldKeys] records.
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
	return l.Hold(keys...).Unlock
}

// Hold is [KeyLocks.Lock] without the allocation of a returned function:
// it locks the stripes of keys the same way and returns what it holds,
// for the caller to release with [HeldKeys.Unlock] (typically deferred).
func (l *KeyLocks) Hold(keys ...string) HeldKeys {
	var set uint64
	for _, k := range keys {
		set |= 1 << (maphash.String(keyLockSeed, k) % keyLockStripes)
	}
	for s := set; s != 0; s &= s - 1 {
		l.mu[bits.TrailingZeros64(s)].Lock()
	}
	return HeldKeys{l: l, set: set}
}

// HeldKeys is the set of stripes a [KeyLocks.Hold] call locked.
type HeldKeys struct {
	l   *KeyLocks
	set uint64
}

// Unlock unlocks the stripes h holds, in the reverse order of their
// locking. It must be called once.
func (h HeldKeys) Unlock() {
	for s := h.set; s != 0; {
		i := 63 - bits.LeadingZeros64(s)
		h.l.mu[i].Unlock()
		s &^= 1 << i
	}
}
