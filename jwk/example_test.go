package jwk_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/m2mkit/m2m/jwk"
)

func ExampleRemoteKeySet() {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k, _ := jwk.FromPublic(&priv.PublicKey, "2026-11", "ES256")
	doc, _ := jwk.MarshalSet(*k)
	issuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(doc) }))
	defer issuer.Close()

	keys := jwk.NewRemoteKeySet(issuer.URL + "/.well-known/jwks.json")
	found, err := keys.Lookup(context.Background(), "2026-11")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(found), found[0].Fits("ES256"), found[0].Fits("HS256"))
	// Output: 1 true false
}

func ExampleParseSet() {
	s, err := jwk.ParseSet([]byte(`{"keys":[
		{"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
		{"kty":"oct","kid":"hmac","k":"c2VjcmV0"}]}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Len(), s.Skipped, len(s.Lookup("ed")), len(s.Lookup("hmac")))
	// Output: 1 1 1 0
}

func ExampleNewStaticKeySet() {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k, _ := jwk.FromPublic(&priv.PublicKey, "", "")
	ks := jwk.NewStaticKeySet(jwk.NewSet(*k))
	keys, _ := ks.Lookup(context.Background(), "") // one unnamed key: used for tokens without kid
	fmt.Println(len(keys))
	// Output: 1
}

func ExampleNewFileKeySet() {
	_, err := jwk.NewFileKeySet("/nonexistent/jwks.json")
	fmt.Println(err != nil)
	// Output: true
}

func ExampleFromPublic() {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k, err := jwk.FromPublic(&priv.PublicKey, "2026-11", "ES256")
	if err != nil {
		log.Fatal(err)
	}
	doc, _ := jwk.MarshalSet(*k) // what a token server publishes at its jwks_uri
	s, _ := jwk.ParseSet(doc)
	fmt.Println(s.Has("2026-11", k.Thumbprint))
	// Output: true
}

func ExampleParse() {
	// A PEM public key, a single JWK or a JWKS: Parse tells them apart.
	s, err := jwk.Parse([]byte("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n-----END PUBLIC KEY-----\n"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Len(), s.Keys()[0].Fits("EdDSA"))
	// Output: 1 true
}

func ExampleOpen() {
	ks, err := jwk.Open("https://example-tenant.us.auth0.com/.well-known/jwks.json")
	if err != nil {
		log.Fatal(err)
	}
	_, remote := ks.(*jwk.RemoteKeySet)
	fmt.Println(remote, ks.Current() == nil) // nothing is fetched before the first lookup
	// Output: true true
}
