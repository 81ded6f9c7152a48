// Command bench measures m2m on every deployment shape beside a trivial
// net/http handler, in one run, and prints one markdown table.
//
// It builds the m2m binary (go build, into a temporary directory), starts
// on loopback each server the chosen shapes need (m2m serve on a fresh
// SQLite data directory per algorithm and profile; over TLS with a
// throwaway certificate; one and two replicas on PostgreSQL and Redis when
// -postgres and -redis are given) and the trivial handler (a fixed JSON
// body of about the size of a token response), and drives each shape with
// the same load generator: wrk when it is installed, else the Go
// generator of scripts/internal/loadgen. For each shape and number of
// connections it prints requests per second, the ratio to the trivial
// handler (over the same scheme) at the same connections, p50 and p99
// latency, the server's CPU time per request (utime+stime from
// /proc/PID/stat over the measured window, summed over replicas), its
// peak RSS (VmHWM) and the errors (failed requests and non-2xx answers).
//
// It is bounded: loopback only, at most 5 minutes per measurement, at
// most 256 connections, at most 10 seconds per request; the default run
// takes about two and a half minutes.
//
//	go run ./scripts/bench
//	go run ./scripts/bench -duration 10s -connections 16,64 \
//	    -postgres 'postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable' -redis 127.0.0.1:6379
//	go run ./scripts/bench -shapes trivial,token-es256 -connections 16 -duration 2s
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/redis/go-redis/v9"

	"github.com/m2mkit/m2m/internal/cli"
	"github.com/m2mkit/m2m/scripts/internal/loadgen"
)

const audience = "https://api.example.test"

// childEnv, set in a child's environment, makes this program the trivial
// handler (its value: "http" or "https CERT KEY").
const childEnv = "M2MBENCH_TRIVIAL"

// asM2MEnv=1 in the environment makes this program the m2m command (its
// test runs itself as the m2m binary instead of building one).
const asM2MEnv = "M2MBENCH_AS_M2M"

// shape is one row kind of the table.
type shape struct {
	name string
	what string // the table's description
	// server is the key of the server it runs on (see [bench.server]).
	server serverKind
	// replicas is how many of the server's processes the connections are
	// split between (1 or 2).
	replicas int
	// endpoint is the request: token, introspect-valid,
	// introspect-revoked, jwks, metadata, trivial.
	endpoint string
}

// serverKind names one server (set) the shapes share.
type serverKind struct {
	alg, profile string
	tls          bool
	backend      string // "sqlite", "pg-redis" or "trivial"
}

var (
	sqliteES256 = serverKind{alg: "ES256", profile: "rfc9068", backend: "sqlite"}
	trivialHTTP = serverKind{backend: "trivial"}
	trivialTLS  = serverKind{backend: "trivial", tls: true}
)

// allShapes in table order. The trivial handlers are measured first.
var allShapes = []shape{
	{"trivial", "trivial net/http handler, fixed JSON", trivialHTTP, 1, "trivial"},
	{"trivial-tls", "trivial net/http handler over TLS", trivialTLS, 1, "trivial"},
	{"token-es256", "POST /oauth/token, ES256, SQLite", sqliteES256, 1, "token"},
	{"token-eddsa", "POST /oauth/token, EdDSA, SQLite", serverKind{alg: "EdDSA", profile: "rfc9068", backend: "sqlite"}, 1, "token"},
	{"token-rs256", "POST /oauth/token, RS256, SQLite", serverKind{alg: "RS256", profile: "rfc9068", backend: "sqlite"}, 1, "token"},
	{"token-auth0", "POST /oauth/token, --profile auth0 (RS256), SQLite", serverKind{alg: "RS256", profile: "auth0", backend: "sqlite"}, 1, "token"},
	{"token-tls", "POST /oauth/token, ES256, SQLite, TLS keep-alive", serverKind{alg: "ES256", profile: "rfc9068", backend: "sqlite", tls: true}, 1, "token"},
	{"token-pg-redis", "POST /oauth/token, ES256, PostgreSQL + Redis, 1 replica", serverKind{alg: "ES256", profile: "rfc9068", backend: "pg-redis"}, 1, "token"},
	{"token-pg-redis-2", "POST /oauth/token, ES256, PostgreSQL + Redis, 2 replicas", serverKind{alg: "ES256", profile: "rfc9068", backend: "pg-redis"}, 2, "token"},
	{"introspect-valid", "POST /oauth/introspect, valid token", sqliteES256, 1, "introspect-valid"},
	{"introspect-revoked", "POST /oauth/introspect, revoked token", sqliteES256, 1, "introspect-revoked"},
	{"jwks", "GET /.well-known/jwks.json", sqliteES256, 1, "jwks"},
	{"metadata", "GET /.well-known/oauth-authorization-server", sqliteES256, 1, "metadata"},
}

func shapeNames() []string {
	var out []string
	for _, s := range allShapes {
		out = append(out, s.name)
	}
	return out
}

func main() {
	if v, ok := os.LookupEnv(childEnv); ok {
		f := strings.Fields(v)
		cert, key := "", ""
		if len(f) == 3 {
			cert, key = f[1], f[2]
		}
		if err := loadgen.ServeTrivial(cert, key); err != nil {
			fatal("%v", err)
		}
		return
	}
	if os.Getenv(asM2MEnv) == "1" {
		os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	cfg, err := parseFlags(flag.CommandLine, os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fatal("%v", err)
	}
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(1)
}

// config is what the flags say.
type config struct {
	duration, warmup time.Duration
	connections      []int
	shapes           []shape
	postgres, redis  string
	m2m              string // a prebuilt m2m binary ("" builds one)
	generator        string // "auto", "wrk" or "go"
}

func parseFlags(fs *flag.FlagSet, args []string) (*config, error) {
	duration := fs.Duration("duration", 4*time.Second, "measured time per shape and connection count")
	warmup := fs.Duration("warmup", time.Second, "warm-up per shape and connection count (not measured)")
	conns := fs.String("connections", "16,64", "comma-separated numbers of concurrent connections")
	shapes := fs.String("shapes", "", "comma-separated shapes (default: all): "+strings.Join(shapeNames(), ", "))
	pg := fs.String("postgres", "", "PostgreSQL URL for the token-pg-redis shapes (a fresh schema is created and dropped)")
	rd := fs.String("redis", "", "Redis address (HOST:PORT or redis://...) for the token-pg-redis shapes (a fresh key prefix)")
	bin := fs.String("m2m", "", "use this m2m binary instead of building one")
	gen := fs.String("generator", "auto", "load generator: auto (wrk when installed, else go), wrk or go")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c := &config{duration: *duration, warmup: *warmup, postgres: *pg, redis: *rd, m2m: *bin, generator: *gen}
	var errs []error
	if c.duration <= 0 || c.duration > loadgen.MaxDuration || c.warmup < 0 || c.warmup > loadgen.MaxDuration {
		errs = append(errs, fmt.Errorf("-duration and -warmup must be in (0, %v]", loadgen.MaxDuration))
	}
	for _, f := range strings.Split(*conns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 || n > loadgen.MaxConnections {
			errs = append(errs, fmt.Errorf("-connections %q: want numbers in [2, %d]", *conns, loadgen.MaxConnections))
			break
		}
		c.connections = append(c.connections, n)
	}
	if *shapes == "" {
		c.shapes = allShapes
	} else {
		seen := map[string]bool{}
		for _, f := range strings.Split(*shapes, ",") {
			name := strings.TrimSpace(f)
			i := slices.IndexFunc(allShapes, func(s shape) bool { return s.name == name })
			switch {
			case i < 0:
				errs = append(errs, fmt.Errorf("-shapes: unknown shape %q (want %s)", name, strings.Join(shapeNames(), ", ")))
			case seen[name]:
				errs = append(errs, fmt.Errorf("-shapes: %q given twice", name))
			default:
				seen[name] = true
				c.shapes = append(c.shapes, allShapes[i])
			}
		}
	}
	if (c.postgres == "") != (c.redis == "") {
		errs = append(errs, errors.New("-postgres and -redis go together"))
	}
	if c.generator != "auto" && c.generator != "wrk" && c.generator != "go" {
		errs = append(errs, fmt.Errorf("-generator %q: want auto, wrk or go", c.generator))
	}
	return c, errors.Join(errs...)
}

// bench is one run: its servers, started on demand and stopped at the end.
type bench struct {
	cfg     *config
	dir     string
	m2m     string
	stderr  io.Writer
	servers map[serverKind]*server
	stops   []func()
}

// server is one started server (set): its processes, the client it
// issues to, and what a shape needs to send.
type server struct {
	procs  []*loadgen.Proc
	roots  *x509.CertPool
	id     string
	secret string
	valid  string // a token, for introspection
	revoke string // a revoked token
}

func run(ctx context.Context, cfg *config, stdout, stderr io.Writer) error {
	dir, err := os.MkdirTemp("", "m2m-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b := &bench{cfg: cfg, dir: dir, stderr: stderr, servers: map[serverKind]*server{}}
	defer func() {
		for _, stop := range slices.Backward(b.stops) {
			stop()
		}
	}()
	b.m2m = cfg.m2m
	if b.m2m == "" {
		b.m2m = filepath.Join(dir, "m2m")
		fmt.Fprintln(stderr, "bench: go build -o", b.m2m, "./cmd/m2m")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b.m2m, "github.com/m2mkit/m2m/cmd/m2m")
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build: %w", err)
		}
	}
	wrk := ""
	switch cfg.generator {
	case "auto":
		wrk = loadgen.WrkPath()
	case "wrk":
		if wrk = loadgen.WrkPath(); wrk == "" {
			return errors.New("-generator wrk: wrk is not installed")
		}
	}
	generator := "the Go generator of scripts/internal/loadgen (wrk is not installed)"
	if cfg.generator == "go" {
		generator = "the Go generator of scripts/internal/loadgen"
	}
	if wrk != "" {
		generator = wrkVersion(wrk)
	}
	load0 := loadAvg()

	type row struct {
		sh      shape
		n       int
		r       loadgen.Result
		skipped string
	}
	var rows []row
	trivial := map[[2]int]float64{} // (tls, connections) -> req/s
	for _, n := range cfg.connections {
		for _, sh := range cfg.shapes {
			if sh.server.backend == "pg-redis" && cfg.postgres == "" {
				rows = append(rows, row{sh: sh, n: n, skipped: "skipped: no -postgres and -redis"})
				continue
			}
			srv, err := b.server(ctx, sh.server)
			if err != nil {
				return fmt.Errorf("%s: %w", sh.name, err)
			}
			req, err := b.request(sh, srv)
			if err != nil {
				return fmt.Errorf("%s: %w", sh.name, err)
			}
			o := loadgen.Options{Connections: n, Duration: cfg.duration, Warmup: cfg.warmup, Roots: srv.roots}
			for _, p := range srv.procs[:sh.replicas] {
				o.PIDs = append(o.PIDs, p.Cmd.Process.Pid)
			}
			var s *loadgen.Sample
			if wrk != "" {
				s, err = loadgen.DriveWrk(ctx, wrk, dir, req, o)
			} else {
				s, err = loadgen.Drive(ctx, req, o)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", sh.name, err)
			}
			if s.FirstErr != nil {
				fmt.Fprintf(stderr, "bench: %s c=%d: first error: %v\n", sh.name, n, s.FirstErr)
			}
			r := s.Result()
			if sh.endpoint == "trivial" {
				trivial[[2]int{b2i(sh.server.tls), n}] = r.RPS
			}
			fmt.Fprintf(stderr, "bench: %s c=%d: %.0f req/s, p50 %v, p99 %v, CPU/req %v, peak RSS %.1f MiB, %d errors\n",
				sh.name, n, r.RPS, r.P50, r.P99, r.CPUPerReq, r.Peak, r.Errors)
			rows = append(rows, row{sh: sh, n: n, r: r})
		}
	}
	load1 := loadAvg()
	fmt.Fprintf(stdout, "%s, GOMAXPROCS %d, %d CPUs; load generator: %s; %v per row after %v warm-up; load average %s at the start, %s at the end\n\n",
		runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), generator, cfg.duration, cfg.warmup, load0, load1)
	fmt.Fprintln(stdout, "| shape | what | connections | req/s | ratio to trivial | p50 | p99 | server CPU/req | peak RSS MiB | errors |")
	fmt.Fprintln(stdout, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, rw := range rows {
		if rw.skipped != "" {
			fmt.Fprintf(stdout, "| %s | %s | %d | %s | | | | | | |\n", rw.sh.name, rw.sh.what, rw.n, rw.skipped)
			continue
		}
		ratio := "–"
		if t := trivial[[2]int{b2i(rw.sh.server.tls), rw.n}]; t > 0 {
			ratio = fmt.Sprintf("%.2f", rw.r.RPS/t)
		}
		fmt.Fprintf(stdout, "| %s | %s | %d | %.0f | %s | %s | %s | %s | %.1f | %d |\n", rw.sh.name, rw.sh.what, rw.n, rw.r.RPS, ratio,
			fmtMillis(rw.r.P50), fmtMillis(rw.r.P99), fmtMicros(rw.r.CPUPerReq), rw.r.Peak, rw.r.Errors)
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func fmtMillis(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

func fmtMicros(d time.Duration) string {
	if d < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f µs", float64(d)/1e3)
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return "unknown"
	}
	return f[0]
}

func wrkVersion(wrk string) string {
	out, _ := exec.Command(wrk, "-v").CombinedOutput()
	line, _, _ := strings.Cut(string(out), "\n")
	if v := strings.Fields(line); len(v) >= 2 {
		return "wrk " + v[1]
	}
	return "wrk"
}

// request is what shape sh sends to srv.
func (b *bench) request(sh shape, srv *server) (loadgen.Request, error) {
	var urls []string
	for _, p := range srv.procs[:sh.replicas] {
		urls = append(urls, p.URL)
	}
	with := func(path string) []string {
		out := make([]string, len(urls))
		for i, u := range urls {
			out[i] = u + path
		}
		return out
	}
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	switch sh.endpoint {
	case "trivial", "token":
		body := url.Values{"grant_type": {"client_credentials"}, "client_id": {srv.id}, "client_secret": {srv.secret},
			"audience": {audience}}.Encode()
		return loadgen.Request{Method: http.MethodPost, URLs: with("/oauth/token"), Header: form, Body: body}, nil
	case "introspect-valid", "introspect-revoked":
		tok := srv.valid
		if sh.endpoint == "introspect-revoked" {
			tok = srv.revoke
		}
		body := url.Values{"token": {tok}, "client_id": {srv.id}, "client_secret": {srv.secret}}.Encode()
		return loadgen.Request{Method: http.MethodPost, URLs: with("/oauth/introspect"), Header: form, Body: body}, nil
	case "jwks":
		return loadgen.Request{Method: http.MethodGet, URLs: with("/.well-known/jwks.json")}, nil
	case "metadata":
		return loadgen.Request{Method: http.MethodGet, URLs: with("/.well-known/oauth-authorization-server")}, nil
	}
	return loadgen.Request{}, fmt.Errorf("unknown endpoint %q", sh.endpoint)
}

// server returns the server of kind k, starting it the first time.
func (b *bench) server(ctx context.Context, k serverKind) (*server, error) {
	if s := b.servers[k]; s != nil {
		return s, nil
	}
	dir, err := os.MkdirTemp(b.dir, "server-")
	if err != nil {
		return nil, err
	}
	s := &server{}
	var certFile, keyFile string
	if k.tls {
		if certFile, keyFile, s.roots, err = loadgen.MakeCert(dir); err != nil {
			return nil, err
		}
	}
	if k.backend == "trivial" {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(self)
		v := "http"
		if k.tls {
			v = "https " + certFile + " " + keyFile
		}
		cmd.Env = append(os.Environ(), childEnv+"="+v)
		p, err := loadgen.StartCmd("trivial", cmd)
		if err != nil {
			return nil, err
		}
		b.stops = append(b.stops, p.Stop)
		s.procs = []*loadgen.Proc{p}
		b.servers[k] = s
		return s, nil
	}

	data := filepath.Join(dir, "data")
	serveArgs := []string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--algorithm", k.alg, "--profile", k.profile, "--log-level", "warn"}
	adminArgs := []string{"--data", data}
	replicas := 1
	if k.backend == "pg-redis" {
		pg, err := b.postgresSchema(ctx)
		if err != nil {
			return nil, err
		}
		rd, err := b.redisPrefix(ctx)
		if err != nil {
			return nil, err
		}
		serveArgs = append(serveArgs, "--database", pg, "--redis", rd.url, "--redis-prefix", rd.prefix, "--issuer", "https://auth.bench.test")
		adminArgs = append(adminArgs, "--database", pg)
		replicas = 2
	} else {
		if err := b.admin(ctx, "init", "--data", data, "--algorithm", k.alg); err != nil {
			return nil, err
		}
	}
	if k.tls {
		serveArgs = append(serveArgs, "--tls-cert", certFile, "--tls-key", keyFile)
	}
	for range replicas {
		// Started one after the other: the first creates what the data
		// directory lacks (master secret, admin token, first key).
		p, err := loadgen.Start("m2m", b.m2m, serveArgs...)
		if err != nil {
			return nil, err
		}
		b.stops = append(b.stops, p.Stop)
		s.procs = append(s.procs, p)
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, b.m2m, append([]string{"client", "create", "--name", "bench", "--audience", audience,
		"--scope", "read write", "--rate-limit", "1000000", "--burst", "1000000", "--json"}, adminArgs...)...)
	cmd.Stdout, cmd.Stderr = &out, b.stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("m2m client create: %w", err)
	}
	var c struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal(out.Bytes(), &c); err != nil || c.ID == "" || c.Secret == "" {
		return nil, fmt.Errorf("m2m client create printed %q: %v", out.String(), err)
	}
	s.id, s.secret = c.ID, c.Secret
	if k == sqliteES256 {
		if err := s.tokens(); err != nil {
			return nil, err
		}
	}
	b.servers[k] = s
	return s, nil
}

// tokens gets the two tokens of the introspection shapes and revokes one.
func (s *server) tokens() error {
	hc := &http.Client{Timeout: loadgen.RequestTimeout}
	post := func(path string, form url.Values) (map[string]any, error) {
		form.Set("client_id", s.id)
		form.Set("client_secret", s.secret)
		resp, err := hc.PostForm(s.procs[0].URL+path, form)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var v map[string]any
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("POST %s = %s", path, resp.Status)
		}
		if len(body) > 0 {
			if err := json.Unmarshal(body, &v); err != nil {
				return nil, fmt.Errorf("POST %s: %w", path, err)
			}
		}
		return v, nil
	}
	for _, t := range []*string{&s.valid, &s.revoke} {
		v, err := post("/oauth/token", url.Values{"grant_type": {"client_credentials"}, "audience": {audience}})
		if err != nil {
			return err
		}
		*t, _ = v["access_token"].(string)
	}
	if _, err := post("/oauth/revoke", url.Values{"token": {s.revoke}}); err != nil {
		return err
	}
	v, err := post("/oauth/introspect", url.Values{"token": {s.revoke}})
	if err != nil {
		return err
	}
	if v["active"] != false {
		return fmt.Errorf("the revoked token introspects as %v", v)
	}
	return nil
}

func (b *bench) admin(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, b.m2m, args...)
	cmd.Stdout, cmd.Stderr = io.Discard, b.stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("m2m %s: %w", args[0], err)
	}
	return nil
}

func suffix() string {
	var r [6]byte
	rand.Read(r[:])
	return hex.EncodeToString(r[:])
}

// postgresSchema creates a fresh schema on -postgres, dropped at the end,
// and returns a URL that selects it.
func (b *bench) postgresSchema(ctx context.Context) (string, error) {
	db, err := sql.Open("pgx", b.cfg.postgres)
	if err != nil {
		return "", fmt.Errorf("-postgres: %w", err)
	}
	schema := "m2m_bench_" + suffix()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := db.ExecContext(cctx, "CREATE SCHEMA "+schema); err != nil {
		db.Close()
		return "", fmt.Errorf("-postgres: %w", err)
	}
	b.stops = append(b.stops, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			fmt.Fprintf(b.stderr, "bench: drop schema %s: %v\n", schema, err)
		}
		db.Close()
	})
	u, err := url.Parse(b.cfg.postgres)
	if err != nil {
		return "", fmt.Errorf("-postgres: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

type redisTarget struct{ url, prefix string }

// redisPrefix picks a fresh key prefix on -redis, whose keys are deleted
// at the end.
func (b *bench) redisPrefix(ctx context.Context) (redisTarget, error) {
	u := b.cfg.redis
	if !strings.Contains(u, "://") {
		u = "redis://" + u + "/0"
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		return redisTarget{}, fmt.Errorf("-redis: %w", err)
	}
	rt := redisTarget{url: u, prefix: "m2m-bench-" + suffix() + ":"}
	rdb := redis.NewClient(opts)
	b.stops = append(b.stops, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, rt.prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	return rt, nil
}
