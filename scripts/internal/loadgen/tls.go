// Package loadgen is the loopback load generator shared by scripts/load and
// scripts/bench: child server processes, the trivial handler, a keep-alive
// HTTP driver (or wrk when installed), latency percentiles, and the
// server's CPU time and peak RSS read from /proc.
package loadgen

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// MakeCert writes a throwaway self-signed ECDSA P-256 certificate for
// 127.0.0.1, valid for a day, to dir (cert.pem, and key.pem with mode
// 0600) and returns the two paths and the pool a client trusts it with:
// that certificate only.
func MakeCert(dir string) (certFile, keyFile string, pool *x509.CertPool, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return "", "", nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "m2m load test (throwaway)"},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return "", "", nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", nil, err
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := writeNew(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", nil, err
	}
	if err := writeNew(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return "", "", nil, err
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool, nil
}

// writeNew creates path with mode perm (failing if it exists, so the mode
// is the one asked for) and writes b.
func writeNew(path string, b []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	return errors.Join(werr, f.Close())
}

// ServerTLSConfig is the trivial handler's TLS configuration: the same as
// m2m serve's (TLS 1.2 and later, Go's default cipher suites and curves),
// with the same certificate.
func ServerTLSConfig(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}

// ProbeTLS makes one connection to the https:// URL u with the client
// settings of the measurements and says what it negotiated.
func ProbeTLS(u string, roots *x509.CertPool) (string, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second},
		Config: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}
	c, err := d.Dial("tcp", pu.Host)
	if err != nil {
		return "", fmt.Errorf("TLS probe of %s: %w", pu.Host, err)
	}
	defer c.Close()
	st := c.(*tls.Conn).ConnectionState()
	return fmt.Sprintf("%s, %s, %s, ECDSA P-256 certificate", tls.VersionName(st.Version), st.CurveID, tls.CipherSuiteName(st.CipherSuite)), nil
}
