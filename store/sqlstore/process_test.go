package sqlstore_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/sqlstore"
)

// TestHelperIncrement is the body of the processes TestTwoProcesses
// starts; it does nothing in a normal run. It talks to the parent over
// stdin and stdout: it prints "ready" once the database is migrated and
// the client exists, starts on "go", and inside each read-modify-write
// prints "in" and waits for "ok", a round trip through the parent that
// holds the update open while the other process runs.
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
	in := bufio.NewScanner(os.Stdin)
	await := func(want string) {
		if !in.Scan() || in.Text() != want {
			t.Fatalf("helper: waiting for %q from the parent: got %q, %v", want, in.Text(), in.Err())
		}
	}
	fmt.Println("ready")
	await("go")
	for range n {
		if _, err := s.UpdateClient(ctx, "c", func(c *store.Client) error {
			n := c.RateLimitBurst
			fmt.Println("in")
			await("ok")
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
	type helper struct {
		cmd    *exec.Cmd
		stdin  io.WriteCloser
		out    bytes.Buffer // stdout but the protocol lines
		stderr bytes.Buffer
		err    error
	}
	hs := make([]*helper, procs)
	ready := make(chan int, procs)
	done := make(chan int, procs)
	for i := range hs {
		h := &helper{cmd: exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperIncrement$", "-test.count=1", "-test.v=false")}
		h.cmd.Env = append(os.Environ(), "M2M_SQLSTORE_HELPER_DB="+path, "M2M_SQLSTORE_HELPER_N="+strconv.Itoa(per))
		h.cmd.Stderr = &h.stderr
		var err error
		if h.stdin, err = h.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		stdout, err := h.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := h.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		hs[i] = h
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				switch sc.Text() {
				case "ready":
					ready <- i
				case "in":
					io.WriteString(h.stdin, "ok\n")
				default:
					h.out.WriteString(sc.Text() + "\n")
				}
			}
			h.err = h.cmd.Wait()
			done <- i
		}()
	}
	// Start together: both processes are up and migrated by then.
	for range hs {
		select {
		case <-ready:
		case i := <-done:
			t.Fatalf("helper process %d exited before it was ready: %v\n%s%s", i, hs[i].err, hs[i].out.String(), hs[i].stderr.String())
		}
	}
	for _, h := range hs {
		io.WriteString(h.stdin, "go\n")
	}
	for range hs {
		<-done
	}
	for i, h := range hs {
		if h.err != nil {
			t.Fatalf("helper process %d: %v\n%s%s", i, h.err, h.out.String(), h.stderr.String())
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
