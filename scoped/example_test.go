package scoped_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/scoped"
	"github.com/m2mkit/m2m/scoped/djangosign"
)

// The Django site's SECRET_KEY.
var secretKey = m2m.Secret("fn)t*+$)ugeyip6-#txyy$5wf2ervc0d2n#h)qb)y5@ly$t*@w")

func at(sec int64) func() time.Time { return func() time.Time { return time.Unix(sec, 0) } }

// Issue a token that a drf-tmp-scoped-token API accepts: GET under
// /api/v1/foo and POST under /api/v1/foo/bar/ for Django user 1, for six
// minutes.
func ExampleIssuer_Issue() {
	iss := &scoped.Issuer{Secret: secretKey, Now: at(1700000000)}
	tok, err := iss.Issue(scoped.Token{
		User:      1,
		MaxAge:    360 * time.Second,
		Endpoints: []scoped.Endpoint{{Method: "GET", Prefix: "/api/v1/foo"}, {Method: "POST", Prefix: "/api/v1/foo/bar/"}},
	})
	fmt.Println(tok, err)
	// Output: eyJ1c2VyIjoxLCJtYXhfYWdlIjozNjAsImVuZHBvaW50cyI6eyJHRVQiOlsiL2FwaS92MS9mb28iXSwiUE9TVCI6WyIvYXBpL3YxL2Zvby9iYXIvIl19fQ:1r31eq:TL9wiatFyMSxQUM3qIpiNgcqfDwcTtDH_QWc7uthy3k <nil>
}

// Encode writes exactly what drf's TokenManager.generate_token writes,
// without the Issuer's policy (here drf's own default max_age of 360 s,
// and SHA-1 for a site on Django 3.0 or older).
func ExampleEncode() {
	s := &djangosign.Signer{Key: secretKey, Algorithm: djangosign.SHA1, Now: at(1700000000)}
	tok, _ := scoped.Encode(s, &scoped.Token{User: 1, MaxAge: 360 * time.Second,
		Endpoints: []scoped.Endpoint{{Method: "GET", Prefix: "/api/v1/foo"}, {Method: "POST", Prefix: "/api/v1/foo/bar/"}}})
	fmt.Println(tok[strings.LastIndex(tok, ":")+1:])
	// Output: eIn46TMsHRMX5rPNHfhjB6lYAV4
}

// Accept tokens a Django service issued, in front of a Go API.
func ExampleVerifier() {
	v := &scoped.Verifier{
		Secret:     secretKey,
		LegacySHA1: true, // the Django site still runs 3.x
		Now:        at(1700000001),
	}
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{v}}
	api := m.Handler(scoped.ForwardRecipient(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := m2m.FromContext(r.Context())
		fmt.Fprintf(w, "user %s via %s for %q", p.Subject, p.Scheme, r.Header.Get(scoped.RecipientHeader))
	})))
	tok := "eyJ1c2VyIjo0MiwibWF4X2FnZSI6NjAsImVuZHBvaW50cyI6eyJHRVQiOlsiL2JhciIsIi9mb28iXX0sInJlY2lwaWVudCI6Im15LW5ldy1taWNyb3NlcnZpY2UifQ:1r31eq:JZiy9V-llgA2aEkve4VSNa6810EHzzYWswfHwcbQg44"
	for _, path := range []string{"/foo/x", "/foobar", "/secret"} {
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("Authorization", "TmpToken "+tok)
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
	}
	// Output:
	// 200 user 42 via scoped for "my-new-microservice"
	// 403 {"error":"forbidden","error_description":"Endpoint interaction not permitted by token"}
	// 403 {"error":"forbidden","error_description":"Endpoint interaction not permitted by token"}
}

// ParseToken checks a token without a request, e.g. in a CLI or a queue
// consumer.
func ExampleVerifier_ParseToken() {
	v := &scoped.Verifier{Secret: secretKey, Now: at(1700000361)}
	_, err := v.ParseToken(context.Background(), "eyJ1c2VyIjoxLCJtYXhfYWdlIjozNjAsImVuZHBvaW50cyI6eyJHRVQiOlsiL2FwaS92MS9mb28iXSwiUE9TVCI6WyIvYXBpL3YxL2Zvby9iYXIvIl19fQ:1r31eq:TL9wiatFyMSxQUM3qIpiNgcqfDwcTtDH_QWc7uthy3k")
	fmt.Println(m2m.ReasonOf(err), err)
	// Output: expired scoped: invalid credentials: expired: Token has expired
}

// Allows applies the verifier's matching rules to a parsed token.
func ExampleVerifier_Allows() {
	t := &scoped.Token{Endpoints: []scoped.Endpoint{{Method: "GET", Prefix: "/api/v1/foo"}}}
	strict, drf := &scoped.Verifier{}, &scoped.Verifier{PlainPrefix: true}
	fmt.Println(strict.Allows(t, "GET", "/api/v1/foo/1"), strict.Allows(t, "GET", "/api/v1/foobar"), drf.Allows(t, "GET", "/api/v1/foobar"))
	// Output: true false true
}

// An endpoint that hands out scoped tokens to callers authenticated by
// another scheme (here a stand-in verifier), never wider than what the
// caller may do itself.
func ExampleIssueHandler() {
	bearer := m2m.VerifierFunc(func(r *http.Request) (*m2m.Principal, error) {
		return &m2m.Principal{Subject: "42", Scheme: m2m.SchemeBearer, Scopes: []string{"GET:/api/v1/projects/"}}, nil
	})
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{bearer}}
	h := m.Handler(&scoped.IssueHandler{
		Issuer:  &scoped.Issuer{Secret: secretKey, Now: at(1700000000)},
		Allowed: scoped.AllowByScopes,
	})
	for _, body := range []string{
		`{"endpoints":["GET:/api/v1/projects/7/"],"max_age":300,"recipient":"thumbnailer"}`,
		`{"endpoints":["GET:/api/v1/"]}`,
	} {
		r := httptest.NewRequest("POST", "/scoped-tokens", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, strings.Contains(w.Body.String(), `"token":`), strings.Contains(w.Body.String(), `"refused":["GET:/api/v1/"]`))
	}
	// Output:
	// 200 true false
	// 403 false true
}

func ExampleAllowByScopes() {
	p := &m2m.Principal{Scopes: []string{"GET:/api/v1/projects", "*:/uploads/"}}
	fmt.Println(scoped.AllowByScopes(p, "GET", "/api/v1/projects/7"), scoped.AllowByScopes(p, "GET", "/api/v1/projectsX"),
		scoped.AllowByScopes(p, "PUT", "/uploads/a"), scoped.AllowByScopes(p, "PUT", "/api/v1/projects"))
	// Output: true false true false
}

// ForwardRecipient hands the token's recipient to handlers written for
// drf-tmp-scoped-token, in the X-API-Token-Recipient header.
func ExampleForwardRecipient() {
	h := scoped.ForwardRecipient(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("%q\n", r.Header.Get(scoped.RecipientHeader))
	}))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set(scoped.RecipientHeader, "spoofed by the client")
	p := &m2m.Principal{Scheme: m2m.SchemeScoped, Claims: map[string]any{"recipient": "billing"}}
	h.ServeHTTP(httptest.NewRecorder(), r.WithContext(m2m.NewContext(r.Context(), p)))
	h.ServeHTTP(httptest.NewRecorder(), r)
	// Output:
	// "billing"
	// ""
}

func ExampleParseEndpoint() {
	e, err := scoped.ParseEndpoint("get:/api/v1/projects/")
	fmt.Println(e, err)
	_, err = scoped.ParseEndpoint("TRACE:/")
	fmt.Println(err)
	// Output:
	// GET:/api/v1/projects/ <nil>
	// scoped: endpoint "TRACE:/": unsupported method
}

func ExampleUserFromString() {
	for _, u := range []string{"42", "svc-thumbs"} {
		v := scoped.UserFromString(u)
		fmt.Printf("%T %v\n", v, v)
	}
	// Output:
	// json.Number 42
	// string svc-thumbs
}

func ExampleIRIToURI() {
	fmt.Println(scoped.IRIToURI("/tést/a b"))
	// Output: /t%C3%A9st/a%20b
}

func ExampleMatchPrefix() {
	fmt.Println(scoped.MatchPrefix("/api/v1/foobar", "/api/v1/foo", false), scoped.MatchPrefix("/api/v1/foobar", "/api/v1/foo", true))
	// Output: false true
}

// The payload is signed, not encrypted: MarshalJSON shows what any holder
// of the token can read.
func ExampleToken_MarshalJSON() {
	rec := "thumbnailer"
	t := &scoped.Token{User: "svc-a", MaxAge: time.Minute, Endpoints: []scoped.Endpoint{{Method: "GET", Prefix: "/img/"}}, Recipient: &rec}
	b, _ := t.MarshalJSON()
	fmt.Println(string(b))
	// Output: {"user":"svc-a","max_age":60,"endpoints":{"GET":["/img/"]},"recipient":"thumbnailer"}
}

func ExampleToken_ExpiresAt() {
	t := &scoped.Token{IssuedAt: time.Unix(1700000000, 0).UTC(), MaxAge: 360 * time.Second}
	fmt.Println(t.ExpiresAt().Format(time.RFC3339))
	// Output: 2023-11-14T22:19:20Z
}

func ExampleEndpoint_String() {
	fmt.Println(scoped.Endpoint{Method: "POST", Prefix: "/uploads/"})
	// Output: POST:/uploads/
}

// Challenge names the keyword a client must use; httpauth.Middleware
// writes it to WWW-Authenticate.
func ExampleVerifier_Challenge() {
	fmt.Println(new(scoped.Verifier).Challenge(nil))
	fmt.Println((&scoped.Verifier{Keyword: "Token"}).Challenge(nil))
	// Output:
	// TmpToken
	// Token
}
