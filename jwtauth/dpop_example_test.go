package jwtauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/replay"
)

// A resource server checks the DPoP proof sent with a request against the
// request's method and its public URL, and gets the proof key's
// thumbprint to compare with the token's cnf.jkt. The same proof sent a
// second time is refused.
func ExampleDPoPVerifier() {
	// The client side (normally clientcred, oauth4webapi or jose): a key
	// pair and a proof for GET https://api.example.com/things.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := jwk.FromPublic(&key.PublicKey, "", "")
	set, _ := jwk.MarshalSet(*pub)
	var doc struct{ Keys []json.RawMessage }
	_ = json.Unmarshal(set, &doc)
	header, _ := json.Marshal(map[string]any{"alg": "ES256", "typ": "dpop+jwt", "jwk": doc.Keys[0]})
	claims, _ := json.Marshal(map[string]any{"jti": "e1j3V_bKic8-LAEB", "htm": "GET",
		"htu": "https://api.example.com/things", "iat": time.Now().Unix()})
	proof, _ := jws.Sign("ES256", key, header, claims)

	// The server side.
	verifier := &jwtauth.DPoPVerifier{Replay: &replay.Memory{}}
	r := httptest.NewRequest("GET", "http://10.0.0.7:8080/things?page=2", nil)
	r.Header.Set("DPoP", proof)
	req := jwtauth.DPoPRequest{
		Proofs: r.Header.Values("DPoP"),
		Method: r.Method,
		// The public URL comes from configuration, never from Host.
		URL: jwtauth.DPoPRequestURL("https://api.example.com", r),
		JKT: pub.Thumbprint, // the token's cnf.jkt
	}
	p, err := verifier.Verify(context.Background(), req)
	fmt.Println(err, p.JKT == pub.Thumbprint)

	_, err = verifier.Verify(context.Background(), req)
	fmt.Println(m2m.ReasonOf(err))
	// Output:
	// <nil> true
	// invalid_dpop_proof
}
