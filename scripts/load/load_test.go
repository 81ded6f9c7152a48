package main

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"
)

func TestParseShapes(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []shape
		wantErr bool
	}{
		{"one", "http", []shape{{"http", false, true}}, false},
		{"all", "http, https,https-nokeepalive,http-nokeepalive", []shape{
			{"http", false, true}, {"https", true, true}, {"https-nokeepalive", true, false}, {"http-nokeepalive", false, false}}, false},
		{"unknown", "http,h2", nil, true},
		{"bad suffix", "https-keepalive", nil, true},
		{"twice", "https,https", nil, true},
		{"empty item", "http,", nil, true},
		{"case", "HTTPS", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseShapes(tt.in)
			if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
				t.Errorf("parseShapes(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
	for _, name := range shapeNames {
		sh, err := parseShapes(name)
		if err != nil || shapeOf(sh[0].tls, sh[0].keepalive) != sh[0] {
			t.Errorf("parseShapes(%q) = %v, %v; want the shape shapeOf names", name, sh, err)
		}
	}
}

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
	if _, err := cpuTime(os.Getpid()); err != nil {
		t.Errorf("cpuTime(self) = %v", err)
	}
}

// TestMakeCert checks the throwaway certificate: key file 0600, served with
// the trivial handler's TLS settings, trusted by a client with the returned
// pool only, for 127.0.0.1.
func TestMakeCert(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool, err := makeCert(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file %s: %v, %v; want mode 0600", keyFile, fi.Mode(), err)
	}
	cfg, err := serverTLSConfig(certFile, keyFile)
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
	if _, _, _, err := makeCert(dir); err == nil {
		t.Errorf("makeCert(%s) again = nil error; want refusal to overwrite", dir)
	}
}
