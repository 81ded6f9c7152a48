package clientcred_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/m2mkit/m2m/clientcred"
)

// A client registered with tls_client_auth (or
// self_signed_tls_client_auth) authenticates with its certificate: no
// secret, the token request carries client_id alone, over a TLS
// connection presenting the certificate, and the token is bound to it
// (cnf.x5t#S256). The Transport presents the same certificate to the
// API. The files are read again when cert-manager or a SPIFFE agent
// renews them.
func ExampleLoadClientCertificate() {
	dir, _ := os.MkdirTemp("", "mtls")
	defer os.RemoveAll(dir)
	certFile, keyFile := writeExampleCertificate(dir, "worker") // issued by your CA in production

	cert, err := clientcred.LoadClientCertificate(certFile, keyFile)
	if err != nil {
		panic(err)
	}
	src, err := clientcred.NewTokenSource(clientcred.Config{
		ClientID:          "worker",
		TokenURL:          "https://auth.example.com/oauth/token",
		Audience:          "https://api.example.com",
		ClientCertificate: cert,
	})
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: &clientcred.Transport{Source: src}}
	_ = client // client.Get("https://api.example.com/things")
	fmt.Println(cert.Leaf().Subject.CommonName, len(cert.Thumbprint()))
	// Output: worker 43
}

// writeExampleCertificate writes a self-signed client certificate and
// its key (mode 0600) in dir.
func writeExampleCertificate(dir, cn string) (certFile, keyFile string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(err)
	}
	certFile, keyFile = filepath.Join(dir, cn+".crt"), filepath.Join(dir, cn+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		panic(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		panic(err)
	}
	return certFile, keyFile
}
