package cli

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// credential is planted in every setting of the tests below that can
// carry one; no line serve writes may show it.
const credential = "S3cret-planted-pw"

// TestServeFailuresHideCredentials runs starts of the real command that
// fail, at the settings check (exit 2) or when the database cannot be
// opened (exit 1), each with a credential in a setting given on the
// command line, in the environment or in the config file: it appears
// neither on stdout nor on stderr.
func TestServeFailuresHideCredentials(t *testing.T) {
	dead := "127.0.0.1:1" // nothing listens on port 1
	tests := []struct {
		name string
		// args are flags; a NAME=VALUE in env sets a variable; file is
		// the config file's content.
		args []string
		env  map[string]string
		file string
		code int
	}{
		{name: "postgres password, unreachable", args: []string{"--database", "postgres://u:" + credential + "@" + dead + "/x"}, code: 1},
		{name: "postgres password parameter, unreachable", args: []string{"--database", "postgres://u@" + dead + "/x?sslmode=disable&password=" + credential}, code: 1},
		{name: "postgres URL unparseable", args: []string{"--database", "postgres://u:" + credential + "%zz@" + dead + "/x"}, code: 1},
		{name: "postgres URL from the environment", env: map[string]string{"M2M_DATABASE": "postgres://u:" + credential + "@" + dead + "/x"}, code: 1},
		{name: "postgres URL from the config file", file: "database: postgres://u:" + credential + "@" + dead + "/x\n", code: 1},
		{name: "scheme left out", args: []string{"--database", "u:" + credential + "@db.example://m2m"}, code: 2},
		{name: "SQLite path with a query", args: []string{"--database", "sqlite:/var/lib/m2m.db?password=" + credential}, code: 2},
		{name: "issuer with user information", args: []string{"--issuer", "https://u:" + credential + "@auth.example/"}, code: 2},
		{name: "issuer with a token in the query", args: []string{"--issuer", "https://auth.example/?token=" + credential}, code: 2},
		{name: "audit webhook not http", args: []string{"--audit-webhook", "ftp://u:" + credential + "@hooks.example/"}, code: 2},
		{name: "audit webhook unparseable", args: []string{"--audit-webhook", "https://hooks.example/%zz?token=" + credential}, code: 2},
		{name: "redis URL unparseable", args: []string{"--redis", "redis://:" + credential + "@127.0.0.1:port/0"}, code: 2},
		{name: "redis URL from the config file unparseable", file: "redis: redis://:" + credential + "@[::1/0\n", code: 2},
		{name: "redis URL with a bad option from the environment", env: map[string]string{"M2M_REDIS": "redis://:" + credential + "@127.0.0.1:1/0?dial_timeout=" + credential}, code: 2},
		// Another setting fails after the start: its message is still
		// checked against every credential-bearing setting.
		{name: "port in use, with credentials set", args: []string{"--redis", "redis://:" + credential + "@" + dead + "/0", "--audit-webhook", "https://hooks.example/h?key=" + credential, "--addr", "%TAKEN%"}, code: 1},
	}
	taken := takenAddr(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := []string{"--data", filepath.Join(dir, "data")}
			if !hasFlag(tt.args, "--addr") {
				args = append(args, "--addr", "127.0.0.1:0")
			}
			for _, a := range tt.args {
				args = append(args, strings.ReplaceAll(a, "%TAKEN%", taken))
			}
			if tt.file != "" {
				path := filepath.Join(dir, "m2m.yaml")
				if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--config", path)
			}
			for _, format := range []string{"json", "text"} {
				p, code := runServe(t, tt.env, append(args, "--log-format", format)...)
				if code < 0 {
					t.Fatalf("m2m serve started; want exit %d\nstderr:\n%s", tt.code, p.stderr)
				}
				if code != tt.code {
					t.Errorf("m2m serve exit %d; want %d\nstderr:\n%s", code, tt.code, p.stderr)
				}
				out := p.stdout.String() + p.stderr.String()
				if strings.Contains(out, credential) {
					t.Errorf("m2m serve (--log-format %s) shows the credential:\n%s", format, out)
				}
				if tt.code == 1 && !strings.Contains(out, "m2m: serve failed") {
					t.Errorf("no failure record:\n%s", out)
				}
			}
		})
	}
}

// takenAddr returns an address something listens on until the test ends.
func takenAddr(t *testing.T) string {
	p := startServe(t, nil, "--data", filepath.Join(t.TempDir(), "data"), "--addr", "127.0.0.1:0")
	u, err := url.Parse(p.url)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// TestServeRunningHidesCredentials runs the real command with a Redis
// that cannot be reached and an audit webhook that cannot be reached,
// both URLs carrying a credential, and makes it use both: the start
// records (the configuration among them) show the settings masked, and
// neither the Redis failures of the rate limiter nor the dropped audit
// events show the credential.
func TestServeRunningHidesCredentials(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	hook := "http://127.0.0.1:1/hook?token=" + credential
	p := startServe(t, map[string]string{"M2M_REDIS": "redis://default:" + credential + "@127.0.0.1:1/0"},
		"--data", data, "--addr", "127.0.0.1:0", "--log-format", "json", "--audit-webhook", hook)
	raw, err := os.ReadFile(filepath.Join(data, dataAdminFile))
	if err != nil {
		t.Fatal(err)
	}
	// An admin action: an audit event for the webhook.
	req, err := http.NewRequest("POST", p.url+"/admin/keys/rotate", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+base64.RawURLEncoding.EncodeToString(raw))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST /admin/keys/rotate = %d; want 200", resp.StatusCode)
	}
	// A token request: the rate limiter asks Redis first.
	resp, err = http.PostForm(p.url+"/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"nobody"}, "client_secret": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The sink gives up after its retries (a second and a half of
	// backoff) and logs the drop; wait for that record, not for a time.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.stderr.String(), "audit sink failed") {
		if time.Now().After(deadline) {
			t.Fatalf("no audit sink failure logged:\n%s", p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := p.stop(); code != 0 {
		t.Errorf("exit %d\nstderr:\n%s", code, p.stderr)
	}
	out := p.stderr.String()
	if strings.Contains(out, credential) {
		t.Errorf("the log shows the credential:\n%s", out)
	}
	for _, want := range []string{
		`"audit_webhook":{"value":"http://127.0.0.1:1/hook?token=xxxxx","source":"flag"}`,
		`"redis":{"value":"redis://default:xxxxx@127.0.0.1:1/0","source":"env"}`,
		"using local buckets",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %s:\n%s", want, out)
		}
	}
}

// TestSecretSettingsCoverURLs: every serve setting whose help says it
// takes a URL is logged masked and never echoed in an error, so that a
// new URL setting cannot be added without it.
func TestSecretSettingsCoverURLs(t *testing.T) {
	_, o := newServeCmd(&Env{})
	o.flags.VisitAll(func(f *pflag.Flag) {
		if strings.Contains(f.Usage, "URL") && !slices.Contains(secretSettings, f.Name) {
			t.Errorf("--%s takes a URL (%q) but is not in secretSettings", f.Name, f.Usage)
		}
	})
}

// TestServeScrub: the failure record is masked for every
// credential-bearing setting, even where the step that failed did not.
func TestServeScrub(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		text string
		want string
	}{
		{"database URL echoed", map[string]string{"database": "postgres://u:" + credential + "@db/x"},
			"open postgres://u:" + credential + "@db/x: refused", "open postgres://u:xxxxx@db/x: refused"},
		{"password echoed alone", map[string]string{"redis": "redis://:" + credential + "@cache:6379/0"},
			"WRONGPASS " + credential, "WRONGPASS xxxxx"},
		{"webhook token", map[string]string{"audit-webhook": "https://hooks.example/h?token=" + credential},
			"Post \"https://hooks.example/h?token=" + credential + "\": EOF", "Post \"https://hooks.example/h?token=xxxxx\": EOF"},
		{"several settings", map[string]string{"database": "postgres://u:" + credential + "1@db/x", "redis": "redis://:" + credential + "2@cache/0"},
			credential + "1 " + credential + "2", "xxxxx xxxxx"},
		{"unparseable setting", map[string]string{"database": "postgres://u:" + credential + "%zz@db/x"},
			"bad postgres://u:" + credential + "%zz@db/x", "bad postgres:[REDACTED]"},
		{"short password", map[string]string{"redis": "redis://:pw@cache/0"},
			"listen tcp: address already in use (pw)", "error text withheld: it may show a credential of --redis too short to mask"},
		{"nothing to mask", map[string]string{"database": "sqlite:///var/lib/m2m/m2m.db"},
			"listen tcp 127.0.0.1:8080: address already in use", "listen tcp 127.0.0.1:8080: address already in use"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, o := newServeCmd(&Env{})
			for k, v := range tt.set {
				if err := o.flags.Set(k, v); err != nil {
					t.Fatal(err)
				}
			}
			if got := o.scrub(tt.text); got != tt.want {
				t.Errorf("scrub(%q) = %q; want %q", tt.text, got, tt.want)
			}
		})
	}
}

// TestRequestUsageHidesValues: a malformed -H or --data is refused
// without being repeated, since it is often a credential with its
// separator missing.
func TestRequestUsageHidesValues(t *testing.T) {
	creds := map[string]string{"M2M_CLIENT_ID": "id", "M2M_CLIENT_SECRET": "s"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"header without a colon", []string{"-H", "X-Api-Key " + credential}, "-H (header 1 of 1): want 'Name: value'"},
		{"second header", []string{"-H", "X-A: 1", "-H", "Authorization Bearer " + credential}, "-H (header 2 of 2): want 'Name: value'"},
		{"data without =", []string{"--data", credential}, "--data (field 1 of 1): want key=value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"request", "GET", "http://127.0.0.1:1/api", "--token-url", "http://127.0.0.1:1/token", "--audience", "a"}, tc.args...)
			code, stdout, stderr := run(t, creds, "", args...)
			if code != 2 {
				t.Errorf("m2m request = exit %d; want 2", code)
			}
			if strings.Contains(stdout+stderr, credential) {
				t.Errorf("m2m request shows the value: stdout %q, stderr %q", stdout, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr = %q; want %q", stderr, tc.want)
			}
		})
	}
}
