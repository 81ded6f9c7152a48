package sqlstore_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/sqlstore"
)

// TestHelperIncrement is the body of the processes TestTwoProcesses
// starts; it does nothing in a normal run.
func TestHelperIncrement(t *testing.T) {
	path := os.Getenv("M2M_SQLSTORE_HELPER_DB")
	if path == "" {
		t.Skip("helper process only")
	}
	n, _ := strconv.Atoi(os.Getenv("M2M_SQLSTORE_HELPER_N"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Every process opens (and migrates) the new database itself.
	s, err := sqlstore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateClient(ctx, &store.Client{ID: "c"}); err != nil && !errors.Is(err, store.ErrConflict) {
		t.Fatal(err)
	}
	// Start together: both processes are up and migrated by then.
	start, _ := strconv.ParseInt(os.Getenv("M2M_SQLSTORE_HELPER_START"), 10, 64)
	time.Sleep(time.Until(time.Unix(0, start)))
	for range n {
		if _, err := s.UpdateClient(ctx, "c", func(c *store.Client) error {
			n := c.RateLimitBurst
			runtime.Gosched()
			time.Sleep(time.Millisecond) // widen the read-modify-write window
			c.RateLimitBurst = n + 1
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTwoProcesses starts two processes on one new SQLite file at once:
// both migrate, create the same client (one wins) and increment a counter;
// no update may be lost.
func TestTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	path := filepath.Join(t.TempDir(), "m2m.db")
	const procs, per = 2, 25
	start := time.Now().Add(3 * time.Second).UnixNano()
	cmds := make([]*exec.Cmd, procs)
	for i := range cmds {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperIncrement$", "-test.count=1")
		cmd.Env = append(os.Environ(), "M2M_SQLSTORE_HELPER_DB="+path, "M2M_SQLSTORE_HELPER_N="+strconv.Itoa(per),
			"M2M_SQLSTORE_HELPER_START="+strconv.FormatInt(start, 10))
		cmds[i] = cmd
	}
	outs := make([][]byte, procs)
	errs := make([]error, procs)
	done := make(chan int)
	for i, cmd := range cmds {
		go func() { outs[i], errs[i] = cmd.CombinedOutput(); done <- i }()
	}
	for range cmds {
		<-done
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("helper process %d: %v\n%s", i, err, outs[i])
		}
	}
	s := openSQLite(t, path)
	c, err := s.GetClient(t.Context(), "c")
	if err != nil {
		t.Fatal(err)
	}
	if c.RateLimitBurst != procs*per {
		t.Errorf("counter after %d increments from %d processes = %d", procs*per, procs, c.RateLimitBurst)
	}
	if v, err := s.SchemaVersion(t.Context()); err != nil || v != sqlstore.LatestSchema {
		t.Errorf("SchemaVersion() = %d, %v; want %d", v, err, sqlstore.LatestSchema)
	}
}
