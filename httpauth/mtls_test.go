package httpauth_test

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/m2mkit/m2m/clientaddr"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/internal/testcert"
)

func TestClientCertificates(t *testing.T) {
	ca := testcert.NewCA(t, "test CA")
	client := ca.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "worker"}})
	proxyCert := ca.Issue(t, testcert.Options{Subject: pkix.Name{CommonName: "proxy"}})
	field := ":" + base64.StdEncoding.EncodeToString(client.Cert.Raw) + ":"
	escaped := url.PathEscape(string(client.PEM()))
	proxies, err := clientaddr.ParseTrustedProxies("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	rfc := &httpauth.ClientCertificates{Header: httpauth.DefaultClientCertHeader, TrustedProxies: proxies}
	nginx := &httpauth.ClientCertificates{Header: "X-SSL-Client-Cert", Format: httpauth.CertHeaderEscapedPEM, TrustedProxies: proxies}
	for _, tc := range []struct {
		name    string
		cc      *httpauth.ClientCertificates
		peer    string
		tls     []*x509.Certificate
		headers map[string][]string
		want    *x509.Certificate
		bad     bool
	}{
		{"tls", nil, "192.0.2.1:1", []*x509.Certificate{client.Cert, ca.Cert}, nil, client.Cert, false},
		{"no tls", nil, "192.0.2.1:1", nil, nil, nil, false},
		{"header ignored without config", nil, "10.0.0.1:1", nil, map[string][]string{"Client-Cert": {field}}, nil, false},
		{"header from proxy", rfc, "10.0.0.1:1", nil, map[string][]string{"Client-Cert": {field}}, client.Cert, false},
		{"header from proxy over tls", rfc, "10.0.0.1:1", []*x509.Certificate{proxyCert.Cert}, map[string][]string{"Client-Cert": {field}}, client.Cert, false},
		{"no header from proxy", rfc, "10.0.0.1:1", []*x509.Certificate{proxyCert.Cert}, nil, nil, false},
		{"empty header from proxy", rfc, "10.0.0.1:1", nil, map[string][]string{"Client-Cert": {""}}, nil, false},
		{"header from untrusted peer", rfc, "192.0.2.1:1", nil, map[string][]string{"Client-Cert": {field}}, nil, false},
		{"untrusted peer keeps its tls", rfc, "192.0.2.1:1", []*x509.Certificate{client.Cert}, map[string][]string{"Client-Cert": {":AAAA:"}}, client.Cert, false},
		{"unpadded", rfc, "10.0.0.1:1", nil, map[string][]string{"Client-Cert": {":" + base64.RawStdEncoding.EncodeToString(client.Cert.Raw) + ":"}}, client.Cert, false},
		{"two fields", rfc, "10.0.0.1:1", nil, map[string][]string{"Client-Cert": {field, field}}, nil, true},
		{"no colons", rfc, "10.0.0.1:1", nil, map[string][]string{"Client-Cert": {strings.Trim(field, ":")}}, nil, true},
		{"not a certificate", rfc, "10.0.0.1:1", nil, map[string][]string{"Client-Cert": {":AAAA:"}}, nil, true},
		{"too large", rfc, "10.0.0.1:1", nil, map[string][]string{"Client-Cert": {":" + strings.Repeat("A", 20000) + ":"}}, nil, true},
		{"escaped pem", nginx, "10.0.0.1:1", nil, map[string][]string{"X-Ssl-Client-Cert": {escaped}}, client.Cert, false},
		{"escaped pem as rfc9440", rfc, "10.0.0.1:1", nil, map[string][]string{"Client-Cert": {escaped}}, nil, true},
		{"two pem blocks", nginx, "10.0.0.1:1", nil, map[string][]string{"X-Ssl-Client-Cert": {url.PathEscape(string(client.PEM()) + string(ca.PEM()))}}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			if tc.tls != nil {
				r.TLS = &tls.ConnectionState{PeerCertificates: tc.tls}
			}
			for k, v := range tc.headers {
				r.Header[k] = v
			}
			got, _, err := tc.cc.Certificate(r)
			if tc.bad {
				if !errors.Is(err, httpauth.ErrBadClientCertHeader) {
					t.Errorf("Certificate() = %v, %v; want ErrBadClientCertHeader", got, err)
				}
				return
			}
			if err != nil || !got.Equal(tc.want) && !(got == nil && tc.want == nil) {
				t.Errorf("Certificate() = %v, %v; want %v", name(got), err, name(tc.want))
			}
		})
	}
}

func name(c *x509.Certificate) string {
	if c == nil {
		return "none"
	}
	return c.Subject.String()
}

func TestClientCertificatesValidate(t *testing.T) {
	for _, tc := range []struct {
		cc *httpauth.ClientCertificates
		ok bool
	}{
		{nil, true},
		{&httpauth.ClientCertificates{}, true},
		{&httpauth.ClientCertificates{Header: "Client-Cert"}, false},
		{&httpauth.ClientCertificates{Format: "pem"}, false},
	} {
		if err := tc.cc.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v.Validate() = %v; want ok %t", tc.cc, err, tc.ok)
		}
	}
}

func TestCertificateThumbprint(t *testing.T) {
	c := testcert.SelfSigned(t, testcert.Options{Subject: pkix.Name{CommonName: "x"}})
	sum := sha256.Sum256(c.Cert.Raw)
	if got, want := httpauth.CertificateThumbprint(c.Cert), base64.RawURLEncoding.EncodeToString(sum[:]); got != want || len(got) != 43 {
		t.Errorf("CertificateThumbprint() = %q; want %q", got, want)
	}
}

// FuzzClientCertHeader checks that neither header format's parser
// panics, and that what the RFC 9440 parser accepts is base64 of what it
// returns.
func FuzzClientCertHeader(f *testing.F) {
	c := testcert.SelfSigned(f, testcert.Options{Subject: pkix.Name{CommonName: "x"}})
	f.Add(":" + base64.StdEncoding.EncodeToString(c.Cert.Raw) + ":")
	f.Add(url.PathEscape(string(c.PEM())))
	f.Add(":AAAA:")
	f.Add("::")
	f.Add("%ZZ")
	f.Fuzz(func(t *testing.T, v string) {
		if der, err := httpauth.ParseClientCertField(v); err == nil {
			if len(der) == 0 {
				t.Fatalf("ParseClientCertField(%q) accepted nothing", v)
			}
		}
		if der, err := httpauth.ParseEscapedPEMCert(v); err == nil && len(der) == 0 && strings.Contains(v, "BEGIN") == false {
			t.Fatalf("ParseEscapedPEMCert(%q) accepted a document without a PEM block", v)
		}
	})
}

func ExampleClientCertificates() {
	// Behind nginx at 10.0.0.5:
	//   proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;
	proxies, _ := clientaddr.ParseTrustedProxies("10.0.0.5")
	certs := &httpauth.ClientCertificates{
		Header: "X-SSL-Client-Cert", Format: httpauth.CertHeaderEscapedPEM, TrustedProxies: proxies,
	}
	client := testcert.SelfSigned(nil, testcert.Options{Subject: pkix.Name{CommonName: "worker"}})
	for _, peer := range []string{"10.0.0.5:40000", "192.0.2.9:40000"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer
		r.Header.Set("X-SSL-Client-Cert", url.PathEscape(string(client.PEM())))
		cert, _, err := certs.Certificate(r)
		fmt.Println(peer, cert != nil && cert.Subject.CommonName == "worker", err)
	}
	// Output:
	// 10.0.0.5:40000 true <nil>
	// 192.0.2.9:40000 false <nil>
}
