package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeTestCert writes a self-signed certificate for 127.0.0.1 with the
// given serial number to dir/tls.crt and its key to dir/tls.key (0600),
// replacing them as a certificate manager does, and returns the
// certificate.
func writeTestCert(t *testing.T, dir string, serial int64) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "m2m test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"tls.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"tls.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	} {
		tmp := filepath.Join(dir, name+".tmp")
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestServeTLS runs m2m serve with a certificate made here: HTTPS works,
// TLS 1.1 is refused, the issuer is https, and after the files are
// replaced and SIGHUP arrives new connections get the new certificate
// while an established keep-alive connection goes on working with the old.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	cert1 := writeTestCert(t, dir, 1)
	pool := x509.NewCertPool()
	pool.AddCert(cert1)
	p := startServe(t, nil, "--data", filepath.Join(dir, "data"), "--addr", "127.0.0.1:0",
		"--tls-cert", filepath.Join(dir, "tls.crt"), "--tls-key", filepath.Join(dir, "tls.key"))
	if !strings.HasPrefix(p.url, "https://") {
		t.Fatalf("listening on %s; want https://", p.url)
	}
	addr := strings.TrimPrefix(p.url, "https://")

	// get makes a request with tr and returns the serial of the
	// certificate the connection was made with and whether the
	// connection was reused.
	get := func(tr *http.Transport, path string) (serial int64, reused bool, body []byte) {
		t.Helper()
		req, err := http.NewRequest("GET", p.url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
		}))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, err = io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d; want 200", path, resp.StatusCode)
		}
		return resp.TLS.PeerCertificates[0].SerialNumber.Int64(), reused, body
	}
	newTransport := func() *http.Transport {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
		t.Cleanup(tr.CloseIdleConnections)
		return tr
	}

	old := newTransport()
	serial, _, body := get(old, "/.well-known/oauth-authorization-server")
	if serial != 1 {
		t.Errorf("first certificate serial = %d; want 1", serial)
	}
	var meta struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal(body, &meta); err != nil || meta.Issuer != p.url {
		t.Errorf("issuer = %q (%v); want %q", meta.Issuer, err, p.url)
	}

	t.Run("TLS 1.1 refused", func(t *testing.T) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
		if err == nil {
			conn.Close()
			t.Fatal("TLS 1.1 handshake succeeded; want it refused")
		}
	})
	t.Run("TLS 1.2 accepted", func(t *testing.T) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS12})
		if err != nil {
			t.Fatalf("TLS 1.2 handshake: %v", err)
		}
		conn.Close()
	})

	t.Run("SIGHUP reloads", func(t *testing.T) {
		cert2 := writeTestCert(t, dir, 2)
		pool.AddCert(cert2)
		// The second send returns once serve has handled the first.
		p.signal(syscall.SIGHUP)
		p.signal(syscall.SIGHUP)
		if serial, _, _ := get(newTransport(), "/healthz"); serial != 2 {
			t.Errorf("after SIGHUP a new connection got certificate %d; want 2", serial)
		}
		serial, reused, _ := get(old, "/healthz")
		if !reused || serial != 1 {
			t.Errorf("the keep-alive connection: reused %v, certificate %d; want reused, certificate 1", reused, serial)
		}
	})

	t.Run("refused pair keeps the previous one", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(dir, "tls.key"), []byte("-----BEGIN PRIVATE KEY-----\ntruncated"), 0o600); err != nil {
			t.Fatal(err)
		}
		p.signal(syscall.SIGHUP)
		p.signal(syscall.SIGHUP)
		if serial, _, _ := get(newTransport(), "/healthz"); serial != 2 {
			t.Errorf("after a broken key file a new connection got certificate %d; want 2", serial)
		}
	})

	if code := p.stop(); code != 0 {
		t.Errorf("exit code = %d; want 0\nstderr:\n%s", code, p.stderr)
	}
}
