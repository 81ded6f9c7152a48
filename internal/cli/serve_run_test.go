package cli

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2mkit/m2m/internal/testbackend"
)

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveProc is an "m2m serve" running in the test's process through
// [Run], stopped by the signals the test sends on sigs; its log is in
// stderr. sigs is
// unbuffered: a send returns once serve took the signal, and a second
// send once serve has handled the first.
type serveProc struct {
	t      *testing.T
	sigs   chan os.Signal
	code   chan int
	stdout *syncBuffer
	stderr *syncBuffer
	// readDone is closed when all of serve's log is in stderr.
	readDone <-chan struct{}
	// url is the listener's URL, from the listening record of the log.
	url string
}

// startServe runs m2m serve with args and the environment vars (nothing
// else of the process's environment) and waits until it listens. It fails
// the test if serve exits first.
func startServe(t *testing.T, vars map[string]string, args ...string) *serveProc {
	t.Helper()
	p, code := runServe(t, vars, args...)
	if code >= 0 {
		t.Fatalf("m2m serve %s exited with %d before listening\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, p.stdout, p.stderr)
	}
	return p
}

// runServe starts m2m serve and returns once it listens (code -1) or has
// exited (its exit code).
func runServe(t *testing.T, vars map[string]string, args ...string) (*serveProc, int) {
	t.Helper()
	p := &serveProc{t: t, sigs: make(chan os.Signal), code: make(chan int, 1), stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	pr, pw := io.Pipe()
	env := &Env{
		Stdin: strings.NewReader(""), Stdout: p.stdout, Stderr: pw, Signals: p.sigs,
		LookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		Environ: func() []string {
			var kv []string
			for k, v := range vars {
				kv = append(kv, k+"="+v)
			}
			return kv
		},
	}
	go func() {
		code := Run(env, append([]string{"serve"}, args...))
		pw.Close()
		p.code <- code
	}()
	listening := make(chan string, 1)
	readDone := make(chan struct{})
	p.readDone = readDone
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			p.stderr.Write([]byte(line + "\n"))
			if u, ok := ListeningURL(line); ok {
				listening <- u
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case p.url = <-listening:
	case code := <-p.code:
		<-readDone // Run has returned and closed the pipe
		return p, code
	case <-time.After(30 * time.Second):
		t.Fatalf("m2m serve did not start\nstdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
	}
	t.Cleanup(func() {
		select {
		case p.sigs <- os.Interrupt:
			<-p.code
		case <-p.code:
		case <-time.After(30 * time.Second):
			t.Errorf("m2m serve did not stop")
		}
	})
	return p, -1
}

// signal sends sig to serve and returns once serve took it.
func (p *serveProc) signal(sig os.Signal) {
	p.t.Helper()
	select {
	case p.sigs <- sig:
	case code := <-p.code:
		p.code <- code
		p.t.Fatalf("m2m serve exited with %d\nstderr:\n%s", code, p.stderr)
	}
}

// stop sends os.Interrupt and returns the exit code.
func (p *serveProc) stop() int {
	p.t.Helper()
	p.signal(os.Interrupt)
	select {
	case code := <-p.code:
		p.code <- code // for the cleanup
		<-p.readDone
		return code
	case <-time.After(30 * time.Second):
		p.t.Fatalf("m2m serve did not stop\nstderr:\n%s", p.stderr)
		return -1
	}
}

// TestServeFailedStartCreatesNothing runs starts that must fail, each
// before the data directory, the database or the master secret exist.
func TestServeFailedStartCreatesNothing(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	tests := []struct {
		name     string
		args     []string
		vars     map[string]string
		wantCode int
		want     []string // in stderr
	}{
		{name: "port in use", args: []string{"--addr", taken.Addr().String()}, wantCode: 1, want: []string{"address already in use"}},
		{name: "bad issuer", args: []string{"--issuer", "https://auth.example.com/?tenant=1"}, wantCode: 2, want: []string{"--issuer"}},
		{name: "relative issuer", args: []string{"--issuer", "auth.example.com"}, wantCode: 2, want: []string{"--issuer"}},
		{name: "bad database URL", args: []string{"--database", "mysql://root:hunter2@db/m2m"}, wantCode: 2, want: []string{`--database: unsupported scheme "mysql"`}},
		{name: "bad redis URL", args: []string{"--redis", "redis://:hunter2@127.0.0.1:6379/x"}, wantCode: 2, want: []string{"--redis"}},
		{name: "zero token ttl", args: []string{"--token-ttl", "0s"}, wantCode: 2, want: []string{"--token-ttl 0s"}},
		{name: "zero key refresh", args: []string{"--key-refresh", "0s"}, wantCode: 2, want: []string{"--key-refresh 0s"}},
		{name: "zero pre-publish", args: []string{"--pre-publish", "0s"}, wantCode: 2, want: []string{"--pre-publish 0s"}},
		{name: "plain HTTP on every interface", args: []string{"--addr", "0.0.0.0:0"}, wantCode: 2, want: []string{"--insecure-http"}},
		{name: "TLS without a key", args: []string{"--tls-cert", "cert.pem"}, wantCode: 2, want: []string{"--tls-key"}},
		{name: "TLS with an http issuer", args: []string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--issuer", "http://127.0.0.1"}, wantCode: 2, want: []string{"https://"}},
		{name: "TLS files missing", args: []string{"--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem"}, wantCode: 1, want: []string{"--tls-cert"}},
		{name: "admin on every interface", args: []string{"--admin-addr", "0.0.0.0:0"}, wantCode: 2, want: []string{"--admin-addr"}},
		{name: "admin port in use", args: []string{"--admin-addr", taken.Addr().String()}, wantCode: 1, want: []string{"--admin-addr"}},
		{name: "bad env value", vars: map[string]string{"M2M_TOKEN_TTL": "soon"}, wantCode: 2, want: []string{"M2M_TOKEN_TTL"}},
		{
			name:     "every problem at once",
			args:     []string{"--profile", "hydra", "--token-ttl", "x", "--rotate-every", "-1h", "--algorithm", "none", "--addr", "127.0.0.1:http"},
			wantCode: 2,
			want:     []string{"--profile", "--token-ttl", "--rotate-every", "--algorithm", "--addr"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			data := filepath.Join(dir, "data")
			master := filepath.Join(dir, "master.key")
			args := append([]string{"--data", data, "--master-secret-file", master}, tc.args...)
			if !hasFlag(tc.args, "--addr") {
				args = append(args, "--addr", "127.0.0.1:0")
			}
			p, code := runServe(t, tc.vars, args...)
			if code != tc.wantCode {
				if code < 0 {
					p.stop()
				}
				t.Fatalf("m2m serve %s = exit %d; want %d\nstderr:\n%s", strings.Join(args, " "), code, tc.wantCode, p.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(p.stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, p.stderr)
				}
			}
			if strings.Contains(p.stderr.String(), "hunter2") {
				t.Errorf("stderr shows a password:\n%s", p.stderr)
			}
			for _, path := range []string{data, master} {
				if _, err := os.Stat(path); !os.IsNotExist(err) {
					t.Errorf("after a failed start, %s exists (err %v)", path, err)
				}
			}
		})
	}
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// TestServeStartStop starts the real command, checks that it serves and
// that a signal stops it cleanly.
func TestServeStartStop(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	p := startServe(t, nil, "--data", data, "--addr", "127.0.0.1:0")
	resp, err := http.Get(p.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz = %d; want 200", resp.StatusCode)
	}
	if code := p.stop(); code != 0 {
		t.Errorf("exit code after os.Interrupt = %d; want 0\nstderr:\n%s", code, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), `"msg":"m2m: stopped"`) {
		t.Errorf("the log lacks the clean stop:\n%s", p.stderr)
	}
	if p.stdout.String() != "" {
		t.Errorf("serve wrote to stdout:\n%s", p.stdout)
	}
	for _, f := range []string{dataDBFile, dataMasterFile, dataAdminFile} {
		if _, err := os.Stat(filepath.Join(data, f)); err != nil {
			t.Errorf("after a start: %v", err)
		}
	}
}

// TestServeConfigFile runs the real command with a config file: the
// environment overrides the file, and a file with problems is refused as a
// whole before anything is created.
func TestServeConfigFile(t *testing.T) {
	dir := t.TempDir()
	fromFile, fromEnv := filepath.Join(dir, "file-data"), filepath.Join(dir, "env-data")
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("addr: 127.0.0.1:0\ndata: "+fromFile+"\ntoken-ttl: 15m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, map[string]string{"M2M_DATA": fromEnv}, "--config", good)
	if code := p.stop(); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, p.stderr)
	}
	if _, err := os.Stat(filepath.Join(fromEnv, dataDBFile)); err != nil {
		t.Errorf("M2M_DATA did not win over the file: %v", err)
	}
	if _, err := os.Stat(fromFile); !os.IsNotExist(err) {
		t.Errorf("the file's data directory was created (err %v); M2M_DATA should win", err)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("addr: 127.0.0.1:0\ndata: "+fromFile+"\ntoken-ttl: 0s\nlisten: :80\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, code := runServe(t, nil, "--config", bad)
	if code != 2 {
		t.Fatalf("exit %d; want 2\nstderr:\n%s", code, p.stderr)
	}
	for _, w := range []string{"--token-ttl 0s", `unknown key "listen"`} {
		if !strings.Contains(p.stderr.String(), w) {
			t.Errorf("stderr lacks %q:\n%s", w, p.stderr)
		}
	}
	if _, err := os.Stat(fromFile); !os.IsNotExist(err) {
		t.Errorf("a refused config created %s (err %v)", fromFile, err)
	}
}

// TestServeAdminAddr runs the real command with --admin-addr: the admin
// API and /metrics answer only there, the OAuth side only on --addr.
func TestServeAdminAddr(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	p := startServe(t, nil, "--data", data, "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0")
	m := regexp.MustCompile(`"msg":"m2m: admin API and metrics","url":"([^"]+)"`).FindStringSubmatch(p.stderr.String())
	if m == nil {
		t.Fatalf("no admin address in the log:\n%s", p.stderr)
	}
	adminURL := m[1]
	// The console is announced where it is served: on the admin listener.
	if want := `"msg":"m2m: web console (sign in with the admin token)","url":"` + adminURL + `/console/"`; !strings.Contains(p.stderr.String(), want) {
		t.Errorf("log lacks %s:\n%s", want, p.stderr)
	}
	raw, err := os.ReadFile(filepath.Join(data, dataAdminFile))
	if err != nil {
		t.Fatal(err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	tests := []struct {
		base, path string
		want       int
	}{
		{p.url, "/healthz", 200},
		{p.url, "/.well-known/jwks.json", 200},
		{p.url, "/.well-known/oauth-authorization-server", 200},
		{p.url, "/metrics", 404},
		{p.url, "/admin/clients", 404},
		{adminURL, "/metrics", 200},
		{adminURL, "/admin/clients", 200},
		{adminURL, "/healthz", 404},
		{adminURL, "/.well-known/jwks.json", 404},
	}
	for _, tc := range tests {
		req, err := http.NewRequest("GET", tc.base+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET %s%s = %d; want %d", tc.base, tc.path, resp.StatusCode, tc.want)
		}
	}
	if code := p.stop(); code != 0 {
		t.Errorf("exit %d\nstderr:\n%s", code, p.stderr)
	}
}

// TestServeTrustedProxies runs the real command: with --trusted-proxies
// naming the loopback peer, a failed token request is logged under the
// address of X-Forwarded-For; without it, under the TCP peer's.
func TestServeTrustedProxies(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "trusted", args: []string{"--trusted-proxies", "127.0.0.1/32"}, want: `"remote_addr":"203.0.113.7"`},
		{name: "not trusted", want: `"remote_addr":"127.0.0.1"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--data", filepath.Join(t.TempDir(), "data"), "--addr", "127.0.0.1:0"}, tc.args...)
			p := startServe(t, nil, args...)
			req, err := http.NewRequest("POST", p.url+"/oauth/token", strings.NewReader("grant_type=client_credentials&client_id=nobody&client_secret=wrong"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Forwarded-For", "203.0.113.7")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("token request = %d; want 401", resp.StatusCode)
			}
			if code := p.stop(); code != 0 {
				t.Fatalf("exit %d", code)
			}
			if !strings.Contains(p.stderr.String(), tc.want) {
				t.Errorf("the log lacks %s:\n%s", tc.want, p.stderr)
			}
		})
	}
}

// TestServeIssuerRecorded runs the real command on one database, SQLite
// and PostgreSQL (when M2M_TEST_POSTGRES_DSN is set): the first explicit
// --issuer is recorded, and later starts with another issuer, or without
// one, are refused (exit 1) before anything more is created.
func TestServeIssuerRecorded(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testServeIssuerRecorded(t, "--data", filepath.Join(t.TempDir(), "data"))
	})
	t.Run("postgres", func(t *testing.T) {
		db := testbackend.PostgresSchema(t, "m2m_cli_issuer_")
		dir := t.TempDir()
		testServeIssuerRecorded(t, "--database", db, "--data", filepath.Join(dir, "data"), "--master-secret-file", filepath.Join(dir, "master.key"))
	})
	// On PostgreSQL, the database replicas share, a derived issuer is
	// recorded too: a second replica that would derive another (here:
	// another port; in production: another host) is refused.
	t.Run("postgres derived", func(t *testing.T) {
		db := testbackend.PostgresSchema(t, "m2m_cli_issuer_")
		dir := t.TempDir()
		backend := []string{"--database", db, "--data", filepath.Join(dir, "data"), "--master-secret-file", filepath.Join(dir, "master.key")}
		p := startServe(t, nil, append([]string{"--addr", "127.0.0.1:0"}, backend...)...)
		if code := p.stop(); code != 0 {
			t.Fatalf("first m2m serve without --issuer: exit %d\nstderr:\n%s", code, p.stderr)
		}
		q, code := runServe(t, nil, append([]string{"--addr", "127.0.0.1:0"}, backend...)...)
		if code != 1 {
			if code < 0 {
				q.stop()
			}
			t.Fatalf("second replica deriving another issuer: exit %d; want 1\nstderr:\n%s", code, q.stderr)
		}
		if !strings.Contains(q.stderr.String(), "--issuer http://127.0.0.1:") {
			t.Errorf("stderr lacks the recorded issuer to start with:\n%s", q.stderr)
		}
	})
}

func testServeIssuerRecorded(t *testing.T, backend ...string) {
	start := func(args ...string) *serveProc {
		t.Helper()
		p := startServe(t, nil, append(append([]string{"--addr", "127.0.0.1:0"}, backend...), args...)...)
		if code := p.stop(); code != 0 {
			t.Fatalf("m2m serve %s: exit %d\nstderr:\n%s", strings.Join(args, " "), code, p.stderr)
		}
		return p
	}
	if !slices.Contains(backend, "--database") {
		// On SQLite a derived issuer is not recorded: restarts on other
		// ports work.
		start()
		start()
	}
	start("--issuer", "https://auth.example.com")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "another issuer", args: []string{"--issuer", "https://other.example.com"}, want: "m2m issuer set https://other.example.com"},
		{name: "trailing slash", args: []string{"--issuer", "https://auth.example.com/"}, want: "m2m issuer set"},
		{name: "no issuer", want: "start it with --issuer https://auth.example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, code := runServe(t, nil, append(append([]string{"--addr", "127.0.0.1:0"}, backend...), tc.args...)...)
			if code != 1 {
				if code < 0 {
					p.stop()
				}
				t.Fatalf("exit %d; want 1\nstderr:\n%s", code, p.stderr)
			}
			if !strings.Contains(p.stderr.String(), tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, p.stderr)
			}
		})
	}
	start("--issuer", "https://auth.example.com")
}

// TestServeAuth0ProfileSignsRS256: a server whose default profile is
// auth0 signs RS256 (as Auth0 does, and as its SDKs verify) unless an
// algorithm is given, by flag or by variable.
func TestServeAuth0ProfileSignsRS256(t *testing.T) {
	for _, tc := range []struct {
		name string
		vars map[string]string
		args []string
		want string
	}{
		{name: "rfc9068 default", want: `"alg":"ES256"`},
		{name: "auth0 default", args: []string{"--profile", "auth0"}, want: `"alg":"RS256"`},
		{name: "auth0 by variable", vars: map[string]string{"M2M_PROFILE": "auth0"}, want: `"alg":"RS256"`},
		{name: "auth0 with --algorithm", args: []string{"--profile", "auth0", "--algorithm", "ES256"}, want: `"alg":"ES256"`},
		{name: "auth0 with M2M_ALGORITHM", vars: map[string]string{"M2M_ALGORITHM": "EdDSA"}, args: []string{"--profile", "auth0"}, want: `"alg":"EdDSA"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--addr", "127.0.0.1:0", "--data", filepath.Join(t.TempDir(), "data"), "--log-format", "json"}, tc.args...)
			p := startServe(t, tc.vars, args...)
			if code := p.stop(); code != 0 {
				t.Fatalf("m2m serve: exit %d\nstderr:\n%s", code, p.stderr)
			}
			var keyLine string
			for _, line := range strings.Split(p.stderr.String(), "\n") {
				if strings.Contains(line, `"msg":"m2m: signing key"`) {
					keyLine = line
				}
			}
			if !strings.Contains(keyLine, tc.want) {
				t.Errorf("signing key log = %q; want %s\nstderr:\n%s", keyLine, tc.want, p.stderr)
			}
		})
	}
}
