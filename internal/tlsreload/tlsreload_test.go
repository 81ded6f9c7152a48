package tlsreload

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// pair is a self-signed certificate for 127.0.0.1 and its key, in PEM.
type pair struct {
	name    string
	certPEM []byte
	keyPEM  []byte
	cert    *x509.Certificate
}

// newPair makes a certificate named cn, valid from now-1h to notAfter.
func newPair(t testing.TB, cn string, now, notAfter time.Time) pair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pair{
		name:    cn,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		cert:    cert,
	}
}

// files is a certificate and key file in a temporary directory.
type files struct {
	cert, key string
}

func newFiles(t testing.TB) files {
	dir := t.TempDir()
	return files{cert: filepath.Join(dir, "tls.crt"), key: filepath.Join(dir, "tls.key")}
}

// write replaces both files the way an operator or certbot does: in
// place (not atomically), key mode 0600.
func (f files) write(t testing.TB, p pair) {
	t.Helper()
	writeFile(t, f.cert, p.certPEM, 0o644)
	writeFile(t, f.key, p.keyPEM, 0o600)
}

func writeFile(t testing.TB, path string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// logBuffer is a concurrency-safe log destination.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, nil))
}

// served returns the common name of the certificate r serves.
func served(t testing.TB, r *Reloader) string {
	t.Helper()
	c, err := r.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatalf("GetCertificate() error = %v", err)
	}
	return c.Leaf.Subject.CommonName
}

// checkNoKey fails when log output quotes any line of a key.
func checkNoKey(t testing.TB, log string, keys ...[]byte) {
	t.Helper()
	for _, k := range keys {
		for _, line := range strings.Split(string(k), "\n") {
			if len(line) > 16 && !strings.HasPrefix(line, "-----") && strings.Contains(log, line) {
				t.Fatalf("log quotes the private key:\n%s", log)
			}
		}
	}
}

func TestNew(t *testing.T) {
	now := time.Now()
	good := newPair(t, "good", now, now.Add(time.Hour))
	other := newPair(t, "other", now, now.Add(time.Hour))
	expired := newPair(t, "expired", now.Add(-3*time.Hour), now.Add(-time.Minute))
	big := append(bytes.Repeat([]byte("#"), MaxFileSize), good.certPEM...)

	tests := []struct {
		name    string
		setup   func(t *testing.T, f files)
		opts    func(o *Options)
		wantErr string // "" means success
	}{
		{name: "good", setup: func(t *testing.T, f files) { f.write(t, good) }},
		{name: "good with a chain", setup: func(t *testing.T, f files) {
			f.write(t, good)
			writeFile(t, f.cert, append(append(bytes.Clone(good.certPEM), other.certPEM...), "\n\n"...), 0o644)
		}},
		{name: "no files", opts: func(o *Options) { o.CertFile, o.KeyFile = "", "" }, wantErr: "no certificate file"},
		{name: "negative interval", setup: func(t *testing.T, f files) { f.write(t, good) },
			opts: func(o *Options) { o.Interval = -time.Second }, wantErr: "negative interval"},
		{name: "missing cert", setup: func(t *testing.T, f files) { writeFile(t, f.key, good.keyPEM, 0o600) },
			wantErr: "no such file"},
		{name: "missing key", setup: func(t *testing.T, f files) { writeFile(t, f.cert, good.certPEM, 0o644) },
			wantErr: "no such file"},
		{name: "key readable by others", setup: func(t *testing.T, f files) {
			f.write(t, good)
			writeFile(t, f.key, good.keyPEM, 0o644)
		}, wantErr: "run: chmod 600"},
		{name: "cert too big", setup: func(t *testing.T, f files) {
			f.write(t, good)
			writeFile(t, f.cert, big, 0o644)
		}, wantErr: "want at most 1048576"},
		{name: "key too big", setup: func(t *testing.T, f files) {
			f.write(t, good)
			writeFile(t, f.key, append(bytes.Repeat([]byte("#"), MaxFileSize), good.keyPEM...), 0o600)
		}, wantErr: "want at most 1048576"},
		{name: "key is a directory", setup: func(t *testing.T, f files) {
			writeFile(t, f.cert, good.certPEM, 0o644)
			if err := os.Mkdir(f.key, 0o700); err != nil {
				t.Fatal(err)
			}
		}, wantErr: "not a regular file"},
		{name: "half-written cert", setup: func(t *testing.T, f files) {
			f.write(t, good)
			writeFile(t, f.cert, good.certPEM[:len(good.certPEM)/2], 0o644)
		}, wantErr: "failed to find any PEM data in certificate input"},
		{name: "empty key", setup: func(t *testing.T, f files) {
			f.write(t, good)
			writeFile(t, f.key, nil, 0o600)
		}, wantErr: "failed to find any PEM data in key input"},
		{name: "key of another certificate", setup: func(t *testing.T, f files) {
			f.write(t, good)
			writeFile(t, f.key, other.keyPEM, 0o600)
		}, wantErr: "private key does not match public key"},
		{name: "expired", setup: func(t *testing.T, f files) { f.write(t, expired) }, wantErr: "certificate expired at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if runtime.GOOS == "windows" && strings.Contains(tt.name, "readable") {
				t.Skip("file modes are not checked on Windows")
			}
			f := newFiles(t)
			if tt.setup != nil {
				tt.setup(t, f)
			}
			var log logBuffer
			opts := Options{CertFile: f.cert, KeyFile: f.key, Logger: log.logger()}
			if tt.opts != nil {
				tt.opts(&opts)
			}
			r, err := New(opts)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New() error = %v; want nil", err)
				}
				if got := served(t, r); got != "good" {
					t.Errorf("served certificate %q; want %q", got, "good")
				}
				if !strings.Contains(log.String(), "certificate loaded") {
					t.Errorf("log = %q; want a certificate loaded record", log.String())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New() error = %v; want it to contain %q", err, tt.wantErr)
			}
			checkNoKey(t, err.Error(), good.keyPEM, other.keyPEM)
		})
	}
}

// TestKeyMode checks PostgreSQL's rule for the key file: 0600 or less,
// or 0640 or less when root owns it.
func TestKeyMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes are not checked on Windows")
	}
	now := time.Now()
	p := newPair(t, "p", now, now.Add(time.Hour))
	root := os.Geteuid() == 0
	tests := []struct {
		mode     os.FileMode
		rootOwns bool // else a non-root user owns the file
		ok       bool
	}{
		{0o600, false, true},
		{0o400, false, true},
		{0o640, false, false},
		{0o604, false, false},
		{0o600, true, true},
		{0o640, true, true},
		{0o440, true, true},
		{0o660, true, false},
		{0o644, true, false},
		{0o641, true, false},
	}
	for _, tt := range tests {
		owner := "non-root"
		if tt.rootOwns {
			owner = "root"
		}
		t.Run(fmt.Sprintf("%04o owned by %s", tt.mode, owner), func(t *testing.T) {
			if tt.rootOwns && !root {
				t.Skip("only root can make a file root owns")
			}
			f := newFiles(t)
			f.write(t, p)
			writeFile(t, f.key, p.keyPEM, tt.mode)
			if root && !tt.rootOwns {
				if err := os.Chown(f.key, 65534, 65534); err != nil {
					t.Fatal(err)
				}
			}
			_, err := New(Options{CertFile: f.cert, KeyFile: f.key})
			if tt.ok && err != nil {
				t.Errorf("New() with key mode %04o owned by %s: %v; want it accepted", tt.mode, owner, err)
			}
			if !tt.ok && (err == nil || !strings.Contains(err.Error(), "run: chmod 600 "+f.key)) {
				t.Errorf("New() with key mode %04o owned by %s: %v; want a refusal with the chmod fix", tt.mode, owner, err)
			}
		})
	}
}

// TestReloadKeepsServing breaks the files in every way an operator or a
// renewal job can, and checks that Reload refuses them, logs why without
// the key, and keeps serving the previous pair; then that a good pair is
// taken.
func TestReloadKeepsServing(t *testing.T) {
	now := time.Now()
	first := newPair(t, "first", now, now.Add(time.Hour))
	second := newPair(t, "second", now, now.Add(time.Hour))
	expired := newPair(t, "expired", now.Add(-3*time.Hour), now.Add(-time.Minute))

	tests := []struct {
		name    string
		breakIt func(t *testing.T, f files)
		wantErr string
	}{
		{"half-written certificate", func(t *testing.T, f files) {
			writeFile(t, f.cert, second.certPEM[:len(second.certPEM)-40], 0o644)
		}, "failed to find any PEM data in certificate input"},
		{"chain cut in its second certificate", func(t *testing.T, f files) {
			chain := append(bytes.Clone(second.certPEM), first.certPEM[:len(first.certPEM)/2]...)
			writeFile(t, f.cert, chain, 0o644)
			writeFile(t, f.key, second.keyPEM, 0o600)
		}, "data after the last complete PEM block"},
		{"new certificate, old key", func(t *testing.T, f files) {
			writeFile(t, f.cert, second.certPEM, 0o644)
		}, "private key does not match public key"},
		{"half-written key", func(t *testing.T, f files) {
			writeFile(t, f.cert, second.certPEM, 0o644)
			writeFile(t, f.key, second.keyPEM[:len(second.keyPEM)/2], 0o600)
		}, "failed to find any PEM data in key input"},
		{"key made readable by others", func(t *testing.T, f files) {
			if runtime.GOOS == "windows" {
				t.Skip("file modes are not checked on Windows")
			}
			writeFile(t, f.key, first.keyPEM, 0o604)
		}, "run: chmod 600"},
		{"key removed", func(t *testing.T, f files) {
			if err := os.Remove(f.key); err != nil {
				t.Fatal(err)
			}
		}, "no such file"},
		{"expired certificate", func(t *testing.T, f files) { f.write(t, expired) }, "certificate expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFiles(t)
			f.write(t, first)
			var log logBuffer
			r, err := New(Options{CertFile: f.cert, KeyFile: f.key, Logger: log.logger()})
			if err != nil {
				t.Fatal(err)
			}
			tt.breakIt(t, f)
			err = r.Reload()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Reload() error = %v; want it to contain %q", err, tt.wantErr)
			}
			if got := served(t, r); got != "first" {
				t.Errorf("after a refused reload, served %q; want %q", got, "first")
			}
			if !strings.Contains(log.String(), "still serving the previous certificate") {
				t.Errorf("log = %q; want the refusal", log.String())
			}
			checkNoKey(t, log.String(), first.keyPEM, second.keyPEM, expired.keyPEM)

			f.write(t, second)
			if err := r.Reload(); err != nil {
				t.Fatalf("Reload() of a good pair error = %v", err)
			}
			if got := served(t, r); got != "second" {
				t.Errorf("after reload, served %q; want %q", got, "second")
			}
			checkNoKey(t, log.String(), first.keyPEM, second.keyPEM, expired.keyPEM)
		})
	}
}

// TestRunFollowsChanges checks, on synctest's clock, that a change is
// served within one interval, a half-written pair is refused and logged
// once however many times it is looked at, and the completed pair is
// served at the next look.
func TestRunFollowsChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		first := newPair(t, "first", now, now.Add(24*time.Hour))
		second := newPair(t, "second", now, now.Add(24*time.Hour))
		third := newPair(t, "third", now, now.Add(24*time.Hour))
		f := newFiles(t)
		f.write(t, first)
		var log logBuffer
		r, err := New(Options{CertFile: f.cert, KeyFile: f.key, Logger: log.logger()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			r.Run(ctx)
			close(done)
		}()

		// A change is served at the next look, within DefaultInterval.
		f.write(t, second)
		time.Sleep(DefaultInterval - time.Millisecond)
		synctest.Wait()
		if got := served(t, r); got != "first" {
			t.Fatalf("before the first look, served %q; want %q", got, "first")
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if got := served(t, r); got != "second" {
			t.Fatalf("one interval after a change, served %q; want %q", got, "second")
		}

		// The renewal job has written the certificate, not yet the key:
		// refused, logged once over five looks.
		writeFile(t, f.cert, third.certPEM, 0o644)
		time.Sleep(5 * DefaultInterval)
		synctest.Wait()
		if got := served(t, r); got != "second" {
			t.Fatalf("with a mismatched pair, served %q; want %q", got, "second")
		}
		if n := strings.Count(log.String(), "certificate files refused"); n != 1 {
			t.Errorf("a pair refused over 5 looks was logged %d times; want 1\n%s", n, log.String())
		}

		// The key is written: served at the next look.
		writeFile(t, f.key, third.keyPEM, 0o600)
		time.Sleep(DefaultInterval)
		synctest.Wait()
		if got := served(t, r); got != "third" {
			t.Fatalf("after the key was written, served %q; want %q", got, "third")
		}

		// Rewriting the same content (touch, cp -p) loads nothing.
		loads := strings.Count(log.String(), "certificate loaded")
		f.write(t, third)
		time.Sleep(3 * DefaultInterval)
		synctest.Wait()
		if got := strings.Count(log.String(), "certificate loaded"); got != loads {
			t.Errorf("unchanged content was loaded again: %d loads; want %d", got, loads)
		}
		checkNoKey(t, log.String(), first.keyPEM, second.keyPEM, third.keyPEM)

		cancel()
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("Run did not return after its context was canceled")
		}
	})
}

// TestRunInterval checks that Options.Interval sets how often Run looks.
func TestRunInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		first := newPair(t, "first", now, now.Add(time.Hour))
		second := newPair(t, "second", now, now.Add(time.Hour))
		f := newFiles(t)
		f.write(t, first)
		r, err := New(Options{CertFile: f.cert, KeyFile: f.key, Interval: 7 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		go r.Run(t.Context())
		f.write(t, second)
		time.Sleep(6 * time.Second)
		synctest.Wait()
		if got := served(t, r); got != "first" {
			t.Fatalf("before the interval, served %q; want %q", got, "first")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := served(t, r); got != "second" {
			t.Fatalf("after the interval, served %q; want %q", got, "second")
		}
	})
}

// TestExpiryUsesNow checks that the expiry check reads Options.Now.
func TestExpiryUsesNow(t *testing.T) {
	now := time.Now()
	p := newPair(t, "p", now, now.Add(time.Hour))
	f := newFiles(t)
	f.write(t, p)
	later := func() time.Time { return now.Add(2 * time.Hour) }
	if _, err := New(Options{CertFile: f.cert, KeyFile: f.key, Now: later}); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("New() with a clock past NotAfter: error = %v; want certificate expired", err)
	}
}

// TestLiveReload serves HTTPS with Config, reloads while a client holds a
// keep-alive connection, and checks that a new connection sees the new
// certificate while the old connection keeps working with the old one.
func TestLiveReload(t *testing.T) {
	now := time.Now()
	first := newPair(t, "first", now, now.Add(time.Hour))
	second := newPair(t, "second", now, now.Add(time.Hour))
	f := newFiles(t)
	f.write(t, first)
	r, err := New(Options{CertFile: f.cert, KeyFile: f.key})
	if err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		TLSConfig:         Config(r),
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "ok")
		}),
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	url := "https://" + ln.Addr().String() + "/"

	roots := x509.NewCertPool()
	roots.AddCert(first.cert)
	roots.AddCert(second.cert)
	newClient := func() *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	}
	// get returns the server certificate's name and whether the request
	// reused a connection.
	get := func(c *http.Client) (name string, reused bool) {
		t.Helper()
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), "GET", url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		if b, _ := io.ReadAll(resp.Body); string(b) != "ok" {
			t.Fatalf("GET %s = %q; want ok", url, b)
		}
		return resp.TLS.PeerCertificates[0].Subject.CommonName, reused
	}

	old := newClient()
	if name, _ := get(old); name != "first" {
		t.Fatalf("before reload, certificate %q; want first", name)
	}
	f.write(t, second)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if name, reused := get(newClient()); name != "second" || reused {
		t.Errorf("new connection after reload: certificate %q, reused %v; want second, false", name, reused)
	}
	if name, reused := get(old); name != "first" || !reused {
		t.Errorf("old connection after reload: certificate %q, reused %v; want first, true", name, reused)
	}

	// A raw tls.Dial sees the new certificate too.
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got := conn.ConnectionState().PeerCertificates[0].Subject.CommonName; got != "second" {
		t.Errorf("tls.Dial after reload: certificate %q; want second", got)
	}
}

// TestConfigRefusesOldTLS checks that Config refuses TLS 1.0 and 1.1.
func TestConfigRefusesOldTLS(t *testing.T) {
	now := time.Now()
	p := newPair(t, "p", now, now.Add(time.Hour))
	f := newFiles(t)
	f.write(t, p)
	r, err := New(Options{CertFile: f.cert, KeyFile: f.key})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config(r)
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("Config().MinVersion = %x; want TLS 1.2", cfg.MinVersion)
	}
	roots := x509.NewCertPool()
	roots.AddCert(p.cert)
	for _, v := range []struct {
		name   string
		max    uint16
		wantOK bool
	}{
		{"TLS 1.0", tls.VersionTLS10, false},
		{"TLS 1.1", tls.VersionTLS11, false},
		{"TLS 1.2", tls.VersionTLS12, true},
		{"TLS 1.3", tls.VersionTLS13, true},
	} {
		t.Run(v.name, func(t *testing.T) {
			c, s := net.Pipe()
			defer c.Close()
			defer s.Close()
			srv := tls.Server(s, cfg)
			go srv.Handshake()
			cli := tls.Client(c, &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS10, MaxVersion: v.max})
			err := cli.Handshake()
			if (err == nil) != v.wantOK {
				t.Errorf("handshake with a %s client: error = %v; want ok = %v", v.name, err, v.wantOK)
			}
		})
	}
}
