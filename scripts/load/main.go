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
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
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
	"sync"
	"syscall"
	"time"

	"github.com/m2mkit/m2m/internal/cli"
)

const (
	maxDuration    = 5 * time.Minute
	maxConcurrency = 256
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
		runTrivial(*childCert, *childKey)
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

// trivialBody is what the ceiling handler returns: the shape and about the
// size of a token response.
var trivialBody = []byte(`{"access_token":"` + strings.Repeat("x", 480) + `","token_type":"Bearer","expires_in":3600}` + "\n")

func runTrivial(certFile, keyFile string) {
	var cfg *tls.Config
	if certFile != "" || keyFile != "" {
		var err error
		if cfg, err = serverTLSConfig(certFile, keyFile); err != nil {
			fatal("%v", err)
		}
	}
	ln, err := listen()
	if err != nil {
		fatal("%v", err)
	}
	scheme := "http"
	if cfg != nil {
		scheme = "https"
	}
	// The record m2m serve writes when it listens, which start waits for.
	slog.New(slog.NewJSONHandler(os.Stderr, nil)).Info("m2m: listening", "url", scheme+"://"+ln.Addr().String())
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, io.LimitReader(r.Body, 8<<10))
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(trivialBody)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, TLSConfig: cfg}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if cfg != nil {
		go srv.ServeTLS(ln, "", "")
	} else {
		go srv.Serve(ln)
	}
	<-ctx.Done()
	srv.Shutdown(context.Background())
}

// target is a server child under test.
type target struct {
	name string
	cmd  *exec.Cmd
	url  string
	body string // the form body to POST
}

func start(name string, args ...string) (*target, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, args...)
	cmd.Stdout = io.Discard
	out, err := cmd.StderrPipe() // the log, where the listening record is
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := cli.ListeningURL(sc.Text()); ok {
				found <- u
			}
		}
		close(found)
	}()
	select {
	case u, ok := <-found:
		if !ok {
			cmd.Wait()
			return nil, fmt.Errorf("%s exited before listening", name)
		}
		if !strings.HasPrefix(u, "http://127.0.0.1:") && !strings.HasPrefix(u, "https://127.0.0.1:") {
			cmd.Process.Kill()
			return nil, fmt.Errorf("%s listens on %s, not loopback", name, u)
		}
		return &target{name: name, cmd: cmd, url: u}, nil
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		return nil, fmt.Errorf("%s did not start", name)
	}
}

func (t *target) stop() {
	t.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { t.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.cmd.Process.Kill()
		<-done
	}
}

// rss returns the child's resident set size and peak in MiB.
func (t *target) rss() (cur, peak float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", t.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			cur = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return cur, peak
}

type result struct {
	shape       string
	target      string
	concurrency int
	requests    int
	errors      int
	rps         float64
	p50, p99    time.Duration
	cpuPerReq   time.Duration
	rss, peak   float64
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
		defer p.m2m.stop()
		defer p.trivial.stop()
		pairs[sh.tls] = p
	}

	// Say what the TLS shapes negotiate (version, key exchange, cipher
	// suite): the handshake's cost depends on them.
	tlsInfo := ""
	if p := pairs[true]; p != nil {
		if tlsInfo, err = probeTLS(p.m2m.url, p.roots); err != nil {
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
		acc := map[key]*sample{}
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
						acc[k] = &sample{}
					}
					acc[k].add(sm)
				}
			}
		}
		for _, sh := range shapes {
			p := pairs[sh.tls]
			for _, t := range []*target{p.trivial, p.m2m} {
				r := acc[key{sh.name, t}].result(sh.name, t.name, n, duration)
				results = append(results, r)
				fmt.Fprintf(os.Stderr, "load: %s %s c=%d: %.0f req/s p50 %v p99 %v cpu/req %v errors %d rss %.1f MiB (peak %.1f)\n",
					r.shape, r.target, n, r.rps, r.p50, r.p99, r.cpuPerReq, r.errors, r.rss, r.peak)
			}
		}
	}
	fmt.Printf("go %s, GOMAXPROCS %d, %d CPUs; %s keys; %v per shape, server and concurrency in %d alternating slices, after %v warm-up%s\n\n",
		runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), alg, duration, rounds, warmup, tlsInfo)
	fmt.Println("| shape | server | concurrency | requests | errors | req/s | p50 | p99 | server CPU/req | RSS MiB (peak) | % of ceiling |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for i, r := range results {
		pct := "100%"
		if r.target == "m2m" && i > 0 && results[i-1].rps > 0 {
			pct = fmt.Sprintf("%.0f%%", 100*r.rps/results[i-1].rps)
		}
		name := "trivial net/http (fixed JSON)"
		if r.target == "m2m" {
			name = "m2m serve, POST /oauth/token (" + alg + ")"
		}
		fmt.Printf("| %s | %s | %d | %d | %d | %.0f | %s | %s | %s | %.1f (%.1f) | %s |\n", r.shape, name, r.concurrency, r.requests, r.errors,
			r.rps, fmtDur(r.p50), fmtDur(r.p99), fmtMicros(r.cpuPerReq), r.rss, r.peak, pct)
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
		certFile, keyFile, roots, err := makeCert(dir)
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
		trivial.stop()
		return nil, err
	}
	p.trivial, p.m2m = trivial, m2m
	trivial.body, m2m.body = body, body
	trivial.url += "/oauth/token"
	m2m.url += "/oauth/token"
	return p, nil
}

func fmtDur(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

func fmtMicros(d time.Duration) string {
	if d < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f µs", float64(d)/1e3)
}

// sample is what one or more measuring slices recorded.
type sample struct {
	lat       []time.Duration
	errors    int
	cpu       time.Duration // server CPU time over the measured windows; negative when unreadable
	cpuReqs   int           // requests (answered or failed) in those windows
	rss, peak float64
}

func (s *sample) add(o *sample) {
	s.lat = append(s.lat, o.lat...)
	s.errors += o.errors
	if s.cpu >= 0 && o.cpu >= 0 {
		s.cpu += o.cpu
	} else {
		s.cpu = -1
	}
	s.cpuReqs += o.cpuReqs
	s.rss, s.peak = max(s.rss, o.rss), max(s.peak, o.peak)
}

func (s *sample) result(sh, name string, n int, duration time.Duration) result {
	slices.Sort(s.lat)
	r := result{shape: sh, target: name, concurrency: n, requests: len(s.lat), errors: s.errors,
		rps: float64(len(s.lat)) / duration.Seconds(), rss: s.rss, peak: s.peak, cpuPerReq: -1}
	if len(s.lat) > 0 {
		r.p50 = s.lat[len(s.lat)*50/100]
		r.p99 = s.lat[min(len(s.lat)-1, len(s.lat)*99/100)]
	}
	if s.cpu >= 0 && s.cpuReqs > 0 {
		r.cpuPerReq = s.cpu / time.Duration(s.cpuReqs)
	}
	return r
}

// measure drives t with n workers over shape sh: warm-up, then a measured
// window, over which it also reads the server's CPU time.
func measure(ctx context.Context, t *target, sh shape, roots *x509.CertPool, n int, duration, warmup time.Duration) (*sample, error) {
	tr := &http.Transport{MaxIdleConns: n, MaxIdleConnsPerHost: n, MaxConnsPerHost: n, IdleConnTimeout: time.Minute,
		DisableKeepAlives: !sh.keepalive, TLSHandshakeTimeout: 10 * time.Second}
	if sh.tls {
		// Trust the throwaway certificate only. No session cache: without
		// keep-alive every request pays a full handshake.
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		out      = &sample{}
		firstErr error
	)
	start := time.Now()
	measureFrom := start.Add(warmup)
	end := measureFrom.Add(duration)
	pid := t.cmd.Process.Pid
	cpu0 := make(chan time.Duration, 1)
	timer := time.AfterFunc(warmup, func() {
		c, err := cpuTime(pid)
		if err != nil {
			c = -1
		}
		cpu0 <- c
	})
	defer timer.Stop()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1<<14)
			bad := 0
			var werr error
			for ctx.Err() == nil {
				t0 := time.Now()
				if t0.After(end) {
					break
				}
				err := post(client, t.url, t.body)
				d := time.Since(t0)
				if t0.Before(measureFrom) {
					continue
				}
				if err != nil {
					bad++
					if werr == nil {
						werr = err
					}
					continue
				}
				lat = append(lat, d)
			}
			mu.Lock()
			out.lat = append(out.lat, lat...)
			out.errors += bad
			if firstErr == nil {
				firstErr = werr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	cpu1, err := cpuTime(pid)
	if c0 := <-cpu0; err != nil || c0 < 0 {
		out.cpu = -1
	} else {
		out.cpu = cpu1 - c0
	}
	out.cpuReqs = len(out.lat) + out.errors
	if firstErr != nil {
		fmt.Fprintf(os.Stderr, "load: %s %s c=%d: first error: %v\n", sh.name, t.name, n, firstErr)
	}
	out.rss, out.peak = t.rss()
	return out, nil
}

func post(c *http.Client, u, body string) error {
	resp, err := c.Post(u, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}
