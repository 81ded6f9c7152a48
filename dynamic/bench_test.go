package dynamic

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/replay"
)

var benchNow = time.UnixMilli(1710105367868)

func benchClock() time.Time { return benchNow }

// BenchmarkHMACSHA256 is the baseline: one HMAC-SHA256 over the bytes a
// sealed token without UUID signs.
func BenchmarkHMACSHA256(b *testing.B) {
	msg := make([]byte, len(sealedMACLabel)+2+8+nonceBytes)
	var sum [32]byte
	b.ReportAllocs()
	for b.Loop() {
		m := hmac.New(sha256.New, testSecret)
		m.Write(msg)
		m.Sum(sum[:0])
	}
}

func BenchmarkSealedEncode(b *testing.B) {
	s := &Sealed{Keys: []Key{{Secret: testSecret}}, Now: benchClock}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Encode("6061f78686f34f52da3ef464"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSealedDecode(b *testing.B) {
	s := &Sealed{Keys: []Key{{Secret: testSecret}}, Now: benchClock}
	tok, _ := s.Encode("6061f78686f34f52da3ef464")
	b.ReportAllocs()
	for b.Loop() {
		if r := s.Decode(tok); !r.Valid {
			b.Fatal(r)
		}
	}
}

// BenchmarkSealedAccept includes the replay cache: a new token each time.
func BenchmarkSealedAccept(b *testing.B) {
	s := &Sealed{Keys: []Key{{Secret: testSecret}}, Now: benchClock, Replay: &replay.Memory{Now: benchClock, MaxEntries: 4*b.N + 1<<16}}
	toks := make([]string, b.N)
	for i := range toks {
		toks[i], _ = s.Encode("6061f78686f34f52da3ef464")
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r, err := s.Accept(ctx, toks[i]); err != nil || !r.Valid {
			b.Fatal(r, err)
		}
	}
}

func BenchmarkCompatEncode(b *testing.B) {
	c := &Compat{APIKey: m2m.Secret("Opus;Magna-897"), Now: benchClock}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Encode("6061f78686f34f52da3ef464"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompatDecode(b *testing.B) {
	for _, quirks := range []bool{false, true} {
		b.Run("quirks="+strconv.FormatBool(quirks), func(b *testing.B) {
			c := &Compat{APIKey: m2m.Secret("Opus;Magna-897"), Now: benchClock, CheckUUID: true, Quirks: quirks}
			tok := "OHR5a09wdXM7TWFnbmEtODk3MG10bDAwLDAwcjRfXzExa2JxOGloMnJfdXd6MjU2M2o4LjAwazk="
			b.ReportAllocs()
			for b.Loop() {
				if r := c.Decode(tok); !r.Valid {
					b.Fatal(r)
				}
			}
		})
	}
}

// BenchmarkReplayCache measures replay.Memory as Sealed.Accept uses it:
// every call records a fresh nonce key, from exactly 2 goroutines. With
// GOMAXPROCS 1 or 2 it uses RunParallel (parallelism x GOMAXPROCS = 2);
// with more it starts the 2 goroutines itself. The clock advances 1 ms
// every 100 calls and entries live 100 ms, so about 10,000 are live, as
// under a steady load.
func BenchmarkReplayCache(b *testing.B) {
	var ctr atomic.Int64
	now := func() time.Time { return benchNow.Add(time.Duration(ctr.Load()/100) * time.Millisecond) }
	c := &replay.Memory{Now: now}
	ctx := context.Background()
	work := func(next func() bool) {
		var k [16]byte
		for next() {
			n := ctr.Add(1)
			binary.BigEndian.PutUint64(k[:], uint64(n))
			first, err := c.Use(ctx, "dynamic:"+hex.EncodeToString(k[:]), now().Add(100*time.Millisecond))
			if err != nil || !first {
				b.Error(first, err)
				return
			}
		}
	}
	b.ReportAllocs()
	if procs := runtime.GOMAXPROCS(0); procs <= 2 {
		b.SetParallelism(2 / procs)
		b.RunParallel(func(pb *testing.PB) { work(pb.Next) })
		return
	}
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { work(func() bool { return left.Add(-1) >= 0 }) })
	}
	wg.Wait()
}
