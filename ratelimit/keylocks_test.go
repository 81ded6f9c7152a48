package ratelimit_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mkit/m2m/ratelimit"
)

func TestKeyLocksExclusive(t *testing.T) {
	tests := []struct {
		name string
		keys [][]string // each goroutine locks keys[i%len(keys)]
	}{
		{"one key", [][]string{{"user:alice"}}},
		{"two keys", [][]string{{"user:alice", "addr:192.0.2.1"}}},
		{"two keys in either order", [][]string{{"user:alice", "addr:192.0.2.1"}, {"addr:192.0.2.1", "user:alice"}}},
		{"repeated key", [][]string{{"user:alice", "user:alice"}, {"user:alice"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var locks ratelimit.KeyLocks
			var inside, most atomic.Int32
			var wg sync.WaitGroup
			for i := range 32 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					unlock := locks.Lock(tt.keys[i%len(tt.keys)]...)
					n := inside.Add(1)
					for {
						m := most.Load()
						if n <= m || most.CompareAndSwap(m, n) {
							break
						}
					}
					for range 100 { // stay inside a while, without a wall-clock sleep
						runtime.Gosched()
					}
					inside.Add(-1)
					unlock()
				}()
			}
			wg.Wait()
			if got := most.Load(); got != 1 {
				t.Errorf("Lock(%q): %d holders at once; want 1", tt.keys, got)
			}
		})
	}
}

func TestKeyLocksNoKeys(t *testing.T) {
	var locks ratelimit.KeyLocks
	unlock := locks.Lock()
	unlock()
	// Locking nothing leaves every key free.
	done := make(chan struct{})
	u1 := locks.Lock()
	go func() {
		locks.Lock("user:alice")()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Lock() blocked Lock(\"user:alice\"); want no lock held")
	}
	u1()
}

// ExampleKeyLocks bounds concurrent guesses: each attempt holds its keys'
// locks from the throttle check to the recorded failure.
func ExampleKeyLocks() {
	var locks ratelimit.KeyLocks
	throttle := ratelimit.NewThrottle(ratelimit.Limit{Rate: 1.0 / 60, Burst: 3})
	ctx := context.Background()
	var checked atomic.Int32
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keys := []string{"user:alice", "addr:192.0.2.1"}
			unlock := locks.Lock(keys...)
			defer unlock()
			for _, k := range keys {
				if ok, _, err := throttle.Check(ctx, k); err != nil || !ok {
					return
				}
			}
			checked.Add(1) // the password check; every guess here is wrong
			for _, k := range keys {
				_ = throttle.Fail(ctx, k)
			}
		}()
	}
	wg.Wait()
	fmt.Println("passwords checked:", checked.Load())
	// Output: passwords checked: 3
}

func BenchmarkKeyLocks(b *testing.B) {
	var locks ratelimit.KeyLocks
	for b.Loop() {
		locks.Lock("user:alice", "addr:192.0.2.1")()
	}
}

// TestKeyLocksHold checks that Hold excludes Lock on the same key, that
// Unlock frees it, and that Hold and Unlock of one key allocate nothing.
func TestKeyLocksHold(t *testing.T) {
	var locks ratelimit.KeyLocks
	h := locks.Hold("user:alice", "addr:192.0.2.1", "user:alice")
	acquired := make(chan struct{})
	go func() {
		locks.Lock("addr:192.0.2.1")()
		close(acquired)
	}()
	for range 100 {
		runtime.Gosched()
	}
	select {
	case <-acquired:
		t.Fatal("Lock(addr) went through while Hold(alice, addr) held it")
	default:
	}
	h.Unlock()
	select {
	case <-acquired:
	case <-time.After(5 * time.Second):
		t.Fatal("Lock(addr) still blocked after HeldKeys.Unlock")
	}
	if n := testing.AllocsPerRun(100, func() { locks.Hold("authfail:client:192.0.2.1 c1").Unlock() }); n != 0 {
		t.Errorf("Hold(key).Unlock(): %v allocations; want 0", n)
	}
}
