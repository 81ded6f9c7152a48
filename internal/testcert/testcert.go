// Package testcert makes X.509 certificates for tests of mutual TLS: a
// CA, client and server certificates it issues, and self-signed client
// certificates. Keys are P-256; every certificate is made fresh in the
// test.
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Cert is a certificate with its private key.
type Cert struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// TLS returns c as a tls.Certificate (leaf only).
func (c *Cert) TLS() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.Cert.Raw}, PrivateKey: c.Key, Leaf: c.Cert}
}

// PEM returns the certificate as PEM.
func (c *Cert) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
}

// KeyPEM returns the private key as PKCS#8 PEM.
func (c *Cert) KeyPEM(t testing.TB) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// WriteFiles writes the certificate and key as PEM files in dir (the key
// mode 0600) and returns their paths.
func (c *Cert) WriteFiles(t testing.TB, dir, name string) (certFile, keyFile string) {
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, c.PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, c.KeyPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// Options shape an issued certificate.
type Options struct {
	Subject   pkix.Name
	DNSNames  []string
	IPs       []net.IP
	URIs      []string
	Emails    []string
	NotBefore time.Time // zero: an hour ago
	NotAfter  time.Time // zero: in a day
	// Server makes a server certificate (ExtKeyUsageServerAuth); the
	// default is a client certificate (ExtKeyUsageClientAuth).
	Server bool
	// NoExtKeyUsage leaves the extended key usage out.
	NoExtKeyUsage bool
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func template(t testing.TB, o Options) *x509.Certificate {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: o.Subject, DNSNames: o.DNSNames, IPAddresses: o.IPs, EmailAddresses: o.Emails,
		NotBefore: o.NotBefore, NotAfter: o.NotAfter, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	}
	for _, s := range o.URIs {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, u)
	}
	switch {
	case o.NoExtKeyUsage:
	case o.Server:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	default:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	return tmpl
}

func create(t testing.TB, tmpl, parent *x509.Certificate, pub, signer any) *x509.Certificate {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// NewCA makes a CA certificate named cn, valid from 2000 to 2100 so
// that tests with a fixed clock can use it.
func NewCA(t testing.TB, cn string) *Cert {
	k := newKey(t)
	tmpl := template(t, Options{Subject: pkix.Name{CommonName: cn}, NoExtKeyUsage: true,
		NotBefore: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)})
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	return &Cert{Cert: create(t, tmpl, tmpl, &k.PublicKey, k), Key: k}
}

// Pool returns a pool holding ca alone.
func (c *Cert) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.Cert)
	return p
}

// Issue makes a certificate signed by ca.
func (c *Cert) Issue(t testing.TB, o Options) *Cert {
	k := newKey(t)
	return &Cert{Cert: create(t, template(t, o), c.Cert, &k.PublicKey, c.Key), Key: k}
}

// SelfSigned makes a self-signed client certificate.
func SelfSigned(t testing.TB, o Options) *Cert {
	k := newKey(t)
	tmpl := template(t, o)
	return &Cert{Cert: create(t, tmpl, tmpl, &k.PublicKey, k), Key: k}
}
