package jwtauth_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/jwtauth"
)

func ExampleSecrets() {
	// Keys are tried in order: the current secret, then the previous one.
	old := m2m.Secret("the-previous-secret-of-32-bytes!")
	tok, _ := jwtauth.Sign(jwtauth.Header{Alg: "HS256"}, old, []byte(`{"sub":"cam","exp":1700000600}`))
	v := &jwtauth.Validator{Algorithms: []string{"HS256"}, SkipIssuerCheck: true, SkipAudienceCheck: true, Now: frozen}
	c, err := v.Verify(context.Background(), tok, jwtauth.Secrets(exampleKey, old))
	fmt.Println(c.Subject, err)
	_, err = v.Verify(context.Background(), tok, jwtauth.Secrets(exampleKey))
	fmt.Println(m2m.ReasonOf(err))
	// Output:
	// cam <nil>
	// bad_signature
}

func ExamplePasswordFunc() {
	var users jwtauth.PasswordChecker = jwtauth.PasswordFunc(func(_ context.Context, user, pass string) (bool, error) {
		// Compare in constant time in real code (an *basic.Htpasswd does).
		return user == "admin" && pass == "s3cret", nil
	})
	ok, err := users.Authenticate(context.Background(), "admin", "s3cret")
	fmt.Println(ok, err)
	// Output: true <nil>
}

func ExampleDeviceTokens_CheckToken() {
	tokens := &jwtauth.DeviceTokens{Keys: []m2m.Secret{exampleKey}, Now: frozen}
	tok, _ := tokens.Issue("phone-app")
	p, err := tokens.CheckToken(httptest.NewRequest("GET", "/", nil), tok)
	fmt.Println(p.Subject, p.Scheme, p.ExpiresAt.Unix(), err)
	// Output: phone-app bearer 1700003600 <nil>
}

func ExampleDeviceTokens_Validator() {
	tokens := &jwtauth.DeviceTokens{Keys: []m2m.Secret{exampleKey}, Audience: "camera"}
	v := tokens.Validator()
	fmt.Println(v.Algorithms, v.Audience, v.SkipIssuerCheck)
	// Output: [HS256] [camera] true
}

func ExampleClaims_Principal() {
	c, _ := jwtauth.ParseClaims([]byte(`{"sub":"svc","aud":"api","exp":1700000600,"role":"reader"}`))
	p := c.Principal()
	fmt.Println(p.Subject, p.Audience, p.ExpiresAt.Unix(), p.Claims["role"])
	// Output: svc [api] 1700000600 reader
}
