package console_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2mkit/m2m/internal/cli"
	"github.com/m2mkit/m2m/internal/npmpeer"
	"github.com/m2mkit/m2m/secretfile"
)

// servedConsole is an `m2m serve` running in the test's process with its
// admin listener (and so the console) on its own port.
type servedConsole struct {
	publicURL, adminURL string
	adminToken          string
	dataDir             string
}

// startServe runs `m2m serve` on SQLite in a temporary directory, with
// the admin API and console on a second loopback port, until the test
// ends.
func startServe(t *testing.T) *servedConsole {
	t.Helper()
	dir := t.TempDir()
	s := &servedConsole{dataDir: filepath.Join(dir, "data")}
	sigs := make(chan os.Signal)
	pr, pw := io.Pipe()
	var mu sync.Mutex
	var logBuf strings.Builder
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: pw, Signals: sigs,
		LookupEnv: func(string) (string, bool) { return "", false }, Environ: func() []string { return nil }}
	code := make(chan int, 1)
	go func() {
		c := cli.Run(env, []string{"serve", "--data", s.dataDir, "--master-secret-file", filepath.Join(dir, "master.key"),
			"--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--log-format", "json"})
		pw.Close()
		code <- c
	}()
	urls := make(chan [2]string, 1)
	go func() {
		var public, admin string
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			logBuf.WriteString(line + "\n")
			mu.Unlock()
			var rec struct{ Msg, URL string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "m2m: admin API and metrics" {
				admin = rec.URL
			}
			if u, ok := cli.ListeningURL(line); ok {
				public = u
				urls <- [2]string{public, admin}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	logs := func() string { mu.Lock(); defer mu.Unlock(); return logBuf.String() }
	select {
	case u := <-urls:
		s.publicURL, s.adminURL = u[0], u[1]
	case c := <-code:
		t.Fatalf("m2m serve exited with %d before listening:\n%s", c, logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("m2m serve did not start:\n%s", logs())
	}
	t.Cleanup(func() {
		select {
		case sigs <- os.Interrupt:
			<-code
		case <-code:
		case <-time.After(30 * time.Second):
			t.Errorf("m2m serve did not stop")
		}
		if t.Failed() {
			t.Logf("m2m serve log:\n%s", logs())
		}
	})
	if s.adminURL == "" {
		t.Fatalf("m2m serve logged no admin URL:\n%s", logs())
	}
	keys, err := secretfile.Load(filepath.Join(s.dataDir, "admin.token"), secretfile.DefaultSize)
	if err != nil {
		t.Fatal(err)
	}
	s.adminToken = base64.RawURLEncoding.EncodeToString(keys.Current)
	return s
}

// screenshotDir is docs/console when M2M_UPDATE_SCREENSHOTS=1, else "".
func screenshotDir() string {
	if os.Getenv("M2M_UPDATE_SCREENSHOTS") != "1" {
		return ""
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "docs", "console")
}

// TestBrowser drives the console in real Chromium (testdata/npm/console.mjs
// with playwright-core) against a real `m2m serve`.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	chromium := npmpeer.Chromium(t)
	npmpeer.Node(t)
	s := startServe(t)
	// A bound against a hang, not a speed check: the script takes seconds
	// on a quiet machine and can take a minute on a loaded one.
	out, err := npmpeer.Run(t, 4*time.Minute, []string{
		"CONSOLE_URL=" + s.adminURL + "/console/",
		"TOKEN_URL=" + s.publicURL + "/oauth/token",
		"ADMIN_TOKEN=" + s.adminToken,
		"CHROMIUM=" + chromium,
		"SCREENSHOTS=" + screenshotDir(),
	}, "console.mjs")
	if err != nil {
		t.Fatal(err)
	}
	var seen struct {
		Steps    []string `json:"steps"`
		ClientID string   `json:"clientID"`
	}
	if err := json.Unmarshal(out, &seen); err != nil {
		t.Fatalf("console.mjs printed %q: %v", out, err)
	}
	t.Logf("console.mjs: %s", strings.Join(seen.Steps, ", "))
}
