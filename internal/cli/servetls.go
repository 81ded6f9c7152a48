package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// certInterval is how often serve looks at the certificate files for a
// change: a renewed certificate is served within two intervals.
const certInterval = 2 * time.Second

// certReloader serves the TLS certificate of m2m serve and follows its
// files: Reload loads them at once (on SIGHUP), Run looks for changes until
// its context is done.
type certReloader interface {
	GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error)
	Reload() error
	Run(ctx context.Context)
}

// newCertReloader loads the pair and returns its reloader.
func newCertReloader(certFile, keyFile string, logger *slog.Logger) (certReloader, error) {
	r := &fileCert{certFile: certFile, keyFile: keyFile, log: logger}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// serverTLSConfig is the TLS configuration of m2m serve: TLS 1.2 and
// later with Go's default cipher suites and key exchanges (they follow
// each Go release), the certificate from r.
func serverTLSConfig(r certReloader) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
}

// fileCert is a certReloader over two PEM files. New handshakes get the
// pair loaded last; established connections keep theirs.
type fileCert struct {
	certFile, keyFile string
	log               *slog.Logger

	mu       sync.Mutex // serializes loads
	certPEM  []byte
	keyPEM   []byte
	cur      atomic.Pointer[tls.Certificate]
	lastFail string
}

func (r *fileCert) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cur.Load(), nil
}

// Reload loads the files now; on error the previous pair stays.
func (r *fileCert) Reload() error { return r.load(true) }

// Run loads the files when their content changed, every certInterval.
func (r *fileCert) Run(ctx context.Context) {
	t := time.NewTicker(certInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = r.load(false)
		}
	}
}

func (r *fileCert) load(explicit bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	certPEM, err := readCertFile(r.certFile, false)
	if err == nil {
		var keyPEM []byte
		keyPEM, err = readCertFile(r.keyFile, true)
		if err == nil {
			if r.cur.Load() != nil && bytes.Equal(certPEM, r.certPEM) && bytes.Equal(keyPEM, r.keyPEM) {
				return nil
			}
			var pair tls.Certificate
			pair, err = tls.X509KeyPair(certPEM, keyPEM)
			if err == nil {
				r.cur.Store(&pair)
				r.certPEM, r.keyPEM, r.lastFail = certPEM, keyPEM, ""
				r.log.Info("m2m: TLS certificate loaded", "cert_file", r.certFile, "subject", pair.Leaf.Subject.String(), "not_after", pair.Leaf.NotAfter)
				return nil
			}
			err = fmt.Errorf("TLS key pair %s, %s: %w", r.certFile, r.keyFile, err)
		}
	}
	if explicit || err.Error() != r.lastFail {
		r.lastFail = err.Error()
		if r.cur.Load() != nil {
			r.log.Error("m2m: TLS certificate refused; the previous one stays in service", "error", err.Error())
		}
	}
	return err
}

// maxCertFileSize bounds a certificate file (a chain is a few KiB).
const maxCertFileSize = 1 << 20

// readCertFile reads a PEM file. A private key file is read as a secret
// file ([readSecretFile]: at most [MaxSecretBytes], not accessible by
// group or others); a certificate file may hold up to maxCertFileSize.
func readCertFile(path string, private bool) ([]byte, error) {
	if private {
		return readSecretFile(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCertFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxCertFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxCertFileSize)
	}
	return b, nil
}

// isLoopback reports whether the listen address addr (HOST:PORT) only
// accepts connections from this machine: localhost or a loopback IP. An
// empty host listens on every interface.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
