// Package npmpeer finds the independent test peers that the Go tests drive:
// Node.js with the npm packages pinned in testdata/npm (jose, oauth4webapi,
// playwright-core) and Debian's chromium. A test that needs one calls
// [Node] or [Chromium]; when the peer is missing the test skips with a
// SKIP-BACKEND message, which .ci/run (which installs the peers) treats as
// a failure.
package npmpeer

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// Dir returns the absolute path of testdata/npm, the directory holding
// package.json and, once `npm ci` has run there, node_modules.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "npm")
}

// Node returns the path of the node binary and the npm directory, or skips
// t when either node or the installed packages are missing. Scripts run
// with the npm directory as working directory resolve the packages.
func Node(t testing.TB) (node, dir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("SKIP-BACKEND: node is not installed; .ci/run installs it (apt-get install nodejs npm)")
	}
	dir = Dir()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oauth4webapi")); err != nil {
		t.Skipf("SKIP-BACKEND: npm test peers are not installed; run: npm ci --prefix %s", dir)
	}
	return node, dir
}

// Chromium returns the path of Debian's chromium, or skips t when it is
// missing. M2M_TEST_CHROMIUM overrides the path.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("M2M_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("SKIP-BACKEND: chromium is not installed; .ci/run installs it (apt-get install chromium)")
	return ""
}

// Run runs `node script args...` in the npm directory with env added to the
// environment, for at most timeout, and returns its standard output. On a
// non-zero exit the error includes standard error.
func Run(t testing.TB, timeout time.Duration, env []string, script string, args ...string) ([]byte, error) {
	t.Helper()
	node, dir := Node(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return out, errors.New("node " + filepath.Base(script) + ": timed out after " + timeout.String() + "; stderr: " + stderr.String())
		}
		return out, errors.New("node " + filepath.Base(script) + ": " + err.Error() + "; stderr: " + stderr.String())
	}
	return out, nil
}

// limitedBuffer keeps the first 64 KiB written to it.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 64<<10 - len(l.b); room > 0 {
		if len(p) < room {
			room = len(p)
		}
		l.b = append(l.b, p[:room]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }
