package tlsreload_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log"
	"math/big"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/m2mkit/m2m/internal/tlsreload"
)

// writePair writes a self-signed certificate named cn to dir/tls.crt and
// its key to dir/tls.key (mode 0600), as a certificate manager would.
func writePair(dir, cn string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{cn}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
}

func ExampleNew() {
	dir, _ := os.MkdirTemp("", "tls")
	defer os.RemoveAll(dir)
	writePair(dir, "auth.example")

	r, err := tlsreload.New(tlsreload.Options{
		CertFile: filepath.Join(dir, "tls.crt"),
		KeyFile:  filepath.Join(dir, "tls.key"),
	})
	if err != nil {
		log.Fatal(err)
	}
	cert, _ := r.GetCertificate(nil)
	fmt.Println(cert.Leaf.Subject.CommonName)

	// The certificate is renewed; Reload (or Run, within an interval)
	// serves the new one to new connections.
	writePair(dir, "auth2.example")
	if err := r.Reload(); err != nil {
		log.Fatal(err)
	}
	cert, _ = r.GetCertificate(nil)
	fmt.Println(cert.Leaf.Subject.CommonName)
	// Output:
	// auth.example
	// auth2.example
}

// ExampleConfig shows the wiring of a server: Run follows the files,
// SIGHUP reloads at once, ServeTLS serves with Config.
func ExampleConfig() {
	r, err := tlsreload.New(tlsreload.Options{CertFile: "/etc/m2m/tls.crt", KeyFile: "/etc/m2m/tls.key"})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go r.Run(ctx)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			r.Reload() // a refusal is logged; the previous pair stays
		}
	}()

	srv := &http.Server{Addr: "0.0.0.0:8443", TLSConfig: tlsreload.Config(r), ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServeTLS("", ""))
}

func ExampleReloader_GetCertificate() {
	dir, _ := os.MkdirTemp("", "tls")
	defer os.RemoveAll(dir)
	writePair(dir, "auth.example")
	r, err := tlsreload.New(tlsreload.Options{CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key")})
	if err != nil {
		log.Fatal(err)
	}
	// GetCertificate is what Config installs in tls.Config.
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
	fmt.Println(cfg.GetCertificate != nil)
	// Output: true
}
