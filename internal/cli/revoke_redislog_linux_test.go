package cli

import (
	"bytes"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRevokeRedisLogs: m2m revoke --redis with Redis unreachable writes
// the driver's messages as records on the command's standard error, the
// password masked, and no raw "redis: <date> pool.go:..." line reaches the
// process's standard error (file descriptor 2, where the driver's own
// logger writes).
func TestRevokeRedisLogs(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	saved, err := syscall.Dup(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Dup3(int(f.Fd()), 2, 0); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	runErr := Run(&Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr},
		[]string{"revoke", "--jti", "abc", "--until", until, "--redis", "redis://user:hunter2@127.0.0.1:1/0"})
	if err := syscall.Dup3(saved, 2, 0); err != nil {
		t.Fatal(err)
	}
	syscall.Close(saved)
	raw, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}

	if runErr == 0 {
		t.Fatal("revoke with Redis unreachable succeeded")
	}
	if strings.Contains(string(raw), "redis: ") {
		t.Errorf("the driver printed to file descriptor 2: %q", raw)
	}
	out := stderr.String()
	if !strings.Contains(out, `"msg":"redis: `) && !strings.Contains(out, `msg="redis: `) {
		t.Errorf("the command's standard error lacks the driver's record: %q", out)
	}
	if strings.Contains(out+string(raw), "hunter2") {
		t.Errorf("the Redis password reached a log: %q %q", out, raw)
	}
}
