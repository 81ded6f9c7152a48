package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// WrkPath is the wrk binary on PATH, or "" when wrk is not installed.
func WrkPath() string {
	p, err := exec.LookPath("wrk")
	if err != nil {
		return ""
	}
	return p
}

// DriveWrk is [Drive] with wrk (at wrk, in whole seconds): one wrk per URL,
// the connections split between them, two threads each (at most one per
// connection). dir is where it writes the Lua script that sets the
// method, headers and body. Latencies are wrk's percentiles (the worst of
// the wrk processes when there are several); certificates are not checked
// (loopback only).
func DriveWrk(ctx context.Context, wrk, dir string, req Request, o Options) (*Sample, error) {
	if err := checkOptions(req, o); err != nil {
		return nil, err
	}
	if o.NoKeepAlive {
		return nil, fmt.Errorf("loadgen: wrk always keeps connections alive")
	}
	script, err := os.CreateTemp(dir, "wrk-*.lua")
	if err != nil {
		return nil, err
	}
	defer os.Remove(script.Name())
	if _, err := script.WriteString(wrkScript(req)); err != nil {
		script.Close()
		return nil, err
	}
	if err := script.Close(); err != nil {
		return nil, err
	}
	secs := func(d time.Duration) string { return strconv.Itoa(max(1, int((d+time.Second-1)/time.Second))) + "s" }
	run := func(d time.Duration) ([]*Sample, error) {
		outs := make([]*Sample, len(req.URLs))
		errs := make([]error, len(req.URLs))
		var wg sync.WaitGroup
		for i, u := range req.URLs {
			conns := o.Connections / len(req.URLs)
			if i < o.Connections%len(req.URLs) {
				conns++
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				args := []string{"-t", strconv.Itoa(min(2, conns)), "-c", strconv.Itoa(conns), "-d", secs(d),
					"--timeout", secs(RequestTimeout), "--latency", "-s", script.Name(), u}
				var stdout, stderr bytes.Buffer
				cmd := exec.CommandContext(ctx, wrk, args...)
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				if err := cmd.Run(); err != nil {
					errs[i] = fmt.Errorf("wrk %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
					return
				}
				outs[i], errs[i] = ParseWrk(stdout.String())
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return nil, err
			}
		}
		return outs, nil
	}
	if o.Warmup > 0 {
		if _, err := run(o.Warmup); err != nil {
			return nil, err
		}
	}
	cpu0 := cpuOf(o.PIDs)
	outs, err := run(o.Duration)
	if err != nil {
		return nil, err
	}
	cpu1 := cpuOf(o.PIDs)
	s := &Sample{}
	for _, o := range outs {
		s.Add(o)
	}
	s.Elapsed = max(time.Second, (o.Duration+time.Second-1)/time.Second*time.Second)
	if cpu0 < 0 || cpu1 < 0 {
		s.CPU = -1
	} else {
		s.CPU = cpu1 - cpu0
	}
	s.CPUReqs = s.Count
	memOf(s, o.PIDs)
	return s, nil
}

// wrkScript is the Lua script that makes wrk send req.
func wrkScript(req Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "wrk.method = %s\n", luaString(req.Method))
	if req.Body != "" {
		fmt.Fprintf(&b, "wrk.body = %s\n", luaString(req.Body))
	}
	for k, v := range req.Header {
		fmt.Fprintf(&b, "wrk.headers[%s] = %s\n", luaString(k), luaString(v))
	}
	return b.String()
}

// luaString quotes s as a Lua string literal (decimal escapes for
// anything but printable ASCII, quotes and backslashes).
func luaString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			fmt.Fprintf(&b, "\\%03d", c)
			continue
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}

// ParseWrk reads the output of wrk --latency: the requests, the
// Non-2xx/3xx and socket errors, and the 50 % and 99 % latencies.
func ParseWrk(out string) (*Sample, error) {
	s := &Sample{}
	var haveCount, have50, have99 bool
	non2xx := 0
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[1] == "requests" && f[2] == "in":
			n, err := strconv.Atoi(f[0])
			if err != nil {
				return nil, fmt.Errorf("loadgen: wrk: bad request count in %q", line)
			}
			s.Count, haveCount = n, true
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			d, err := parseWrkDuration(f[1])
			if err != nil {
				return nil, err
			}
			if f[0] == "50%" {
				s.P50, have50 = d, true
			} else {
				s.P99, have99 = d, true
			}
		case strings.HasPrefix(strings.TrimSpace(line), "Non-2xx or 3xx responses:"):
			n, err := strconv.Atoi(f[len(f)-1])
			if err != nil {
				return nil, fmt.Errorf("loadgen: wrk: bad count in %q", line)
			}
			non2xx = n
		case strings.HasPrefix(strings.TrimSpace(line), "Socket errors:"):
			// Socket errors: connect 0, read 0, write 0, timeout 0
			for i := 2; i+1 < len(f); i += 2 {
				n, err := strconv.Atoi(strings.TrimSuffix(f[i+1], ","))
				if err != nil {
					return nil, fmt.Errorf("loadgen: wrk: bad count in %q", line)
				}
				s.Errors += n
			}
		}
	}
	if !haveCount || !have50 || !have99 {
		return nil, fmt.Errorf("loadgen: wrk output without request count or latency distribution: %q", out)
	}
	// wrk counts the non-2xx answers among the requests; socket errors
	// are not requests.
	s.Count = max(0, s.Count-non2xx)
	s.Errors += non2xx
	return s, nil
}

// parseWrkDuration reads wrk's latency figures: 635.00us, 1.20ms, 2.00s,
// 1.00m.
func parseWrkDuration(v string) (time.Duration, error) {
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}} {
		if num, ok := strings.CutSuffix(v, u.suffix); ok {
			f, err := strconv.ParseFloat(num, 64)
			if err != nil || f < 0 {
				break
			}
			return time.Duration(f * float64(u.unit)), nil
		}
	}
	return 0, fmt.Errorf("loadgen: wrk: bad duration %q", v)
}
