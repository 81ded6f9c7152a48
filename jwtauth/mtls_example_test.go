package jwtauth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/clientaddr"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/internal/testcert"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
)

func ExampleCertificateBoundTokens() {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := jwk.FromPublic(&priv.PublicKey, "k1", "ES256")
	tokens, err := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer:     "https://auth.example.com",
		Audiences:  []string{"https://api.example.com"},
		Algorithms: []string{"ES256"},
		Keys:       jwk.NewStaticKeySet(jwk.NewSet(*pub)),
	})
	if err != nil {
		log.Fatal(err)
	}
	// Behind a TLS-terminating proxy at 10.0.0.5 that forwards the client
	// certificate in the RFC 9440 Client-Cert header; requests from any
	// other peer are read from their own TLS connection.
	proxies, _ := clientaddr.ParseTrustedProxies("10.0.0.5")
	api := (&httpauth.Middleware{Verifiers: []m2m.Verifier{&jwtauth.CertificateBoundTokens{
		Tokens:       tokens,
		Certificates: &httpauth.ClientCertificates{Header: httpauth.DefaultClientCertHeader, TrustedProxies: proxies},
	}}}).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := m2m.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s", p.ClientID)
	}))

	// A token bound to the client's certificate (as m2m serve issues it
	// to a client that authenticated with mutual TLS).
	client := testcert.SelfSigned(nil, testcert.Options{Subject: pkix.Name{CommonName: "worker"}})
	claims, _ := json.Marshal(map[string]any{
		"iss": "https://auth.example.com", "aud": "https://api.example.com", "sub": "worker",
		"client_id": "worker", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
		"cnf": map[string]string{"x5t#S256": httpauth.CertificateThumbprint(client.Cert)},
	})
	tok, _ := jws.Sign("ES256", priv, jws.HeaderJSON("ES256", "k1", "at+jwt"), claims)

	for _, cert := range []*x509.Certificate{client.Cert, nil} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		if cert != nil {
			r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
		}
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Body.String())
	}
	// Output:
	// 200 hello worker
	// 401 {"error":"bad_credentials","error_description":"the token is bound to a client certificate and the request has none"}
}
