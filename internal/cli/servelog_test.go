package cli

import (
	"bytes"
	"encoding/json"
	"log"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeLogFormat runs the real command in each --log-format with an
// unreachable Redis (whose driver then reports dial failures): every
// line on stderr is a record of that one format, stdout stays empty, the
// start records carry the version and the configuration, and the Redis
// password appears nowhere.
func TestServeLogFormat(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			p := startServe(t, nil, "--data", data, "--addr", "127.0.0.1:0", "--log-format", format,
				"--redis", "redis://:hunter2@127.0.0.1:1/0")
			if code := p.stop(); code != 0 {
				t.Fatalf("exit %d\nstderr:\n%s", code, p.stderr)
			}
			out := p.stderr.String()
			if p.stdout.String() != "" {
				t.Errorf("serve wrote to stdout:\n%s", p.stdout)
			}
			if strings.Contains(out, "hunter2") {
				t.Errorf("the log shows the Redis password:\n%s", out)
			}
			var msgs []string
			for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				switch format {
				case "json":
					var rec map[string]any
					if err := json.Unmarshal([]byte(line), &rec); err != nil {
						t.Errorf("not a JSON record: %q", line)
						continue
					}
					msgs = append(msgs, rec["msg"].(string))
				case "text":
					if !strings.HasPrefix(line, "time=") || !strings.Contains(line, " msg=") {
						t.Errorf("not a text record: %q", line)
					}
					msgs = append(msgs, line)
				}
			}
			all := strings.Join(msgs, "\n")
			for _, want := range []string{"m2m: starting", "m2m: configuration", "m2m: listening", "m2m: stopped", "redis: "} {
				if !strings.Contains(all, want) {
					t.Errorf("no %q record in:\n%s", want, out)
				}
			}
			for _, want := range []string{"version", "redis://:xxxxx@127.0.0.1:1/0", "token_ttl"} {
				if !strings.Contains(out, want) {
					t.Errorf("the start records lack %q:\n%s", want, out)
				}
			}
		})
	}
}

// TestCaptureLibraryLogs checks that the log package writes through the
// run's logger during a run and as before afterwards.
func TestCaptureLibraryLogs(t *testing.T) {
	var before, during bytes.Buffer
	prev := log.Writer()
	log.SetOutput(&before)
	defer log.SetOutput(prev)

	restore := captureLibraryLogs(slog.New(slog.NewJSONHandler(&during, nil)), "")
	log.Print("from a driver")
	restore()
	log.Print("after the run")

	var rec struct{ Msg string }
	if err := json.Unmarshal(during.Bytes(), &rec); err != nil || rec.Msg != "from a driver" {
		t.Errorf("during the run, the log package wrote %q; want one JSON record %q", during.String(), "from a driver")
	}
	if !strings.Contains(before.String(), "after the run") || strings.Contains(before.String(), "from a driver") {
		t.Errorf("outside the run, the log package wrote %q; want only %q", before.String(), "after the run")
	}
}

// TestListeningURL reads the listening record in both formats.
func TestListeningURL(t *testing.T) {
	tests := []struct {
		line, want string
		ok         bool
	}{
		{`{"time":"x","level":"INFO","msg":"m2m: listening","url":"https://127.0.0.1:8443"}`, "https://127.0.0.1:8443", true},
		{`time=x level=INFO msg="m2m: listening" url=http://127.0.0.1:8080`, "http://127.0.0.1:8080", true},
		{`{"msg":"m2m: issuer","url":"http://x"}`, "", false},
		{`time=x level=INFO msg="m2m: issuer" issuer=http://x`, "", false},
		{`m2m: listening on http://x`, "", false},
	}
	for _, tc := range tests {
		if got, ok := ListeningURL(tc.line); got != tc.want || ok != tc.ok {
			t.Errorf("ListeningURL(%q) = %q, %v; want %q, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

// TestServeLogLevelStartRecords checks that --log-level error still
// writes the start-up and shutdown records, which programs wait for.
func TestServeLogLevelStartRecords(t *testing.T) {
	p := startServe(t, nil, "--data", filepath.Join(t.TempDir(), "data"), "--addr", "127.0.0.1:0", "--log-level", "error")
	if code := p.stop(); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, p.stderr)
	}
	for _, want := range []string{`"msg":"m2m: starting"`, `"msg":"m2m: configuration"`, `"msg":"m2m: listening"`, `"msg":"m2m: stopped"`} {
		if !strings.Contains(p.stderr.String(), want) {
			t.Errorf("the log lacks %s:\n%s", want, p.stderr)
		}
	}
}

// TestServeGCPacing: serve paces the collector itself unless the
// environment's GOGC or GOMEMLIMIT says how, and says so in its log.
func TestServeGCPacing(t *testing.T) {
	const left = `"msg":"m2m: garbage collector pacing left to the runtime"`
	for _, tt := range []struct {
		vars map[string]string
		want string // the reason logged, "" for none
	}{
		{nil, ""},
		{map[string]string{"GOGC": "100"}, `"reason":"GOGC is set"`},
		{map[string]string{"GOMEMLIMIT": "512MiB"}, `"reason":"GOMEMLIMIT is set"`},
	} {
		p := startServe(t, tt.vars, "--data", filepath.Join(t.TempDir(), "data"), "--addr", "127.0.0.1:0")
		if code := p.stop(); code != 0 {
			t.Fatalf("exit %d\nstderr:\n%s", code, p.stderr)
		}
		log := p.stderr.String()
		if got := strings.Contains(log, left); got != (tt.want != "") {
			t.Errorf("env %v: log has %s: %v, want %v\n%s", tt.vars, left, got, tt.want != "", log)
		}
		if tt.want != "" && !strings.Contains(log, tt.want) {
			t.Errorf("env %v: the log lacks %s\n%s", tt.vars, tt.want, log)
		}
	}
}
