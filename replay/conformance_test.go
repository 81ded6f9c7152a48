package replay_test

import (
	"sync"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/replay"
	"github.com/m2mkit/m2m/replay/replaytest"
)

func TestConformance(t *testing.T) {
	replaytest.Run(t, func(t *testing.T) replaytest.Harness {
		var mu sync.Mutex
		now := time.Unix(1_700_000_000, 0)
		clock := func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return now
		}
		c := &replay.Memory{Now: clock}
		return replaytest.Harness{
			New: func() m2m.ReplayCache { return c },
			Now: clock,
			Advance: func(d time.Duration) {
				mu.Lock()
				defer mu.Unlock()
				now = now.Add(d)
			},
		}
	})
}
