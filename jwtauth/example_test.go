package jwtauth_test

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/jwtauth"
)

var exampleKey = m2m.Secret("an-example-secret-of-32-bytes-!!")

func frozen() time.Time { return time.Unix(1700000000, 0) }

func ExampleDeviceTokens() {
	tokens := &jwtauth.DeviceTokens{Keys: []m2m.Secret{exampleKey}, Now: frozen}
	tok, err := tokens.Issue("phone-app")
	if err != nil {
		panic(err)
	}
	c, err := tokens.Verify(context.Background(), tok)
	fmt.Println(c.Subject, c.ExpiresAt.Sub(c.IssuedAt), err)

	// An hour later the token has expired (beyond the default leeway).
	tokens.Now = func() time.Time { return frozen().Add(time.Hour + time.Minute) }
	_, err = tokens.Verify(context.Background(), tok)
	fmt.Println(m2m.ReasonOf(err))
	// Output:
	// phone-app 1h0m0s <nil>
	// expired
}

func ExampleTokenAuth() {
	tokens := &jwtauth.DeviceTokens{Keys: []m2m.Secret{exampleKey}}
	mw := &httpauth.Middleware{Verifiers: []m2m.Verifier{
		&jwtauth.TokenAuth{Realm: "camera", Check: tokens.CheckToken},
	}}
	api := mw.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := m2m.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s", p.Subject)
	}))

	tok, _ := tokens.Issue("alice")
	r := httptest.NewRequest("POST", "/api/ack", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	api.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Body)

	r.Header.Set("Authorization", "Bearer "+tok+"x")
	w = httptest.NewRecorder()
	api.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	// Output:
	// 200 hello alice
	// 401 Bearer realm="camera", error="invalid_token", error_description="the token's signature does not verify"
}

func ExampleLoginHandler() {
	tokens := &jwtauth.DeviceTokens{Keys: []m2m.Secret{exampleKey}}
	login := &jwtauth.LoginHandler{
		Tokens: tokens,
		// In a real device: an *basic.Htpasswd loaded from a file.
		Users: jwtauth.PasswordFunc(func(_ context.Context, user, pass string) (bool, error) {
			ok := subtle.ConstantTimeCompare([]byte(user+"\x00"+pass), []byte("admin\x00s3cret")) == 1
			return ok, nil
		}),
	}
	for _, body := range []string{`{"user":"admin","pass":"s3cret"}`, `{"user":"admin","pass":"nope"}`, `{"user":"admin"}`} {
		r := httptest.NewRequest("POST", "/api/login", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		login.ServeHTTP(w, r)
		fmt.Println(w.Code, strings.HasPrefix(w.Body.String(), `{"token":"eyJ`))
	}
	// Output:
	// 200 true
	// 401 false
	// 400 false
}

func ExampleValidator_Verify() {
	tok, _ := jwtauth.Sign(jwtauth.Header{Alg: "HS256"}, exampleKey,
		[]byte(`{"iss":"https://auth.example","aud":"api","sub":"svc","exp":1700000600}`))
	v := &jwtauth.Validator{
		Algorithms: []string{"HS256"},
		Issuer:     "https://auth.example",
		Audience:   []string{"api"},
		Leeway:     jwtauth.NoLeeway,
		Now:        frozen,
	}
	c, err := v.Verify(context.Background(), tok, jwtauth.Secrets(exampleKey))
	fmt.Println(c.Subject, c.Audience, err)

	v.Audience = []string{"billing"}
	_, err = v.Verify(context.Background(), tok, jwtauth.Secrets(exampleKey))
	fmt.Println(m2m.ReasonOf(err))
	// Output:
	// svc [api] <nil>
	// wrong_audience
}

func ExampleSign() {
	// The same bytes PyJWT 2.x produces for
	// jwt.encode({"sub": "alice", "exp": 1700003600}, key, "HS256").
	tok, _ := jwtauth.Sign(jwtauth.Header{Alg: "HS256"}, []byte("k"), []byte(`{"sub":"alice","exp":1700003600}`))
	fmt.Println(strings.Split(tok, ".")[0])
	// Output: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9
}

func ExampleParseClaims() {
	c, err := jwtauth.ParseClaims([]byte(`{"sub":"cam-1","aud":["a","b"],"exp":1700000000.9,"scope":"read"}`))
	fmt.Println(c.Subject, c.Audience, c.ExpiresAt.Unix(), c.Raw["scope"], err)
	// Output: cam-1 [a b] 1700000000 read <nil>
}

func ExampleValidator_ValidateClaims() {
	// Claims from elsewhere (a cache, another parser) are checked against
	// the same policy without a signature check.
	c, _ := jwtauth.ParseClaims([]byte(`{"sub":"svc","exp":1700000000}`))
	v := &jwtauth.Validator{Algorithms: []string{"HS256"}, SkipIssuerCheck: true, SkipAudienceCheck: true,
		Leeway: jwtauth.NoLeeway, Now: frozen}
	fmt.Println(m2m.ReasonOf(v.ValidateClaims(c))) // now == exp: expired, as in PyJWT
	v.Leeway = time.Second
	fmt.Println(v.ValidateClaims(c))
	// Output:
	// expired
	// <nil>
}
