package loadgen

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// Fields 14 and 15 (utime, stime) are 7 and 5 ticks.
	const rest = " S 1 2 3 4 5 6 7 8 9 10 7 5 0 0 20 0 4 0 100 200 300"
	tests := []struct {
		name    string
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"plain", "42 (load)" + rest, 120 * time.Millisecond, false},
		{"spaces and parens in name", "42 (a) b ) (c)" + rest, 120 * time.Millisecond, false},
		{"no name", "42 load" + rest, 0, true},
		{"short", "42 (load) S 1 2 3", 0, true},
		{"not a number", "42 (load) S 1 2 3 4 5 6 7 8 9 10 x 5 0", 0, true},
		{"negative", "42 (load) S 1 2 3 4 5 6 7 8 9 10 -7 5 0", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseStat(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestCPUTimeSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc: not Linux")
	}
	if _, err := CPUTime(os.Getpid()); err != nil {
		t.Errorf("CPUTime(self) = %v", err)
	}
}

// TestMakeCert checks the throwaway certificate: key file 0600, served with
// the trivial handler's TLS settings, trusted by a client with the returned
// pool only, for 127.0.0.1.
func TestMakeCert(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool, err := MakeCert(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file %s: %v, %v; want mode 0600", keyFile, fi.Mode(), err)
	}
	cfg, err := ServerTLSConfig(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.TLS = cfg
	srv.StartTLS()
	defer srv.Close()

	for _, tt := range []struct {
		name string
		cfg  *tls.Config
		ok   bool
	}{
		{"trusted pool", &tls.Config{RootCAs: pool}, true},
		{"system roots", &tls.Config{}, false},
		{"TLS 1.1", &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &http.Client{Transport: &http.Transport{TLSClientConfig: tt.cfg}, Timeout: 10 * time.Second}
			resp, err := c.Get(srv.URL) // https://127.0.0.1:PORT
			if err == nil {
				resp.Body.Close()
			}
			if (err == nil) != tt.ok {
				t.Errorf("GET %s with %s: %v; want success %v", srv.URL, tt.name, err, tt.ok)
			}
		})
	}
	// A second call in the same directory refuses to overwrite.
	if _, _, _, err := MakeCert(dir); err == nil {
		t.Errorf("MakeCert(%s) again = nil error; want refusal to overwrite", dir)
	}
}

func TestParseWrk(t *testing.T) {
	const out = `Running 2s test @ http://127.0.0.1:39121/oauth/token
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.01ms    3.50ms  49.83ms   93.12%
    Req/Sec     8.45k     1.02k    9.90k    70.00%
  Latency Distribution
     50%  592.00us
     75%    1.20ms
     90%    4.51ms
     99%   49.83ms
  33616 requests in 2.00s, 20.39MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 16
Requests/sec:  16808.00
Transfer/sec:     10.19MB
`
	s, err := ParseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	if s.Count != 33600 || s.Errors != 19 || s.P50 != 592*time.Microsecond || s.P99 != 49830*time.Microsecond {
		t.Errorf("ParseWrk = count %d errors %d p50 %v p99 %v; want 33600 19 592µs 49.83ms", s.Count, s.Errors, s.P50, s.P99)
	}
	if _, err := ParseWrk("unable to connect to 127.0.0.1:1 Connection refused\n"); err == nil {
		t.Error("ParseWrk(connection refused) = nil error")
	}
}

func TestLuaString(t *testing.T) {
	for in, want := range map[string]string{
		`a=b&c=d%2F`:  `"a=b&c=d%2F"`,
		`say "hi"\n`:  `"say \034hi\034\092n"`,
		"tab\there\n": `"tab\009here\010"`,
	} {
		if got := luaString(in); got != want {
			t.Errorf("luaString(%q) = %s; want %s", in, got, want)
		}
	}
}
