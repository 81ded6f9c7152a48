package loadgen

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/m2mkit/m2m/internal/cli"
)

// Bounds of every run: loopback only, at most MaxDuration per phase, at
// most MaxConnections concurrent requests, at most RequestTimeout per
// request.
const (
	MaxDuration    = 5 * time.Minute
	MaxConnections = 256
	RequestTimeout = 10 * time.Second
)

// Proc is a server child process under test.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	URL  string // the base URL it listens on (http[s]://127.0.0.1:PORT)
}

// Start runs path with args and waits (at most a minute) for the record
// m2m serve writes when it listens ([cli.ListeningURL]) on its standard
// error, which must name a loopback address.
func Start(name, path string, args ...string) (*Proc, error) {
	return StartCmd(name, exec.Command(path, args...))
}

// StartCmd is [Start] with a command made by the caller (its environment,
// say). Its standard output is discarded.
func StartCmd(name string, cmd *exec.Cmd) (*Proc, error) {
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
		sent := false
		for sc.Scan() {
			if u, ok := cli.ListeningURL(sc.Text()); ok && !sent {
				found <- u
				sent = true
			}
		}
		if !sent {
			close(found)
		}
	}()
	select {
	case u, ok := <-found:
		if !ok {
			cmd.Wait()
			return nil, fmt.Errorf("%s exited before listening", name)
		}
		if !strings.HasPrefix(u, "http://127.0.0.1:") && !strings.HasPrefix(u, "https://127.0.0.1:") {
			cmd.Process.Kill()
			cmd.Wait()
			return nil, fmt.Errorf("%s listens on %s, not loopback", name, u)
		}
		return &Proc{Name: name, Cmd: cmd, URL: u}, nil
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("%s did not start", name)
	}
}

// Stop ends the child with SIGTERM, and SIGKILL after 15 seconds.
func (p *Proc) Stop() {
	p.Cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.Cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		p.Cmd.Process.Kill()
		<-done
	}
}

// Memory returns the resident set size of process pid and its peak
// (VmRSS, VmHWM in /proc/PID/status) in MiB; zeros when unreadable.
func Memory(pid int) (cur, peak float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
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

// Request is what a run sends, again and again.
type Request struct {
	Method string
	// URLs are the servers to send it to; with several (replicas), the
	// connections are split evenly between them.
	URLs   []string
	Header map[string]string
	Body   string
}

// Options of one measured run.
type Options struct {
	Connections      int
	Duration, Warmup time.Duration
	// PIDs are the server processes whose CPU time and memory the run
	// reads (summed CPU, largest peak).
	PIDs []int
	// Roots, for https URLs, are the only certificates trusted.
	Roots *x509.CertPool
	// NoKeepAlive opens a new connection per request.
	NoKeepAlive bool
}

// Sample is what one or more measured runs recorded.
type Sample struct {
	Lat     []time.Duration // every answered request's latency (Go driver)
	Count   int             // answered requests
	Errors  int             // failed requests and answers other than 2xx
	CPU     time.Duration   // server CPU time over the measured windows; negative when unreadable
	CPUReqs int             // requests (answered or failed) in those windows
	Elapsed time.Duration   // measured time
	// P50, P99 come from wrk, when it drove the run.
	P50, P99  time.Duration
	RSS, Peak float64
	FirstErr  error
}

// Add merges o into s.
func (s *Sample) Add(o *Sample) {
	s.Lat = append(s.Lat, o.Lat...)
	s.Count += o.Count
	s.Errors += o.Errors
	if s.CPU >= 0 && o.CPU >= 0 {
		s.CPU += o.CPU
	} else {
		s.CPU = -1
	}
	s.CPUReqs += o.CPUReqs
	s.Elapsed += o.Elapsed
	// Percentiles of wrk runs cannot be merged exactly: keep the worst.
	s.P50, s.P99 = max(s.P50, o.P50), max(s.P99, o.P99)
	s.RSS, s.Peak = max(s.RSS, o.RSS), max(s.Peak, o.Peak)
	if s.FirstErr == nil {
		s.FirstErr = o.FirstErr
	}
}

// Result is the summary of a Sample.
type Result struct {
	Requests, Errors int
	RPS              float64
	P50, P99         time.Duration
	CPUPerReq        time.Duration // negative when unknown
	RSS, Peak        float64
}

// Result summarises s.
func (s *Sample) Result() Result {
	r := Result{Requests: s.Count, Errors: s.Errors, RSS: s.RSS, Peak: s.Peak, CPUPerReq: -1, P50: s.P50, P99: s.P99}
	if s.Elapsed > 0 {
		r.RPS = float64(s.Count) / s.Elapsed.Seconds()
	}
	if len(s.Lat) > 0 {
		slices.Sort(s.Lat)
		r.P50 = s.Lat[len(s.Lat)*50/100]
		r.P99 = s.Lat[min(len(s.Lat)-1, len(s.Lat)*99/100)]
	}
	if s.CPU >= 0 && s.CPUReqs > 0 {
		r.CPUPerReq = s.CPU / time.Duration(s.CPUReqs)
	}
	return r
}

// cpuOf sums the CPU time of pids; negative when one is unreadable.
func cpuOf(pids []int) time.Duration {
	var sum time.Duration
	for _, pid := range pids {
		c, err := CPUTime(pid)
		if err != nil {
			return -1
		}
		sum += c
	}
	return sum
}

func memOf(s *Sample, pids []int) {
	for _, pid := range pids {
		cur, peak := Memory(pid)
		s.RSS, s.Peak = max(s.RSS, cur), max(s.Peak, peak)
	}
}

func checkOptions(req Request, o Options) error {
	if o.Connections < 1 || o.Connections > MaxConnections {
		return fmt.Errorf("loadgen: %d connections; want 1 to %d", o.Connections, MaxConnections)
	}
	if o.Duration <= 0 || o.Duration > MaxDuration || o.Warmup < 0 || o.Warmup > MaxDuration {
		return fmt.Errorf("loadgen: duration %v, warm-up %v; want at most %v", o.Duration, o.Warmup, MaxDuration)
	}
	if len(req.URLs) == 0 || len(req.URLs) > o.Connections {
		return fmt.Errorf("loadgen: %d URLs for %d connections", len(req.URLs), o.Connections)
	}
	for _, u := range req.URLs {
		if !strings.HasPrefix(u, "http://127.0.0.1:") && !strings.HasPrefix(u, "https://127.0.0.1:") {
			return fmt.Errorf("loadgen: %s is not on loopback", u)
		}
	}
	return nil
}

// Drive sends req from o.Connections workers, each with a keep-alive
// connection of its own, for o.Warmup (not measured) and then o.Duration,
// and reads the servers' CPU time over the measured window.
func Drive(ctx context.Context, req Request, o Options) (*Sample, error) {
	if err := checkOptions(req, o); err != nil {
		return nil, err
	}
	n := o.Connections
	tr := &http.Transport{MaxIdleConns: n, MaxIdleConnsPerHost: n, MaxConnsPerHost: n, IdleConnTimeout: time.Minute,
		DisableKeepAlives: o.NoKeepAlive, TLSHandshakeTimeout: RequestTimeout}
	if o.Roots != nil {
		// Trust the throwaway certificate only. No session cache: without
		// keep-alive every request pays a full handshake.
		tr.TLSClientConfig = &tls.Config{RootCAs: o.Roots, MinVersion: tls.VersionTLS12}
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: RequestTimeout}
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		out = &Sample{}
	)
	start := time.Now()
	measureFrom := start.Add(o.Warmup)
	end := measureFrom.Add(o.Duration)
	cpu0 := make(chan time.Duration, 1)
	timer := time.AfterFunc(o.Warmup, func() { cpu0 <- cpuOf(o.PIDs) })
	defer timer.Stop()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := req.URLs[i%len(req.URLs)]
			lat := make([]time.Duration, 0, 1<<14)
			bad := 0
			var werr error
			for ctx.Err() == nil {
				t0 := time.Now()
				if t0.After(end) {
					break
				}
				err := send(client, req, u)
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
			out.Lat = append(out.Lat, lat...)
			out.Errors += bad
			if out.FirstErr == nil {
				out.FirstErr = werr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	cpu1 := cpuOf(o.PIDs)
	if c0 := <-cpu0; cpu1 < 0 || c0 < 0 {
		out.CPU = -1
	} else {
		out.CPU = cpu1 - c0
	}
	out.Count = len(out.Lat)
	out.CPUReqs = out.Count + out.Errors
	out.Elapsed = o.Duration
	memOf(out, o.PIDs)
	return out, nil
}

func send(c *http.Client, req Request, u string) error {
	var body io.Reader
	if req.Body != "" {
		body = strings.NewReader(req.Body)
	}
	hr, err := http.NewRequest(req.Method, u, body)
	if err != nil {
		return err
	}
	for k, v := range req.Header {
		hr.Header.Set(k, v)
	}
	resp, err := c.Do(hr)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return errors.New(resp.Status)
	}
	return nil
}
