package jwk_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/m2mkit/m2m/jwk"
)

// rfc8037Pub is the Ed25519 public key of RFC 8037 appendix A.
var rfc8037Pub, _ = base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")

func ExampleParseKey() {
	k, err := jwk.ParseKey([]byte(`{"kty":"OKP","crv":"Ed25519","kid":"ed","alg":"EdDSA","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(k.ID, k.Fits("EdDSA"), k.Thumbprint)
	_, err = jwk.ParseKey([]byte(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}`))
	fmt.Println(err != nil) // private key material is refused
	// Output:
	// ed true kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k
	// true
}

func ExampleParsePEM() {
	pemData := []byte("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n-----END PUBLIC KEY-----\n")
	s, err := jwk.ParsePEM(pemData, "signing-2026") // PEM has no kid: name the key
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(s.Lookup("signing-2026")), len(s.Lookup(""))) // a named key needs the kid
	// Output: 1 0
}

func ExampleMarshalSet() {
	k, err := jwk.FromPublic(ed25519.PublicKey(rfc8037Pub), "ed", "EdDSA")
	if err != nil {
		log.Fatal(err)
	}
	doc, _ := jwk.MarshalSet(*k)
	fmt.Println(string(doc))
	// Output: {"keys":[{"use":"sig","kty":"OKP","kid":"ed","crv":"Ed25519","alg":"EdDSA","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}
}

func ExampleSet_Lookup() {
	a, _ := jwk.FromPublic(ed25519.PublicKey(rfc8037Pub), "a", "")
	b, _ := jwk.FromPublic(ed25519.PublicKey(rfc8037Pub), "b", "")
	s := jwk.NewSet(*a, *b)
	// With several keys a token must name its key: no kid finds nothing.
	fmt.Println(len(s.Lookup("a")), len(s.Lookup("c")), len(s.Lookup("")))
	// Output: 1 0 0
}

func ExampleNewRemoteKeySet() {
	k, _ := jwk.FromPublic(ed25519.PublicKey(rfc8037Pub), "ed", "EdDSA")
	doc, _ := jwk.MarshalSet(*k)
	issuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(doc) }))
	defer issuer.Close()

	keys := jwk.NewRemoteKeySet(issuer.URL)
	ctx := context.Background()
	keys.Lookup(ctx, "ed")      // the first lookup fetches
	keys.Lookup(ctx, "ed")      // later ones read the cached set
	keys.Lookup(ctx, "made-up") // an unknown kid refetches, rate-limited
	fmt.Println(keys.Fetches(), keys.Current().Len())
	// Output: 1 1
}
