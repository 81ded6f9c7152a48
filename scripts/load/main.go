// Command load measures the m2m token endpoint against the ceiling of this
// machine: it starts the real token server ("m2m serve" on a fresh SQLite
// data directory, in a child process) and a trivial net/http handler that
// returns a fixed JSON body (in another child), then drives each with the
// same client-credentials POST at each concurrency for a fixed time (in
// slices that alternate between the two, so that the varying load of a
// shared machine falls on both alike), and prints requests per second, p50/p99 latency and the server's RSS as a
// markdown table.
//
// It is bounded: loopback only, at most 5 minutes per phase, at most 256
// concurrent requests.
//
//	go run ./scripts/load -duration 10s -concurrency 16,64
package main

import (
	"bufio"
	"bytes"
	"context"
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
	rounds := flag.Int("rounds", 5, "split each measurement into this many slices, alternating the two servers, so that drifting load on a shared machine hits both alike")
	flag.Parse()
	switch *child {
	case "trivial":
		runTrivial()
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
	if err := run(levels, *duration, *warmup, *alg, *rounds); err != nil {
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

func runTrivial() {
	ln, err := listen()
	if err != nil {
		fatal("%v", err)
	}
	// The record m2m serve writes when it listens, which start waits for.
	slog.New(slog.NewJSONHandler(os.Stderr, nil)).Info("m2m: listening", "url", "http://"+ln.Addr().String())
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, io.LimitReader(r.Body, 8<<10))
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(trivialBody)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go srv.Serve(ln)
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
		if !strings.HasPrefix(u, "http://127.0.0.1:") {
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
	target      string
	concurrency int
	requests    int
	errors      int
	rps         float64
	p50, p99    time.Duration
	rss, peak   float64
}

func run(levels []int, duration, warmup time.Duration, alg string, rounds int) error {
	dir, err := os.MkdirTemp("", "m2m-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	data := filepath.Join(dir, "data")
	// One client with a bucket large enough never to refuse.
	var out bytes.Buffer
	if code := cli.Main([]string{"client", "create", "--data", data, "--name", "load", "--audience", audience,
		"--scope", "read write", "--rate-limit", "1000000", "--burst", "1000000", "--json"}, nil, &out, os.Stderr); code != 0 {
		return fmt.Errorf("client create exited %d", code)
	}
	var c struct{ ClientID, ClientSecret string }
	var raw map[string]any
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		return err
	}
	c.ClientID, _ = raw["client_id"].(string)
	c.ClientSecret, _ = raw["client_secret"].(string)
	body := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {c.ClientSecret},
		"audience": {audience}}.Encode()

	trivial, err := start("trivial", "-child", "trivial")
	if err != nil {
		return err
	}
	defer trivial.stop()
	m2m, err := start("m2m", "-child", "m2m", "--", "serve", "--addr", "127.0.0.1:0", "--data", data, "--algorithm", alg, "--log-level", "warn")
	if err != nil {
		return err
	}
	defer m2m.stop()
	trivial.body, m2m.body = body, body
	trivial.url += "/oauth/token"
	m2m.url += "/oauth/token"

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var results []result
	for _, n := range levels {
		// Alternate the servers in rounds; each slice has a short warm-up
		// of its own (new connections), the first a full one.
		acc := map[*target]*sample{trivial: {}, m2m: {}}
		for r := range rounds {
			wu := 200 * time.Millisecond
			if r == 0 {
				wu = warmup
			}
			for _, t := range []*target{trivial, m2m} {
				sm, err := measure(ctx, t, n, duration/time.Duration(rounds), wu)
				if err != nil {
					return err
				}
				acc[t].add(sm)
			}
		}
		for _, t := range []*target{trivial, m2m} {
			r := acc[t].result(t.name, n, duration)
			results = append(results, r)
			fmt.Fprintf(os.Stderr, "load: %s c=%d: %.0f req/s p50 %v p99 %v errors %d rss %.1f MiB (peak %.1f)\n",
				r.target, n, r.rps, r.p50, r.p99, r.errors, r.rss, r.peak)
		}
	}
	fmt.Printf("go %s, GOMAXPROCS %d, %d CPUs; %s keys; %v per server and concurrency in %d alternating slices, after %v warm-up\n\n",
		runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), alg, duration, rounds, warmup)
	fmt.Println("| server | concurrency | requests | errors | req/s | p50 | p99 | RSS MiB (peak) | % of ceiling |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for i, r := range results {
		pct := "100%"
		if r.target == "m2m" && i > 0 && results[i-1].rps > 0 {
			pct = fmt.Sprintf("%.0f%%", 100*r.rps/results[i-1].rps)
		}
		name := "trivial net/http (fixed JSON)"
		if r.target == "m2m" {
			name = "m2m serve, POST /oauth/token (" + alg + ")"
		}
		fmt.Printf("| %s | %d | %d | %d | %.0f | %s | %s | %.1f (%.1f) | %s |\n", name, r.concurrency, r.requests, r.errors,
			r.rps, fmtDur(r.p50), fmtDur(r.p99), r.rss, r.peak, pct)
	}
	return nil
}

func fmtDur(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

// sample is what one or more measuring slices recorded.
type sample struct {
	lat       []time.Duration
	errors    int
	rss, peak float64
}

func (s *sample) add(o *sample) {
	s.lat = append(s.lat, o.lat...)
	s.errors += o.errors
	s.rss, s.peak = max(s.rss, o.rss), max(s.peak, o.peak)
}

func (s *sample) result(name string, n int, duration time.Duration) result {
	slices.Sort(s.lat)
	r := result{target: name, concurrency: n, requests: len(s.lat), errors: s.errors,
		rps: float64(len(s.lat)) / duration.Seconds(), rss: s.rss, peak: s.peak}
	if len(s.lat) > 0 {
		r.p50 = s.lat[len(s.lat)*50/100]
		r.p99 = s.lat[min(len(s.lat)-1, len(s.lat)*99/100)]
	}
	return r
}

// measure drives t with n workers: warm-up, then a measured window.
func measure(ctx context.Context, t *target, n int, duration, warmup time.Duration) (*sample, error) {
	tr := &http.Transport{MaxIdleConns: n, MaxIdleConnsPerHost: n, MaxConnsPerHost: n, IdleConnTimeout: time.Minute}
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
	if firstErr != nil {
		fmt.Fprintf(os.Stderr, "load: %s c=%d: first error: %v\n", t.name, n, firstErr)
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
