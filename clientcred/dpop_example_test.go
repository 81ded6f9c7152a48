package clientcred_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/m2mkit/m2m/clientcred"
)

// A client whose tokens are bound to its DPoP key: the key file is
// created (mode 0600) on first use, the token request carries a proof,
// and every request through the Transport carries "Authorization: DPoP"
// and a proof for that request.
func ExampleLoadDPoPKey() {
	dir, _ := os.MkdirTemp("", "dpop")
	defer os.RemoveAll(dir)
	key, err := clientcred.LoadDPoPKey(filepath.Join(dir, "dpop-key.pem"))
	if err != nil {
		panic(err)
	}
	src, err := clientcred.NewTokenSource(clientcred.Config{
		ClientID: "worker", ClientSecret: "s3cret",
		TokenURL: "https://auth.example.com/oauth/token",
		Audience: "https://api.example.com",
		DPoP:     key,
	})
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: &clientcred.Transport{Source: src}}
	_ = client // client.Get("https://api.example.com/things")
	fmt.Println(key.Algorithm(), len(key.Thumbprint()))
	// Output: ES256 43
}

// A proof made by hand, for a request the Transport does not send.
func ExampleDPoPKey_Proof() {
	key, err := clientcred.GenerateDPoPKey()
	if err != nil {
		panic(err)
	}
	proof, err := key.Proof("POST", "https://api.example.com/orders?id=1", "the-access-token")
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.Count(proof, "."))
	// Output: 2
}
