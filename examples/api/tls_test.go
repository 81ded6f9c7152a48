package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testPKI is a CA and certificates it signs, made in the test.
type testPKI struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T, name string) *testPKI {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testPKI{cert: cert, key: key, pool: pool}
}

// issue returns a certificate for name signed by the CA, with its key.
func (ca *testPKI) issue(t *testing.T, name string, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestServerTLSClientCA: with -client-ca, a client may present a
// certificate; one from that CA reaches the handler (where a middleware
// checks certificate-bound tokens), none is also served, and one from
// another CA fails the handshake.
func TestServerTLSClientCA(t *testing.T) {
	dir := t.TempDir()
	serverCA, clientCA, otherCA := newTestCA(t, "server CA"), newTestCA(t, "client CA"), newTestCA(t, "other CA")
	srvCert := serverCA.issue(t, "127.0.0.1", x509.ExtKeyUsageServerAuth)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(srvCert.PrivateKey)
	writePEM(t, filepath.Join(dir, "tls.crt"), "CERTIFICATE", srvCert.Certificate[0])
	writePEM(t, filepath.Join(dir, "tls.key"), "PRIVATE KEY", keyDER)
	writePEM(t, filepath.Join(dir, "client-ca.pem"), "CERTIFICATE", clientCA.cert.Raw)

	cfg, err := serverTLS(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "client-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := len(r.TLS.PeerCertificates); n > 0 {
			fmt.Fprint(w, r.TLS.PeerCertificates[0].Subject.CommonName)
			return
		}
		fmt.Fprint(w, "no certificate")
	}))
	srv.TLS = cfg
	srv.StartTLS()
	defer srv.Close()

	get := func(certs ...tls.Certificate) (string, error) {
		tc := &tls.Config{RootCAs: serverCA.pool}
		if len(certs) > 0 {
			// Sent whatever CAs the server names, as a client that is
			// not in on it would.
			tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &certs[0], nil }
		}
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
		resp, err := c.Get(srv.URL)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), nil
	}
	if got, err := get(clientCA.issue(t, "worker", x509.ExtKeyUsageClientAuth)); err != nil || got != "worker" {
		t.Errorf("with a certificate of the client CA = %q, %v; want it seen by the handler", got, err)
	}
	if got, err := get(); err != nil || got != "no certificate" {
		t.Errorf("without a certificate = %q, %v; want served without one", got, err)
	}
	if got, err := get(otherCA.issue(t, "intruder", x509.ExtKeyUsageClientAuth)); err == nil {
		t.Errorf("with a certificate of another CA = %q; want a handshake failure", got)
	}
	if _, err := serverTLS(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "tls.key")); err == nil {
		t.Error("serverTLS(-client-ca with no certificate) = nil; want an error")
	}
}
