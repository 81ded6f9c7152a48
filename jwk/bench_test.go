package jwk

import (
	"context"
	"testing"
	"time"
)

// BenchmarkRemoteLookup measures the hot path: a known kid in a fresh
// remote set (atomic load and map lookup, no lock, no I/O).
func BenchmarkRemoteLookup(b *testing.B) {
	r := &RemoteKeySet{URL: "http://unused.invalid"}
	r.snap.Store(&snapshot{set: NewSet(mustKey(b, &ecKey.PublicKey, "k1", "ES256"), mustKey(b, edPub, "k2", "")), fetchedAt: time.Now()})
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if keys, _ := r.Lookup(ctx, "k2"); len(keys) != 1 {
				b.Fatal("missing key")
			}
		}
	})
}
