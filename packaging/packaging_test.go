// Package packaging_test checks the files that ship m2m: LICENSE, the
// Dockerfile and .dockerignore, the systemd unit and its environment
// file. What needs a tool (systemd-analyze, a Docker daemon with the base
// images) runs where the tool is present and is skipped with the reason
// otherwise; the invariants are checked everywhere.
package packaging_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// apache20SHA256 is the SHA-256 of the Apache License 2.0 text as the
// ASF publishes it (https://www.apache.org/licenses/LICENSE-2.0.txt) and
// Debian ships it (/usr/share/common-licenses/Apache-2.0).
const apache20SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLicense(t *testing.T) {
	b := read(t, "LICENSE")
	sum := sha256.Sum256([]byte(b))
	if got := hex.EncodeToString(sum[:]); got != apache20SHA256 {
		t.Errorf("sha256(LICENSE) = %s; want %s (the Apache License 2.0 text, unchanged)", got, apache20SHA256)
	}
	if ref, err := os.ReadFile("/usr/share/common-licenses/Apache-2.0"); err == nil && string(ref) != b {
		t.Errorf("LICENSE differs from /usr/share/common-licenses/Apache-2.0")
	}
}

// stage is one FROM section of a Dockerfile: its base image and its
// instructions, continuation lines joined, comments dropped.
type stage struct {
	from  string
	instr []string
}

func parseDockerfile(t *testing.T, text string) []stage {
	t.Helper()
	var (
		stages []stage
		cur    strings.Builder
	)
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		if kw, rest, _ := strings.Cut(line, " "); strings.EqualFold(kw, "FROM") {
			stages = append(stages, stage{from: strings.Fields(rest)[0]})
			return
		}
		if len(stages) == 0 {
			return // ARG before the first FROM
		}
		s := &stages[len(stages)-1]
		s.instr = append(s.instr, line)
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if l, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(l + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	flush()
	return stages
}

// instructions returns the arguments of every instruction kw in s.
func (s stage) instructions(kw string) []string {
	var out []string
	for _, in := range s.instr {
		if k, rest, _ := strings.Cut(in, " "); strings.EqualFold(k, kw) {
			out = append(out, strings.TrimSpace(rest))
		}
	}
	return out
}

func TestDockerfileInvariants(t *testing.T) {
	stages := parseDockerfile(t, read(t, "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages; want a build stage and a runtime stage", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]
	if final.from != "scratch" && !strings.HasPrefix(final.from, "gcr.io/distroless/static") {
		t.Errorf("runtime stage FROM %s; want scratch or gcr.io/distroless/static", final.from)
	}
	users := final.instructions("USER")
	if len(users) == 0 {
		t.Errorf("runtime stage has no USER; want a non-root user")
	}
	for _, u := range users {
		name, _, _ := strings.Cut(u, ":")
		if name == "root" || name == "0" {
			t.Errorf("runtime stage USER %s; want a non-root user", u)
		}
	}
	if v := final.instructions("VOLUME"); !slices.ContainsFunc(v, func(s string) bool { return strings.Contains(s, `"/data"`) }) {
		t.Errorf("runtime stage VOLUME %q; want /data", v)
	}
	if !slices.ContainsFunc(final.instructions("COPY"), func(s string) bool { return strings.Contains(s, "ca-certificates.crt") }) {
		t.Errorf("runtime stage copies no CA certificates; want /etc/ssl/certs/ca-certificates.crt for outbound HTTPS")
	}
	cmd := strings.Join(final.instructions("CMD"), " ")
	for _, want := range []string{`"serve"`, `"--data", "/data"`} {
		if !strings.Contains(cmd, want) {
			t.Errorf("CMD %s; want it to contain %s", cmd, want)
		}
	}
	// Client secrets travel in token requests: the default command serves
	// HTTPS, or says explicitly that a proxy terminates TLS.
	tls := strings.Contains(cmd, `"--tls-cert"`) && strings.Contains(cmd, `"--tls-key"`)
	if !tls && !strings.Contains(cmd, `"--insecure-http"`) {
		t.Errorf("CMD %s; want --tls-cert and --tls-key, or an explicit --insecure-http", cmd)
	}

	run := strings.Join(build.instructions("RUN"), "\n")
	for _, want := range []string{
		"CGO_ENABLED=0", "-trimpath",
		"-X github.com/m2mkit/m2m/internal/version.Version=${VERSION}",
	} {
		if !strings.Contains(run, want) {
			t.Errorf("build stage RUN lacks %q", want)
		}
	}
	if !slices.ContainsFunc(build.instructions("ARG"), func(s string) bool { return strings.HasPrefix(s, "VERSION") }) {
		t.Errorf("build stage has no ARG VERSION")
	}
}

func TestDockerignore(t *testing.T) {
	lines := strings.Split(read(t, ".dockerignore"), "\n")
	// Secrets and VCS metadata stay out of the build context.
	for _, want := range []string{".git", "**/m2m-data", "**/*.key", "**/creds.json"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore lacks %q", want)
		}
	}
	// What the build needs stays in.
	for _, l := range lines {
		if l == "go.mod" || l == "go.sum" || l == "*.go" || l == "**/*.go" || l == "cmd" || l == "internal" {
			t.Errorf(".dockerignore excludes %q, which the build needs", l)
		}
	}
}

// m2mBinary builds cmd/m2m the way the Dockerfile does (its go build
// command, with version v0.0.0-packaging) once per test binary.
var m2mBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "m2m-packaging")
	if err != nil {
		return "", err
	}
	builtDir = dir
	bin := filepath.Join(dir, "m2m")
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -X github.com/m2mkit/m2m/internal/version.Version=v0.0.0-packaging",
		"-o", bin, "./cmd/m2m")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", &buildError{err, out}
	}
	return bin, nil
})

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + string(e.out) }

func buildM2M(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: m2m is not built (a static build takes a minute when not cached)")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not in PATH; cannot build m2m")
	}
	bin, err := m2mBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// builtDir holds the binary m2mBinary built, if it ran.
var builtDir string

// TestMain removes the binary the tests shared.
func TestMain(m *testing.M) {
	code := m.Run()
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

// TestStaticBuild checks that the Dockerfile's build flags give a static
// binary with the version stamped in.
func TestStaticBuild(t *testing.T) {
	bin := buildM2M(t)
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"build\tCGO_ENABLED=0", "build\t-trimpath=true"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("go version -m m2m lacks %q:\n%s", want, out)
		}
	}
	// -trimpath keeps -ldflags out of the build information: look for the
	// stamped version in m2m --version, or in the binary where the
	// command has no --version yet.
	if out, err := exec.Command(bin, "--version").CombinedOutput(); err == nil {
		if !bytes.Contains(out, []byte("v0.0.0-packaging")) {
			t.Errorf("m2m --version = %q; want v0.0.0-packaging", out)
		}
	} else if b, err := os.ReadFile(bin); err != nil {
		t.Fatal(err)
	} else if !bytes.Contains(b, []byte("v0.0.0-packaging")) {
		t.Errorf("the binary does not hold the version v0.0.0-packaging given with -ldflags -X")
	}
	if elf, err := exec.LookPath("file"); err == nil {
		out, _ := exec.Command(elf, bin).Output()
		if bytes.Contains(out, []byte("dynamically linked")) {
			t.Errorf("file m2m = %s; want a static binary", out)
		}
	}
}

// serveFlags returns the flags m2m serve accepts.
func serveFlags(t *testing.T, bin string) map[string]bool {
	t.Helper()
	out, err := exec.Command(bin, "serve", "--help").Output()
	if err != nil {
		t.Fatalf("m2m serve --help: %v", err)
	}
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([a-z0-9-]+)`).FindAllSubmatch(out, -1) {
		flags[string(m[1])] = true
	}
	if !flags["data"] {
		t.Fatalf("m2m serve --help lists no --data flag:\n%s", out)
	}
	return flags
}

// TestFlagsExist checks that every flag the image's command, the unit's
// ExecStart and the environment file name is one m2m serve has.
func TestFlagsExist(t *testing.T) {
	flags := serveFlags(t, buildM2M(t))
	check := func(where, name string) {
		if !flags[name] {
			t.Errorf("%s names --%s; m2m serve has no such flag", where, name)
		}
	}
	flagRE := regexp.MustCompile(`--([a-z0-9-]+)`)
	for _, s := range parseDockerfile(t, read(t, "Dockerfile")) {
		for _, c := range s.instructions("CMD") {
			for _, m := range flagRE.FindAllStringSubmatch(c, -1) {
				check("Dockerfile CMD", m[1])
			}
		}
	}
	for _, line := range strings.Split(read(t, "packaging/m2m.service"), "\n") {
		if rest, ok := strings.CutPrefix(line, "ExecStart="); ok {
			for _, m := range flagRE.FindAllStringSubmatch(rest, -1) {
				check("m2m.service ExecStart", m[1])
			}
		}
	}
	envRE := regexp.MustCompile(`^#?M2M_([A-Z0-9_]+)=`)
	n := 0
	for _, line := range strings.Split(read(t, "packaging/m2m.env"), "\n") {
		if m := envRE.FindStringSubmatch(line); m != nil {
			n++
			check("m2m.env M2M_"+m[1], strings.ToLower(strings.ReplaceAll(m[1], "_", "-")))
		}
	}
	if n == 0 {
		t.Errorf("m2m.env sets no M2M_ variable")
	}
}

// unitDirectives returns the unit's Key=Value lines, every value of a key
// in order.
func unitDirectives(text string) map[string][]string {
	d := map[string][]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok {
			d[k] = append(d[k], v)
		}
	}
	return d
}

func TestSystemdUnitHardening(t *testing.T) {
	d := unitDirectives(read(t, "packaging/m2m.service"))
	tests := []struct {
		key  string
		want string // "" means the key must be present with an empty value
	}{
		{"NoNewPrivileges", "yes"},
		{"ProtectSystem", "strict"},
		{"ProtectHome", "yes"},
		{"PrivateTmp", "yes"},
		{"PrivateDevices", "yes"},
		{"CapabilityBoundingSet", ""},
		{"AmbientCapabilities", ""},
		{"RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"},
		{"SystemCallFilter", "@system-service"},
		{"SystemCallArchitectures", "native"},
		{"MemoryDenyWriteExecute", "yes"},
		{"LockPersonality", "yes"},
		{"RestrictSUIDSGID", "yes"},
		{"RestrictNamespaces", "yes"},
		{"StateDirectory", "m2m"},
		{"StateDirectoryMode", "0700"},
		{"UMask", "0077"},
		{"ExecReload", "/bin/kill -HUP $MAINPID"},
		{"Restart", "on-failure"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := d[tt.key]; !slices.Contains(got, tt.want) {
				t.Errorf("m2m.service %s = %q; want %q among them", tt.key, got, tt.want)
			}
		})
	}
	users := d["User"]
	if !slices.Contains(d["DynamicUser"], "yes") && (len(users) == 0 || slices.Contains(users, "root") || slices.Contains(users, "0")) {
		t.Errorf("m2m.service User = %q, DynamicUser = %q; want a non-root user", users, d["DynamicUser"])
	}
	exec := strings.Join(d["ExecStart"], " ")
	if !strings.Contains(exec, "serve") || !strings.Contains(exec, "--data /var/lib/m2m") {
		t.Errorf("m2m.service ExecStart = %q; want m2m serve --data /var/lib/m2m (the StateDirectory)", exec)
	}
}

// TestSystemdAnalyze runs systemd-analyze verify on the unit (with
// ExecStart pointing at a freshly built m2m, since verify checks that the
// binary exists) and systemd-analyze security, which must rate the unit's
// exposure at most 1.5 of 10.
func TestSystemdAnalyze(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not in PATH: the unit is not verified here (TestSystemdUnitHardening checks its directives)")
	}
	bin := buildM2M(t)
	unit := strings.ReplaceAll(read(t, "packaging/m2m.service"), "/usr/local/bin/m2m", bin)
	path := filepath.Join(t.TempDir(), "m2m.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, sa, "verify", "--man=no", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("systemd-analyze verify m2m.service: %v\n%s", err, out)
	}
	out, err = exec.CommandContext(ctx, sa, "security", "--offline=true", "--threshold=15", path).CombinedOutput()
	if err != nil {
		if bytes.Contains(out, []byte("--offline")) || bytes.Contains(out, []byte("--threshold")) {
			t.Skipf("systemd-analyze security has no --offline/--threshold here: %s", out)
		}
		t.Errorf("systemd-analyze security m2m.service: %v (exposure over 1.5)\n%s", err, out)
	}
}

// TestDockerBuild builds the image and runs m2m --version in it, where a
// Docker daemon answers and has the base images (there is no network to
// a registry in the test environment, so nothing is pulled).
func TestDockerBuild(t *testing.T) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("docker not in PATH: the image is not built here (TestDockerfileInvariants checks the Dockerfile)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, docker, "info").CombinedOutput(); err != nil {
		t.Skipf("no Docker daemon answers (%v): the image is not built here\n%s", err, bytes.TrimSpace(out))
	}
	base := "golang:1.26"
	if out, err := exec.CommandContext(ctx, docker, "image", "inspect", base).CombinedOutput(); err != nil {
		t.Skipf("base image %s is not present locally and is not pulled: the image is not built here\n%s", base, bytes.TrimSpace(out))
	}
	tag := "m2m-packaging-test:" + time.Now().Format("20060102150405")
	build := exec.CommandContext(ctx, docker, "build", "--pull=false", "--build-arg", "VERSION=v0.0.0-docker", "-t", tag, ".")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	defer exec.Command(docker, "image", "rm", "-f", tag).Run()

	out, err := exec.CommandContext(ctx, docker, "image", "inspect", "--format", "{{.Config.User}} {{json .Config.Volumes}}", tag).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != `65532:65532 {"/data":{}}` {
		t.Errorf("image user and volumes = %s; want 65532:65532 and /data", got)
	}
	out, err = exec.CommandContext(ctx, docker, "run", "--rm", tag, "serve", "--help").CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--data")) {
		t.Errorf("docker run %s serve --help: %v\n%s", tag, err, out)
	}
}
