package jwtauth_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"log"
	"net/http/httptest"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
)

// exampleTokens returns a verifier with one EdDSA key that requires the
// scope "write", and a token for client "worker-7" with the given scope.
func exampleTokens(scope string) (*jwtauth.AccessTokens, string) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	k, _ := jwk.FromPublic(pub, "ed-1", "EdDSA")
	tokens, err := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer: "https://auth.example.com/", Audiences: []string{"https://api.example.com"},
		Algorithms: []string{"EdDSA"}, Keys: jwk.NewStaticKeySet(jwk.NewSet(*k)),
		RequiredScopes: []string{"write"}, Realm: "api",
		Now: func() time.Time { return time.Unix(1700000000, 0) },
	})
	if err != nil {
		log.Fatal(err)
	}
	claims := fmt.Sprintf(`{"iss":"https://auth.example.com/","aud":"https://api.example.com","sub":"worker-7@clients","azp":"worker-7","scope":%q,"exp":1700003600}`, scope)
	tok, err := jws.Sign("EdDSA", priv, jws.HeaderJSON("EdDSA", "ed-1", ""), []byte(claims))
	if err != nil {
		log.Fatal(err)
	}
	return tokens, tok
}

func ExampleAccessTokens_Verify() {
	tokens, tok := exampleTokens("read write")
	r := httptest.NewRequest("GET", "/orders", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	p, err := tokens.Verify(r)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Subject, p.ClientID, p.Scopes, p.Scheme)
	// Output: worker-7@clients worker-7 [read write] bearer
}

func ExampleAccessTokens_CheckToken() {
	// CheckToken has the shape of a TokenAuth.Check, for a token that
	// arrives some other way than the Authorization header.
	tokens, tok := exampleTokens("write")
	p, err := tokens.CheckToken(httptest.NewRequest("GET", "/", nil), tok)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.ClientID)
	// Output: worker-7
}

func ExampleAccessTokens_Challenge() {
	tokens, tok := exampleTokens("read") // lacks "write"
	_, err := tokens.VerifyToken(context.Background(), tok)
	fmt.Println(m2m.ReasonOf(err))
	fmt.Println(tokens.Challenge(err).String())
	// Output:
	// insufficient_scope
	// Bearer realm="api", error="insufficient_scope", error_description="the token lacks a required scope", scope="write"
}

func ExampleVerifiedToken_Principal() {
	tokens, tok := exampleTokens("write")
	vt, err := tokens.VerifyToken(context.Background(), tok)
	if err != nil {
		log.Fatal(err)
	}
	p := vt.Principal() // a new Principal each time: the VerifiedToken is shared
	p.Scopes = append(p.Scopes, "changed")
	fmt.Println(vt.ClientID, vt.KeyID, vt.Scopes)
	// Output: worker-7 ed-1 [write]
}
