package cli

import (
	"crypto/x509"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/m2mkit/m2m/internal/testcert"
)

// TestClientCAsReload checks the --client-ca pool: a file that is not
// PEM certificates is refused at start; a changed file is put in service
// by Reload; a broken file keeps the previous pool.
func TestClientCAsReload(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ca.pem")
	ca1, ca2 := testcert.NewCA(t, "one"), testcert.NewCA(t, "two")
	client2 := ca2.Issue(t, testcert.Options{})
	verifies := func(pool *x509.CertPool) bool {
		_, err := client2.Cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		return err == nil
	}
	write := func(b []byte) {
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.DiscardHandler)
	for _, bad := range [][]byte{nil, []byte("not pem"), append(ca1.PEM(), "trailing"...), ca1.KeyPEM(t)} {
		write(bad)
		if _, err := newClientCAs(file, log); err == nil {
			t.Errorf("newClientCAs(%.20q) = nil error", bad)
		}
	}
	write(ca1.PEM())
	cas, err := newClientCAs(file, log)
	if err != nil {
		t.Fatal(err)
	}
	if verifies(cas.Pool()) {
		t.Fatal("a certificate of CA two verifies against CA one")
	}
	write(append(ca1.PEM(), ca2.PEM()...))
	if err := cas.Reload(); err != nil || !verifies(cas.Pool()) {
		t.Fatalf("Reload() = %v; want CA two in service", err)
	}
	write([]byte("-----BEGIN CERTIFICATE-----\ntruncated"))
	if err := cas.Reload(); err == nil || !verifies(cas.Pool()) {
		t.Errorf("Reload(broken file) = %v; want an error and the previous CAs kept", err)
	}
}
