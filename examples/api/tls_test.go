package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/internal/testcert"
	"github.com/m2mkit/m2m/jwk"
)

// tlsFiles writes a server certificate for 127.0.0.1 (from serverCA) and
// clientCA's certificate to dir, and returns the three paths.
func tlsFiles(t *testing.T, dir string, serverCA, clientCA *testcert.Cert) (cert, key, ca string) {
	t.Helper()
	srv := serverCA.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "api"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	cert, key = srv.WriteFiles(t, dir, "tls")
	ca = filepath.Join(dir, "client-ca.pem")
	if err := os.WriteFile(ca, clientCA.PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return cert, key, ca
}

// clientWith returns a client trusting pool that presents cert (when not
// nil) whatever CAs the server names, as a client not in on it would.
func clientWith(serverCA *testcert.Cert, cert *testcert.Cert) *http.Client {
	tc := &tls.Config{RootCAs: serverCA.Pool()}
	if cert != nil {
		c := cert.TLS()
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
}

// TestServerTLSClientCA: with -client-ca, a client may present a
// certificate; one from that CA reaches the handler (where the middleware
// checks certificate-bound tokens), none is also served, and one from
// another CA fails the handshake.
func TestServerTLSClientCA(t *testing.T) {
	dir := t.TempDir()
	serverCA, clientCA, otherCA := testcert.NewCA(t, "server CA"), testcert.NewCA(t, "client CA"), testcert.NewCA(t, "other CA")
	certFile, keyFile, caFile := tlsFiles(t, dir, serverCA, clientCA)
	cfg, err := serverTLS(certFile, keyFile, caFile)
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

	get := func(cert *testcert.Cert) (string, error) {
		resp, err := clientWith(serverCA, cert).Get(srv.URL)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), nil
	}
	if got, err := get(clientCA.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "worker"}})); err != nil || got != "worker" {
		t.Errorf("with a certificate of the client CA = %q, %v; want it seen by the handler", got, err)
	}
	if got, err := get(nil); err != nil || got != "no certificate" {
		t.Errorf("without a certificate = %q, %v; want served without one", got, err)
	}
	if got, err := get(otherCA.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "intruder"}})); err == nil {
		t.Errorf("with a certificate of another CA = %q; want a handshake failure", got)
	}
	if _, err := serverTLS(certFile, keyFile, keyFile); err == nil {
		t.Error("serverTLS(-client-ca with no certificate) = nil; want an error")
	}
}

// TestAPICertificateBound: a token bound to a client certificate
// (cnf.x5t#S256, as m2m serve issues it over mutual TLS) is accepted over
// a connection made with that certificate only.
func TestAPICertificateBound(t *testing.T) {
	dir := t.TempDir()
	serverCA, clientCA := testcert.NewCA(t, "server CA"), testcert.NewCA(t, "client CA")
	certFile, keyFile, caFile := tlsFiles(t, dir, serverCA, clientCA)
	worker := clientCA.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "worker"}})
	other := clientCA.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "other"}})

	// An issuer: its JWKS, and a token bound to the worker's certificate.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := jwk.FromPublic(&key.PublicKey, "k1", "ES256")
	set, _ := jwk.MarshalSet(*pub)
	issuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(set) }))
	defer issuer.Close()
	const aud = "https://api.example.com"
	now := time.Now().Unix()
	claims, _ := json.Marshal(map[string]any{"iss": issuer.URL, "aud": aud, "sub": "worker", "client_id": "worker",
		"iat": now, "exp": now + 300, "jti": "t1", "cnf": map[string]string{"x5t#S256": httpauth.CertificateThumbprint(worker.Cert)}})
	token, err := jws.Sign("ES256", key, jws.HeaderJSON("ES256", "k1", "at+jwt"), claims)
	if err != nil {
		t.Fatal(err)
	}

	cfg, err := serverTLS(certFile, keyFile, caFile)
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewUnstartedServer(nil)
	h, err := newAPI(apiConfig{Issuer: issuer.URL, Audience: aud, PublicURL: "https://" + api.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	api.Config.Handler, api.TLS = h, cfg
	api.StartTLS()
	defer api.Close()

	for _, tc := range []struct {
		name   string
		cert   *testcert.Cert
		status int
		body   string
	}{
		{"over its certificate", worker, 200, `"hello":"worker"`},
		{"over another certificate", other, 401, "bad_credentials"},
		{"without a certificate", nil, 401, "bad_credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", api.URL+"/hello", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := clientWith(serverCA, tc.cert).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.body) {
				t.Errorf("GET /hello = %d %s; want %d containing %q", resp.StatusCode, b, tc.status, tc.body)
			}
		})
	}
}
