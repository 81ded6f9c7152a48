package basic_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/m2mkit/m2m/basic"
)

// gateUsers blocks every check until release is closed and records the
// highest number of checks running at once.
type gateUsers struct {
	release     chan struct{}
	started     chan struct{}
	running, hi atomic.Int32
}

func (g *gateUsers) Authenticate(ctx context.Context, user, pass string) (bool, error) {
	n := g.running.Add(1)
	defer g.running.Add(-1)
	for {
		h := g.hi.Load()
		if n <= h || g.hi.CompareAndSwap(h, n) {
			break
		}
	}
	g.started <- struct{}{}
	<-g.release
	return pass == "pw", nil
}

func TestBounded(t *testing.T) {
	g := &gateUsers{release: make(chan struct{}), started: make(chan struct{}, 10)}
	u := basic.Bounded(g, 2)
	var wg sync.WaitGroup
	results := make(chan bool, 5)
	for range 5 {
		wg.Go(func() {
			ok, err := u.Authenticate(context.Background(), "a", "pw")
			if err != nil {
				t.Errorf("Authenticate = %v", err)
			}
			results <- ok
		})
	}
	<-g.started
	<-g.started
	// Two checks run; a caller whose context ends while waiting gives up.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if ok, err := u.Authenticate(ctx, "a", "pw"); ok || !errors.Is(err, context.Canceled) {
		t.Errorf("Authenticate(canceled, all slots busy) = %v, %v; want false, context.Canceled", ok, err)
	}
	close(g.release)
	wg.Wait()
	close(results)
	for ok := range results {
		if !ok {
			t.Error("Authenticate = false; want true")
		}
	}
	if hi := g.hi.Load(); hi != 2 {
		t.Errorf("at most %d checks ran at once; want 2", hi)
	}
	if _, err := basic.Bounded(nil, 1).Authenticate(context.Background(), "a", "b"); err == nil {
		t.Error("Bounded(nil).Authenticate = nil error; want an error")
	}
}
