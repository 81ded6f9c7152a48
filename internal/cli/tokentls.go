package cli

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"

	"github.com/m2mkit/m2m/clientcred"
)

// tls applies --server-ca, --client-cert and --client-key to c.
func (f *clientCredFlags) tls(c *clientcred.Config) error {
	if (f.clientCert == "") != (f.clientKey == "") {
		return Usage("--client-cert and --client-key: give both or neither")
	}
	if f.serverCA != "" {
		b, err := readCAFile(f.serverCA)
		if err != nil {
			return Rejected(fmt.Errorf("--server-ca: %w", err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return Rejected(fmt.Errorf("--server-ca %s: no PEM certificate in it", f.serverCA))
		}
		base := http.DefaultTransport.(*http.Transport).Clone()
		base.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		f.base = base
		c.HTTPClient = &http.Client{Transport: base}
	}
	if f.clientCert != "" {
		cc, err := clientcred.LoadClientCertificate(f.clientCert, f.clientKey)
		if err != nil {
			return Rejected(fmt.Errorf("--client-cert, --client-key: %w", err))
		}
		f.cert = cc
		c.ClientCertificate = cc
	}
	return nil
}

// apiTransport returns the base transport of API requests: nil (the
// default, which presents --client-cert) unless --server-ca is given.
func (f *clientCredFlags) apiTransport() http.RoundTripper {
	switch {
	case f.base == nil:
		return nil
	case f.cert != nil:
		return f.cert.RoundTripper(f.base)
	}
	return f.base
}
