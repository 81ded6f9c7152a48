package replay_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mkit/m2m/replay"
)

func TestMemoryUse(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := &replay.Memory{Now: func() time.Time { return now }}
	ctx := context.Background()
	steps := []struct {
		name    string
		advance time.Duration
		key     string
		expiry  time.Duration // relative to now
		want    bool
	}{
		{"first use", 0, "a", time.Minute, true},
		{"second use", 0, "a", time.Minute, false},
		{"other key", 0, "b", time.Minute, true},
		{"still remembered before expiry", 59 * time.Second, "a", time.Minute, false},
		{"forgotten after expiry", 2 * time.Second, "a", time.Minute, true},
		{"already expired is not recorded", 0, "c", -time.Second, true},
		{"already expired again", 0, "c", -time.Second, true},
	}
	for _, s := range steps {
		now = now.Add(s.advance)
		got, err := c.Use(ctx, s.key, now.Add(s.expiry))
		if err != nil || got != s.want {
			t.Errorf("%s: Use(%q) = %v, %v; want %v, nil", s.name, s.key, got, err, s.want)
		}
	}
}

func TestMemoryConcurrentExactlyOnce(t *testing.T) {
	c := &replay.Memory{}
	exp := time.Now().Add(time.Minute)
	for k := range 50 {
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := c.Use(context.Background(), fmt.Sprint("key", k), exp)
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if n := wins.Load(); n != 1 {
			t.Fatalf("key%d accepted %d times; want 1", k, n)
		}
	}
}

func TestMemoryFull(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := &replay.Memory{MaxEntries: 32, Now: func() time.Time { return now }}
	var full int
	for i := range 200 {
		_, err := c.Use(context.Background(), fmt.Sprint(i), now.Add(time.Minute))
		if errors.Is(err, replay.ErrFull) {
			full++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if full == 0 {
		t.Fatal("no ErrFull with 200 keys and MaxEntries 32")
	}
	now = now.Add(2 * time.Minute) // everything expired: sweeping frees room
	if _, err := c.Use(context.Background(), "later", now.Add(time.Minute)); err != nil {
		t.Fatalf("Use after expiry = %v; want nil", err)
	}
}

func BenchmarkMemoryUse(b *testing.B) {
	c := &replay.Memory{}
	exp := time.Now().Add(time.Hour)
	var n atomic.Int64
	b.SetParallelism(1)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Use(context.Background(), fmt.Sprint(n.Add(1)), exp)
		}
	})
}
