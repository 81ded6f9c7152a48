package authserver_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/internal/testcert"
	"github.com/m2mkit/m2m/store"
)

func ExampleMutualTLS() {
	clientCA := testcert.NewCA(nil, "client CA") // the CAs of --client-ca in production
	clients := &fakeClients{}
	srv, err := authserver.New(authserver.Config{
		Issuer:    "https://auth.example.com",
		Clients:   clients,
		Signer:    exampleSigner(),
		MutualTLS: &authserver.MutualTLS{ClientCAs: clientCA.Pool},
	})
	if err != nil {
		log.Fatal(err)
	}
	// A client that authenticates with a certificate for CN=worker: it
	// has no secret.
	if _, err := authserver.CreateClient(context.Background(), clients, &store.Client{ID: "worker",
		Audiences: []string{"https://api.example.com"}, AuthMethod: store.AuthMethodTLSClientAuth, TLSSubject: "CN=worker"}, nil); err != nil {
		log.Fatal(err)
	}
	// Serve srv.Handler() with a tls.Config whose ClientAuth is
	// tls.RequestClientCert; here the TLS state is set by hand.
	cert := clientCA.Issue(nil, testcert.Options{Subject: pkix.Name{CommonName: "worker"}})
	r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader("grant_type=client_credentials&client_id=worker"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert.Cert}}
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, r)
	fmt.Println(w.Code, strings.Contains(w.Body.String(), `"token_type":"Bearer"`))
	// Output: 200 true
}
