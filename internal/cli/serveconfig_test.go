package cli

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// envOf is an Env whose environment is exactly vars.
func envOf(vars map[string]string) *Env {
	return &Env{
		Stdin: strings.NewReader(""), Stdout: new(strings.Builder), Stderr: new(strings.Builder),
		LookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		Environ: func() []string {
			var kv []string
			for k, v := range vars {
				kv = append(kv, k+"="+v)
			}
			return kv
		},
	}
}

// resolveServe parses args as serve does, resolves the environment vars
// and the config file, validates, and returns the options, the sources
// and every problem.
func resolveServe(t *testing.T, vars map[string]string, args ...string) (*serveOptions, map[string]string, error) {
	t.Helper()
	env := envOf(vars)
	c, o := newServeCmd(env)
	if err := c.Flags().Parse(args); err != nil {
		t.Fatalf("Parse(%q): %v", args, err)
	}
	sources, errs := resolveSettings(env, c.Flags())
	o.flagErrs = append(o.flagErrs, errs...)
	o.sources = sources
	return o, sources, errors.Join(o.validate()...)
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m2m.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestServeSettingsPrecedence checks flags > environment > file > default
// for each kind of value.
func TestServeSettingsPrecedence(t *testing.T) {
	file := writeConfig(t, `
token-ttl: 30m
profile: auth0
key-refresh: 2s
rotate-every: 0s
audience-profile:
  https://a.example: auth0
  "https://b.example/x,y": rfc9068
`)
	tests := []struct {
		name        string
		vars        map[string]string
		args        []string
		wantTTL     time.Duration
		wantProfile string
		wantSource  string // of token-ttl
	}{
		{name: "default", args: nil, wantTTL: time.Hour, wantProfile: "rfc9068", wantSource: ""},
		{name: "file", args: []string{"--config", file}, wantTTL: 30 * time.Minute, wantProfile: "auth0", wantSource: sourceFile},
		{name: "config from env", vars: map[string]string{"M2M_CONFIG": file}, wantTTL: 30 * time.Minute, wantProfile: "auth0", wantSource: sourceFile},
		{name: "env over file", vars: map[string]string{"M2M_TOKEN_TTL": "10m"}, args: []string{"--config", file}, wantTTL: 10 * time.Minute, wantProfile: "auth0", wantSource: sourceEnv},
		{name: "flag over env", vars: map[string]string{"M2M_TOKEN_TTL": "10m", "M2M_PROFILE": "rfc9068"}, args: []string{"--config", file, "--token-ttl", "5m"}, wantTTL: 5 * time.Minute, wantProfile: "rfc9068", wantSource: sourceFlag},
		{name: "empty env is unset", vars: map[string]string{"M2M_TOKEN_TTL": ""}, args: []string{"--config", file}, wantTTL: 30 * time.Minute, wantProfile: "auth0", wantSource: sourceFile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, sources, err := resolveServe(t, tc.vars, tc.args...)
			if err != nil {
				t.Fatalf("problems: %v", err)
			}
			if o.tokenTTL != tc.wantTTL || o.profile != tc.wantProfile || sources["token-ttl"] != tc.wantSource {
				t.Errorf("token-ttl %v from %q, profile %q; want %v from %q, %q", o.tokenTTL, sources["token-ttl"], o.profile, tc.wantTTL, tc.wantSource, tc.wantProfile)
			}
		})
	}
	o, _, err := resolveServe(t, nil, "--config", file)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"https://a.example": "auth0", "https://b.example/x,y": "rfc9068"}
	if diff := cmp.Diff(want, o.audienceProfiles); diff != "" {
		t.Errorf("audience-profile from the file (-want +got):\n%s", diff)
	}
}

// TestServeTrustedProxiesSettings checks the list forms of
// trusted-proxies: a YAML list, a comma-separated string, the variable.
func TestServeTrustedProxiesSettings(t *testing.T) {
	tests := []struct {
		name string
		file string
		vars map[string]string
		want string
	}{
		{name: "list", file: "trusted-proxies:\n  - 10.0.0.0/8\n  - 2001:db8::/32\n", want: "10.0.0.0/8,2001:db8::/32"},
		{name: "string", file: "trusted-proxies: 10.0.0.0/8, 192.0.2.7\n", want: "10.0.0.0/8, 192.0.2.7"},
		{name: "variable", vars: map[string]string{"M2M_TRUSTED_PROXIES": "192.0.2.0/24"}, want: "192.0.2.0/24"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var args []string
			if tc.file != "" {
				args = []string{"--config", writeConfig(t, tc.file)}
			}
			o, _, err := resolveServe(t, tc.vars, args...)
			if err != nil {
				t.Fatal(err)
			}
			if o.trustedProxies != tc.want {
				t.Errorf("trusted-proxies = %q; want %q", o.trustedProxies, tc.want)
			}
		})
	}
}

// TestServeSettingsRefused checks that every problem of the file and the
// environment is reported at once, and that an explicit zero is never
// the default.
func TestServeSettingsRefused(t *testing.T) {
	tests := []struct {
		name string
		file string
		vars map[string]string
		args []string
		want []string // each in the joined problems
	}{
		{name: "unknown key", file: "tokn-ttl: 1h\n", want: []string{`unknown key "tokn-ttl" (did you mean token-ttl?)`}},
		{name: "snake case key", file: "token_ttl: 1h\n", want: []string{`unknown key "token_ttl" (did you mean token-ttl?)`}},
		{name: "bad value", file: "token-ttl: soon\n", want: []string{`:1: token-ttl: invalid value "soon"`}},
		{name: "zero in the file", file: "token-ttl: 0s\n", want: []string{"--token-ttl 0s"}},
		{name: "bare zero in the file", file: "key-refresh: 0\n", want: []string{"--key-refresh 0s"}},
		{name: "zero in the environment", vars: map[string]string{"M2M_PRE_PUBLISH": "0s"}, want: []string{"--pre-publish 0s"}},
		{name: "no value", file: "token-ttl:\n", want: []string{"token-ttl: no value"}},
		{name: "list for a scalar", file: "addr: [a, b]\n", want: []string{"addr: want a single value"}},
		{name: "repeated key", file: "addr: 127.0.0.1:1\naddr: 127.0.0.1:2\n", want: []string{"addr: repeated (first at line 1)"}},
		{name: "config in the file", file: "config: other.yaml\n", want: []string{"config: cannot be set"}},
		{name: "not a mapping", file: "- addr\n", want: []string{"want a mapping"}},
		{name: "two documents", file: "addr: 127.0.0.1:1\n---\naddr: 127.0.0.1:2\n", want: []string{"want one YAML document"}},
		{name: "missing file", args: []string{"--config", "/nonexistent/m2m.yaml"}, want: []string{"--config: open /nonexistent/m2m.yaml"}},
		{name: "misspelt variable", vars: map[string]string{"M2M_TOKEN_TTLS": "1h"}, want: []string{"M2M_TOKEN_TTLS: not a setting of m2m serve (did you mean M2M_TOKEN_TTL?)"}},
		{name: "variable with a suffix", vars: map[string]string{"M2M_DATA_DIR": "/x"}, want: []string{"M2M_DATA_DIR: not a setting of m2m serve (did you mean M2M_DATA?)"}},
		{name: "bad variable value", vars: map[string]string{"M2M_INSECURE_HTTP": "yes please"}, want: []string{`M2M_INSECURE_HTTP: invalid value "yes please"`}},
		{name: "bad trusted proxy", file: "trusted-proxies: [10.0.0.0/8, proxy.example]\n", want: []string{`--trusted-proxies: clientaddr: "proxy.example" is not a CIDR prefix`}},
		{name: "bad trusted proxy variable", vars: map[string]string{"M2M_TRUSTED_PROXIES": "10.0.0.0/33"}, want: []string{"--trusted-proxies"}},
		{name: "negative redis rate lease", vars: map[string]string{"M2M_REDIS_RATE_LEASE": "-1ms"}, want: []string{"--redis-rate-lease -1ms: want 0 (exact) to 1s"}},
		{name: "redis rate lease too long", file: "redis-rate-lease: 2s\n", want: []string{"--redis-rate-lease 2s: want 0 (exact) to 1s"}},
		{name: "secret never repeated", file: "redis: redis://:hunter2@[::1:6379/0\n", want: []string{"--redis"}},
		{
			name: "all at once",
			file: "tokn-ttl: 1h\nprofile: hydra\nkey-refresh: never\n",
			vars: map[string]string{"M2M_ADRR": "x", "M2M_ALGORITHM": "HS256"},
			args: []string{"--rotate-every", "-1s"},
			want: []string{"tokn-ttl", "--profile \"hydra\"", "key-refresh: invalid value", "M2M_ADRR", "--algorithm \"HS256\"", "--rotate-every -1s"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				args = append(args, "--config", writeConfig(t, tc.file))
			}
			_, _, err := resolveServe(t, tc.vars, args...)
			if err == nil {
				t.Fatalf("no problem reported; want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("problems lack %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("problems show a password:\n%v", err)
			}
		})
	}
}

// TestServeSettingsOtherVariables checks that variables of other commands
// and of the test suites are not taken for misspelt settings.
func TestServeSettingsOtherVariables(t *testing.T) {
	vars := map[string]string{
		"M2M_CLIENT_ID": "x", "M2M_CLIENT_SECRET": "x", "M2M_TOKEN_URL": "x", "M2M_AUDIENCE": "x",
		"M2M_DOMAIN": "x", "M2M_SECRET": "x", "M2M_SERVER": "x", "M2M_ADMIN_TOKEN": "x", "M2M_ADMIN_TOKEN_FILE": "x",
		"M2M_TEST_POSTGRES_DSN": "x", "M2M_VECTORS_DIR": "x", "M2M_SQLSTORE_HELPER_DB": "x",
	}
	if _, _, err := resolveServe(t, vars); err != nil {
		t.Errorf("problems: %v", err)
	}
}

// TestExampleConfig loads m2m.example.yaml from the repository root: it
// is valid as shipped, and it names every setting of serve (as a key or a
// commented-out key).
func TestExampleConfig(t *testing.T) {
	path := filepath.Join("..", "..", "m2m.example.yaml")
	o, sources, err := resolveServe(t, nil, "--config", path)
	if err != nil {
		t.Fatalf("m2m.example.yaml: %v", err)
	}
	if sources["addr"] != sourceFile || o.addr != "127.0.0.1:8080" {
		t.Errorf("addr = %q from %q; want 127.0.0.1:8080 from the file", o.addr, sources["addr"])
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := newServeCmd(envOf(nil))
	for _, f := range settingFlags(c.Flags()) {
		if f.Name == configFlag {
			continue
		}
		if !regexp.MustCompile(`(?m)^(# )?` + regexp.QuoteMeta(f.Name) + `:`).Match(b) {
			t.Errorf("m2m.example.yaml does not document %s", f.Name)
		}
	}
}

// TestServeDocumentedVariables checks that every M2M_* variable the
// README or docs mention for serve is one serve reads.
func TestServeDocumentedVariables(t *testing.T) {
	var text []byte
	for _, pattern := range []string{"../../*.md", "../../docs/*.md", "../../docs/*/*.md", "../../m2m.example.yaml", "../../packaging/*", "../../Dockerfile"} {
		files, _ := filepath.Glob(pattern)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			text = append(text, b...)
		}
	}
	c, _ := newServeCmd(envOf(nil))
	serveVars := map[string]bool{}
	for _, f := range settingFlags(c.Flags()) {
		serveVars[envName(f.Name)] = true
	}
	for _, name := range regexp.MustCompile(`M2M_[A-Z0-9_]*[A-Z0-9]`).FindAllString(string(text), -1) {
		if serveVars[name] || strings.HasPrefix(name, "M2M_TEST_") || slices.Contains(otherCommandVars, name) {
			continue
		}
		if name == "M2M_VECTORS_DIR" || name == "M2M_UPDATE_SCREENSHOTS" {
			continue // read by the vector tests and the console's browser test
		}
		t.Errorf("the docs mention %s, which no command reads", name)
	}
}

// FuzzConfigFile feeds arbitrary files to the config reader: it reports
// problems and never panics, and whatever it accepts, serve's flags take.
func FuzzConfigFile(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "..", "m2m.example.yaml")); err == nil {
		f.Add(b)
	}
	for _, seed := range []string{
		"", "# only a comment\n", "addr: 127.0.0.1:1\n", "token-ttl:\n", "audience-profile:\n  a: auth0\n",
		"trusted-proxies: [10.0.0.0/8, ::1]\n", "- x\n", "a: &x 1\nb: *x\n", "addr: {a: b}\n", "---\n---\n",
		"insecure-http: yes\n", "token-ttl: 1e9h\n", "\"addr\": !!binary aGk=\n",
	} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "fuzz.yaml")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		env := envOf(nil)
		c, o := newServeCmd(env)
		if err := c.Flags().Parse([]string{"--config", path}); err != nil {
			t.Fatal(err)
		}
		_, errs := resolveSettings(env, c.Flags())
		o.flagErrs = append(o.flagErrs, errs...)
		_ = o.validate()
	})
}

// TestServeRedisRateLease: --redis-rate-lease sets the shared limiter's
// lease and, ten times as long, its remembered failure checks; 0 makes
// every decision exact.
func TestServeRedisRateLease(t *testing.T) {
	for _, tc := range []struct {
		name           string
		args           []string
		lease, peekTTL time.Duration
	}{
		{"default", nil, 100 * time.Millisecond, time.Second},
		{"exact", []string{"--redis-rate-lease", "0s"}, 0, 0},
		{"longest", []string{"--redis-rate-lease", "1s"}, time.Second, 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, _, err := resolveServe(t, nil, tc.args...)
			if err != nil {
				t.Fatalf("problems: %v", err)
			}
			lim := o.redisLimiter(nil, nil)
			if lim.Lease != tc.lease || lim.PeekTTL != tc.peekTTL || lim.Fallback == nil || lim.Prefix != "m2m:rl:" {
				t.Errorf("limiter = Lease %v PeekTTL %v Fallback %v Prefix %q; want %v, %v, a fallback, m2m:rl:",
					lim.Lease, lim.PeekTTL, lim.Fallback, lim.Prefix, tc.lease, tc.peekTTL)
			}
		})
	}
}
