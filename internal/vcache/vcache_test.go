package vcache

import (
	"crypto/sha256"
	"testing"
	"time"
)

func TestDigest(t *testing.T) {
	tok := "eyJhbGciOiJFUzI1NiJ9.e30.sig"
	if got, want := Digest(tok), sha256.Sum256([]byte(tok)); got != want {
		t.Errorf("Digest(%q) = %x; want %x", tok, got, want)
	}
	if n := testing.AllocsPerRun(10, func() { Digest(tok) }); n != 0 {
		t.Errorf("Digest: %v allocations; want 0", n)
	}
}

// TestCacheBound fills one shard past its bound: an expired entry goes
// first, then arbitrary ones, so the shard never holds more than its
// share.
func TestCacheBound(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := New(2*shards, func(exp time.Time) time.Time { return exp })
	key := func(i byte) [32]byte { return [32]byte{0: 0, 1: i} } // all in shard 0
	c.Put(key(1), now.Add(-time.Second), now)                    // expired
	c.Put(key(2), now.Add(time.Hour), now)
	c.Put(key(3), now.Add(time.Hour), now)
	if _, ok := c.Get(key(1)); ok {
		t.Error("the expired entry survived a full shard")
	}
	for _, k := range []byte{2, 3} {
		if _, ok := c.Get(key(k)); !ok {
			t.Errorf("entry %d missing; want kept (the expired one made room)", k)
		}
	}
	c.Put(key(4), now.Add(time.Hour), now)
	if n := len(c.shards[0].m); n != 2 {
		t.Errorf("shard 0 holds %d entries; want at most 2", n)
	}
	c.Remove(key(4))
	if _, ok := c.Get(key(4)); ok {
		t.Error("Remove left the entry")
	}
}
