package replaytest_test

import (
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/replay"
	"github.com/m2mkit/m2m/replay/replaytest"
)

// A backend's test file runs the suite with a simulated clock.
func ExampleRun() {
	_ = func(t *testing.T) { // func TestConformance(t *testing.T)
		replaytest.Run(t, func(t *testing.T) replaytest.Harness {
			now := time.Unix(1_700_000_000, 0)
			c := &replay.Memory{Now: func() time.Time { return now }}
			return replaytest.Harness{
				New:     func() m2m.ReplayCache { return c },
				Now:     func() time.Time { return now },
				Advance: func(d time.Duration) { now = now.Add(d) },
			}
		})
	}
}
