package httpauth_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
)

func ExampleParseAuthorization() {
	scheme, cred, ok := httpauth.ParseAuthorization("bearer   eyJhbGciOi.x.y ")
	fmt.Printf("%q %q %v\n", scheme, cred, ok)
	_, _, ok = httpauth.ParseAuthorization("Bearer\teyJ") // 1*SP, not a tab, after the scheme
	fmt.Println(ok)
	// Output:
	// "bearer" "eyJhbGciOi.x.y" true
	// false
}

func ExampleCredentials() {
	for _, h := range []string{"", "Basic dXNlcjpwYXNz", "BEARER abc.def.ghi", "Bearer"} {
		r := httptest.NewRequest("GET", "/", nil)
		if h != "" {
			r.Header.Set("Authorization", h)
		}
		cred, err := httpauth.Credentials(r, "Bearer", m2m.SchemeBearer)
		switch {
		case errors.Is(err, m2m.ErrNoCredentials):
			fmt.Println("no bearer credentials: try the next scheme")
		case err != nil:
			fmt.Println("refused:", m2m.ReasonOf(err))
		default:
			fmt.Println("token:", cred)
		}
	}
	// Output:
	// no bearer credentials: try the next scheme
	// no bearer credentials: try the next scheme
	// token: abc.def.ghi
	// refused: malformed
}

func ExampleHeaderCredentials() {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Token", "  k1-abc  ")
	cred, err := httpauth.HeaderCredentials(r, "X-Token", "", "apikey") // bare value
	fmt.Printf("%q %v\n", cred, err)
	// Output: "k1-abc" <nil>
}

func ExampleIsToken68() {
	fmt.Println(httpauth.IsToken68("dXNlcjpwYXNz"), httpauth.IsToken68("a=b"), httpauth.IsToken68(`kid="k1"`))
	// Output: true false false
}

func ExampleBearerChallenge() {
	fmt.Println(httpauth.BearerChallenge("api", nil))
	err := m2m.Invalid(m2m.SchemeBearer, m2m.ReasonExpired, "token expired")
	fmt.Println(httpauth.BearerChallenge("api", err))
	// Output:
	// Bearer realm="api"
	// Bearer realm="api", error="invalid_token", error_description="token expired"
}

func ExampleChallenge_String() {
	c := httpauth.Challenge{Scheme: "Basic", Params: []httpauth.Param{
		{Name: "realm", Value: `camera "admin"`},
		{Name: "charset", Value: "UTF-8"},
	}}
	fmt.Println(c)
	// Output: Basic realm="camera \"admin\"", charset="UTF-8"
}

func ExampleWriteRefusal() {
	w := httptest.NewRecorder()
	err := &m2m.CredentialError{Scheme: "basic", Reason: m2m.ReasonThrottled,
		Description: "too many failed attempts", RetryAfter: 30}
	httpauth.WriteRefusal(w, err, httpauth.Challenge{Scheme: "Basic", Params: []httpauth.Param{{Name: "realm", Value: "api"}}})
	fmt.Println(w.Code, w.Header().Get("Retry-After"), w.Header().Values("WWW-Authenticate"))
	fmt.Print(w.Body)

	w = httptest.NewRecorder()
	httpauth.WriteRefusal(w, m2m.ErrNoCredentials, httpauth.Challenge{Scheme: "Basic", Params: []httpauth.Param{{Name: "realm", Value: "api"}}})
	fmt.Println(w.Code, w.Header().Values("WWW-Authenticate"))
	fmt.Print(w.Body)
	// Output:
	// 429 30 []
	// {"error":"throttled","error_description":"too many failed attempts"}
	// 401 [Basic realm="api"]
	// {"error":"missing_credentials","error_description":"authentication required"}
}

func ExampleWriteJSON() {
	w := httptest.NewRecorder()
	httpauth.WriteJSON(w, http.StatusOK, map[string]string{"token": "…"})
	fmt.Println(w.Code, w.Header().Get("Content-Type"), w.Header().Get("Cache-Control"))
	// Output: 200 application/json no-store
}

func ExampleMiddleware_Optional() {
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{keyVerifier{"k1"}}}
	h := m.Optional(http.HandlerFunc(whoami))
	for _, auth := range []string{"", "Key k1", "Key wrong"} {
		r := httptest.NewRequest("GET", "/", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Body.String())
	}
	// Output:
	// 200 anonymous
	// 200 bot
	// 401 {"error":"bad_credentials","error_description":"unknown key"}
}

func ExampleMiddleware_Check() {
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{keyVerifier{"k1"}}}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Key k1")
	p, err := m.Check(r)
	fmt.Println(p.Subject, p.Scopes, err)
	// Output: bot [read] <nil>
}
