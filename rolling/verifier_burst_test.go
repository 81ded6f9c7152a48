package rolling

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/ratelimit"
)

// slowPeek is a Limiter whose peeks (n == 0) yield the processor, widening
// the gap between a throttle check and the failure it precedes, as a
// network round trip to a shared limiter would.
type slowPeek struct{ ratelimit.Limiter }

func (s slowPeek) Take(ctx context.Context, key string, l ratelimit.Limit, n int) (ratelimit.Decision, error) {
	d, err := s.Limiter.Take(ctx, key, l, n)
	if n == 0 {
		for range 20 {
			runtime.Gosched()
		}
	}
	return d, err
}

// TestVerifierThrottleBurst checks that concurrent wrong codes for one key
// cannot all pass the throttle before any failure is recorded: a burst of
// guesses gets no more tries than the same guesses sent one by one.
func TestVerifierThrottleBurst(t *testing.T) {
	clk := &clock{time.Unix(1_700_000_000, 0)}
	const burst = 5
	v := &Verifier{
		Keys: []Key{{"k", mustHMAC(t, string(testSeed), TOTP())}},
		Now:  clk.Now,
		Throttle: &ratelimit.Throttle{
			Limiter: slowPeek{&ratelimit.Memory{Now: clk.Now}},
			Limit:   ratelimit.Limit{Rate: 1e-6, Burst: burst},
		},
	}
	var tried atomic.Int32 // guesses that reached the code comparison
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			code := []byte("000000")
			code[5] = byte('0' + i%10)
			_, err := v.Check(context.Background(), "k", string(code))
			if m2m.ReasonOf(err) != m2m.ReasonThrottled {
				tried.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if n := tried.Load(); n > burst {
		t.Fatalf("%d concurrent guesses reached the comparison; want at most the burst, %d", n, burst)
	}
}
