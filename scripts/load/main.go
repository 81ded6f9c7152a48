// Command load measures the m2m token endpoint against the ceiling of this
// machine: it starts the real token server ("m2m serve" on a fresh SQLite
// data directory, in a child process) and a trivial net/http handler that
// returns a fixed JSON body (in another child), then drives each with the
// same client-credentials POST at each concurrency for a fixed time (in
// slices that alternate between the two, so that the varying load of a
// shared machine falls on both alike), and prints requests per second,
// p50/p99 latency, the server's CPU time per request and its RSS as a
// markdown table.
//
// Shapes: -shapes takes a list of the ways to reach the servers, measured
// in one run with their slices alternating too: "http" (plain HTTP,
// keep-alive), "https" (TLS, keep-alive), "https-nokeepalive" (TLS, a new
// connection and so a full handshake per request) and "http-nokeepalive".
// For TLS the script makes a throwaway self-signed ECDSA P-256 certificate
// for 127.0.0.1 in its temporary directory (key file 0600), starts
// "m2m serve --tls-cert --tls-key" with it, serves the trivial handler with
// the same certificate and TLS settings, and the client trusts that
// certificate only. Each shape's m2m and trivial servers are driven by the
// same client transport. -tls and -keepalive=false name a single shape.
//
// Server CPU per request is the child's utime+stime (/proc/PID/stat) over
// each measured window, divided by the requests of that window.
//
// It is bounded: loopback only, at most 5 minutes per phase, at most 256
// concurrent requests, at most 10 seconds per request.
//
//	go run ./scripts/load -duration 10s -concurrency 16,64
//	go run ./scripts/load -duration 10s -concurrency 16 -shapes http,https,https-nokeepalive
package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/m2mkit/m2m/internal/cli"
	"github.com/m2mkit/m2m/scripts/internal/loadgen"
)

const (
	maxDuration    = loadgen.MaxDuration
	maxConcurrency = loadgen.MaxConnections
	audience       = "https://api.example.test"
)

func main() {
	child := flag.String("child", "", "internal: run as the server child (trivial | m2m)")
	duration := flag.Duration("duration", 10*time.Second, "measuring time per phase")
	warmup := flag.Duration("warmup", 2*time.Second, "warm-up time per phase (not measured)")
	conc := flag.String("concurrency", "16,64", "comma-separated concurrency levels")
	alg := flag.String("algorithm", "ES256", "signing algorithm of the token server: ES256, EdDSA or RS256")
	rounds := flag.Int("rounds", 5, "split each measurement into this many slices, alternating the servers and shapes, so that drifting load on a shared machine hits all alike")
	shapes := flag.String("shapes", "", "comma-separated shapes measured in one run: "+strings.Join(shapeNames, ", ")+" (default: the one -tls and -keepalive name)")
	useTLS := flag.Bool("tls", false, "serve over TLS with a throwaway self-signed certificate (a single shape; see -shapes)")
	keepalive := flag.Bool("keepalive", true, "reuse connections; false opens a new connection (for TLS a full handshake) per request (a single shape; see -shapes)")
	childCert := flag.String("child-tls-cert", "", "internal: TLS certificate of the trivial child")
	childKey := flag.String("child-tls-key", "", "internal: TLS key of the trivial child")
	flag.Parse()
	switch *child {
	case "trivial":
		if err := loadgen.ServeTrivial(*childCert, *childKey); err != nil {
			fatal("%v", err)
		}
		return
	case "m2m":
		os.Exit(cli.Main(flag.Args(), os.Stdin, os.Stdout, os.Stderr))
	case "":
	default:
		fatal("unknown -child %q", *child)
	}
	if *duration <= 0 || *duration > maxDuration || *warmup < 0 || *warmup > maxDuration {
		fatal("-duration and -warmup must be in (0, %v]", maxDuration)
	}
	var levels []int
	for _, f := range strings.Split(*conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > maxConcurrency {
			fatal("-concurrency %q: want numbers in [1, %d]", *conc, maxConcurrency)
		}
		levels = append(levels, n)
	}
	if *rounds < 1 || *rounds > 100 {
		fatal("-rounds must be in [1, 100]")
	}
	var shs []shape
	if *shapes == "" {
		shs = []shape{shapeOf(*useTLS, *keepalive)}
	} else {
		flag.Visit(func(f *flag.Flag) {
			if f.Name == "tls" || f.Name == "keepalive" {
				fatal("-%s: give either -shapes or -tls/-keepalive", f.Name)
			}
		})
		var err error
		if shs, err = parseShapes(*shapes); err != nil {
			fatal("%v", err)
		}
	}
	if err := run(levels, shs, *duration, *warmup, *alg, *rounds); err != nil {
		fatal("%v", err)
	}
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "load: "+format+"\n", args...)
	os.Exit(1)
}

// target is a server child under test and the form it is sent.
type target struct {
	*loadgen.Proc
	url  string // the token endpoint
	body string // the form body to POST
}

func start(name string, args ...string) (*target, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	p, err := loadgen.Start(name, self, args...)
	if err != nil {
		return nil, err
	}
	return &target{Proc: p, url: p.URL}, nil
}

type result struct {
	loadgen.Result
	shape       string
	target      string
	concurrency int
}

// pair is the trivial handler and the m2m server of one scheme, and the
// roots a client of that scheme trusts (nil for plain HTTP).
type pair struct {
	trivial, m2m *target
	roots        *x509.CertPool
}

func run(levels []int, shapes []shape, duration, warmup time.Duration, alg string, rounds int) error {
	dir, err := os.MkdirTemp("", "m2m-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// One pair of servers per scheme, each m2m on its own data directory,
	// all started before measuring so that the slices can alternate.
	pairs := map[bool]*pair{}
	for _, sh := range shapes {
		if pairs[sh.tls] != nil {
			continue
		}
		p, err := startPair(filepath.Join(dir, fmt.Sprint(len(pairs))), sh.tls, alg)
		if err != nil {
			return err
		}
		defer p.m2m.Stop()
		defer p.trivial.Stop()
		pairs[sh.tls] = p
	}

	// Say what the TLS shapes negotiate (version, key exchange, cipher
	// suite): the handshake's cost depends on them.
	tlsInfo := ""
	if p := pairs[true]; p != nil {
		if tlsInfo, err = loadgen.ProbeTLS(p.m2m.url, p.roots); err != nil {
			return err
		}
		tlsInfo = "; TLS: " + tlsInfo
	}

	type key struct {
		shape string
		t     *target
	}
	var results []result
	for _, n := range levels {
		// Alternate shapes and servers in rounds; each slice has a short
		// warm-up of its own (new connections), the first a full one.
		acc := map[key]*loadgen.Sample{}
		for r := range rounds {
			wu := 200 * time.Millisecond
			if r == 0 {
				wu = warmup
			}
			for _, sh := range shapes {
				p := pairs[sh.tls]
				for _, t := range []*target{p.trivial, p.m2m} {
					sm, err := measure(ctx, t, sh, p.roots, n, duration/time.Duration(rounds), wu)
					if err != nil {
						return err
					}
					k := key{sh.name, t}
					if acc[k] == nil {
						acc[k] = &loadgen.Sample{}
					}
					acc[k].Add(sm)
				}
			}
		}
		for _, sh := range shapes {
			p := pairs[sh.tls]
			for _, t := range []*target{p.trivial, p.m2m} {
				r := result{Result: acc[key{sh.name, t}].Result(), shape: sh.name, target: t.Name, concurrency: n}
				results = append(results, r)
				fmt.Fprintf(os.Stderr, "load: %s %s c=%d: %.0f req/s p50 %v p99 %v cpu/req %v errors %d rss %.1f MiB (peak %.1f)\n",
					r.shape, r.target, n, r.RPS, r.P50, r.P99, r.CPUPerReq, r.Errors, r.RSS, r.Peak)
			}
		}
	}
	fmt.Printf("go %s, GOMAXPROCS %d, %d CPUs; %s keys; %v per shape, server and concurrency in %d alternating slices, after %v warm-up%s\n\n",
		runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), alg, duration, rounds, warmup, tlsInfo)
	fmt.Println("| shape | server | concurrency | requests | errors | req/s | p50 | p99 | server CPU/req | RSS MiB (peak) | % of ceiling |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for i, r := range results {
		pct := "100%"
		if r.target == "m2m" && i > 0 && results[i-1].RPS > 0 {
			pct = fmt.Sprintf("%.0f%%", 100*r.RPS/results[i-1].RPS)
		}
		name := "trivial net/http (fixed JSON)"
		if r.target == "m2m" {
			name = "m2m serve, POST /oauth/token (" + alg + ")"
		}
		fmt.Printf("| %s | %s | %d | %d | %d | %.0f | %s | %s | %s | %.1f (%.1f) | %s |\n", r.shape, name, r.concurrency, r.Requests, r.Errors,
			r.RPS, fmtDur(r.P50), fmtDur(r.P99), fmtMicros(r.CPUPerReq), r.RSS, r.Peak, pct)
	}
	return nil
}

// startPair creates a data directory under dir with one client whose
// bucket is large enough never to refuse, and starts the trivial handler
// and m2m serve on it, over TLS with a throwaway certificate when useTLS.
// On error it has stopped whatever it started.
func startPair(dir string, useTLS bool, alg string) (*pair, error) {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	// Admin commands refuse a data directory that does not exist: init
	// creates it (with a first key of the algorithm under test).
	if code := cli.Main([]string{"init", "--data", data, "--algorithm", alg}, nil, io.Discard, os.Stderr); code != 0 {
		return nil, fmt.Errorf("init exited %d", code)
	}
	var out bytes.Buffer
	if code := cli.Main([]string{"client", "create", "--data", data, "--name", "load", "--audience", audience,
		"--scope", "read write", "--rate-limit", "1000000", "--burst", "1000000", "--json"}, nil, &out, os.Stderr); code != 0 {
		return nil, fmt.Errorf("client create exited %d", code)
	}
	var raw map[string]any
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		return nil, err
	}
	id, _ := raw["client_id"].(string)
	secret, _ := raw["client_secret"].(string)
	body := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret},
		"audience": {audience}}.Encode()

	trivialArgs := []string{"-child", "trivial"}
	serveArgs := []string{"-child", "m2m", "--", "serve", "--addr", "127.0.0.1:0", "--data", data, "--algorithm", alg, "--log-level", "warn"}
	p := &pair{}
	if useTLS {
		certFile, keyFile, roots, err := loadgen.MakeCert(dir)
		if err != nil {
			return nil, err
		}
		p.roots = roots
		trivialArgs = append(trivialArgs, "-child-tls-cert", certFile, "-child-tls-key", keyFile)
		serveArgs = append(serveArgs, "--tls-cert", certFile, "--tls-key", keyFile)
	}
	trivial, err := start("trivial", trivialArgs...)
	if err != nil {
		return nil, err
	}
	m2m, err := start("m2m", serveArgs...)
	if err != nil {
		trivial.Stop()
		return nil, err
	}
	p.trivial, p.m2m = trivial, m2m
	trivial.body, m2m.body = body, body
	trivial.url = trivial.URL + "/oauth/token"
	m2m.url = m2m.URL + "/oauth/token"
	return p, nil
}

func fmtDur(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

func fmtMicros(d time.Duration) string {
	if d < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f µs", float64(d)/1e3)
}

// measure drives t with n workers over shape sh: warm-up, then a measured
// window, over which it also reads the server's CPU time.
func measure(ctx context.Context, t *target, sh shape, roots *x509.CertPool, n int, duration, warmup time.Duration) (*loadgen.Sample, error) {
	req := loadgen.Request{Method: http.MethodPost, URLs: []string{t.url},
		Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, Body: t.body}
	o := loadgen.Options{Connections: n, Duration: duration, Warmup: warmup, PIDs: []int{t.Cmd.Process.Pid}, NoKeepAlive: !sh.keepalive}
	if sh.tls {
		o.Roots = roots
	}
	out, err := loadgen.Drive(ctx, req, o)
	if err != nil {
		return nil, err
	}
	if out.FirstErr != nil {
		fmt.Fprintf(os.Stderr, "load: %s %s c=%d: first error: %v\n", sh.name, t.Name, n, out.FirstErr)
	}
	return out, nil
}
