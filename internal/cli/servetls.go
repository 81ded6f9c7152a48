package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/m2mkit/m2m/internal/tlsreload"
)

// newCertReloader loads the TLS pair of m2m serve and returns the reloader
// that serves it: its Run follows the files, its Reload (on SIGHUP) loads
// them at once, and a refused pair keeps the previous one in service.
func newCertReloader(certFile, keyFile string, logger *slog.Logger) (*tlsreload.Reloader, error) {
	return tlsreload.New(tlsreload.Options{CertFile: certFile, KeyFile: keyFile, Logger: logger})
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

// clientCAs holds the CA certificates of --client-ca, which issue the
// certificates of tls_client_auth clients. The token endpoint reads the
// pool at every request, so a file reloaded (on SIGHUP, or when Run sees
// it change) applies to the next request; a file that cannot be used is
// refused and logged, and the previous pool stays in service. It is safe
// for concurrent use.
type clientCAs struct {
	file   string
	log    *slog.Logger
	pool   atomic.Pointer[x509.CertPool]
	mu     sync.Mutex // serializes loads; guards digest
	digest [sha256.Size]byte
}

// newClientCAs loads file: PEM CERTIFICATE blocks, at least one, nothing
// else.
func newClientCAs(file string, logger *slog.Logger) (*clientCAs, error) {
	c := &clientCAs{file: file, log: logger}
	if _, err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

// Pool returns the CAs in service.
func (c *clientCAs) Pool() *x509.CertPool { return c.pool.Load() }

// load reads the file and puts its CAs in service when it changed.
func (c *clientCAs) load() (changed bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, err := readCAFile(c.file)
	if err != nil {
		return false, err
	}
	sum := sha256.Sum256(b)
	if c.pool.Load() != nil && sum == c.digest {
		return false, nil
	}
	pool := x509.NewCertPool()
	n := 0
	rest := b
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return false, fmt.Errorf("%s: a %q PEM block; want CERTIFICATE blocks only", c.file, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return false, fmt.Errorf("%s: certificate %d: %w", c.file, n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 || len(bytes.TrimSpace(rest)) > 0 {
		return false, fmt.Errorf("%s: want PEM CERTIFICATE blocks and nothing else", c.file)
	}
	c.pool.Store(pool)
	c.digest = sum
	c.log.Info("m2m: client CA certificates loaded", "client_ca", c.file, "certificates", n)
	return true, nil
}

// Reload loads the file now; a refusal is logged and returned.
func (c *clientCAs) Reload() error {
	_, err := c.load()
	if err != nil {
		c.log.Error("m2m: client CA file refused; still using the previous CAs", "client_ca", c.file, "error", err.Error())
	}
	return err
}

// Run looks at the file every tlsreload.DefaultInterval until ctx is
// done, and loads it when it changed.
func (c *clientCAs) Run(ctx context.Context) {
	t := time.NewTicker(tlsreload.DefaultInterval)
	defer t.Stop()
	var last string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := c.load(); err != nil {
				if err.Error() != last {
					c.log.Error("m2m: client CA file refused; still using the previous CAs", "client_ca", c.file, "error", err.Error())
				}
				last = err.Error()
			} else {
				last = ""
			}
		}
	}
}

// readCAFile reads a regular file of at most tlsreload.MaxFileSize bytes.
func readCAFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, tlsreload.MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > tlsreload.MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, tlsreload.MaxFileSize)
	}
	return b, nil
}
