package scoped_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/scoped"
)

// The README's scoped-token example, run: a token issued as
// drf-tmp-scoped-token issues it, and accepted as its TokenAuth accepts it.
func Example_docsScoped() {
	djangoSecretKey := "django-insecure-an-example-secret-key"
	r := httptest.NewRequest("GET", "/api/v1/projects/7/", nil)

	iss := &scoped.Issuer{Secret: m2m.Secret(djangoSecretKey)}
	tok, err := iss.Issue(scoped.Token{
		User:      42,
		MaxAge:    5 * time.Minute,
		Endpoints: []scoped.Endpoint{{Method: "GET", Prefix: "/api/v1/projects/"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	v := &scoped.Verifier{Secret: m2m.Secret(djangoSecretKey)} // as drf's TokenAuth
	r.Header.Set("Authorization", "TmpToken "+tok)
	p, err := v.Verify(r) // p.Subject "42", p.Scopes ["GET:/api/v1/projects/"]

	fmt.Println(p.Subject, p.Scopes, err)
	// Output: 42 [GET:/api/v1/projects/] <nil>
}

// docs/scoped.md and docs/migrating.md: a Go API accepting tokens a Django
// service issued. (Compiled, not run.)
func Example_docsAcceptDjango() {
	var users interface {
		Exists(ctx context.Context, id string) bool
	}
	mux := http.NewServeMux()
	api := http.NotFoundHandler()

	v := &scoped.Verifier{
		Secret:     m2m.Secret(os.Getenv("DJANGO_SECRET_KEY")),
		LegacySHA1: true, // the Django side is 3.1/3.2 and may still sign SHA-1
		LookupUser: func(ctx context.Context, user any) (string, error) {
			id, ok := user.(json.Number) // drf writes user.id
			if !ok || !users.Exists(ctx, id.String()) {
				return "", scoped.ErrUnknownUser // 401 "No such user"
			}
			return id.String(), nil
		},
	}
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{v}}
	mux.Handle("/api/", m.Handler(scoped.ForwardRecipient(api)))
	// In api: p, _ := m2m.FromContext(r.Context()); p.Subject is the user,
	// p.Scopes the "METHOD:PREFIX" grants, p.Claims["recipient"] the recipient.

	// docs/scoped.md: narrower tokens for authenticated callers.
	iss := &scoped.Issuer{Secret: m2m.Secret(os.Getenv("DJANGO_SECRET_KEY"))}
	mux.Handle("POST /scoped-tokens", m.Handler(&scoped.IssueHandler{Issuer: iss, Allowed: scoped.AllowByScopes}))
}

// docs/scoped.md and docs/migrating.md: a token a Django service accepts.
func Example_docsIssue() {
	djangoSecretKey := "django-insecure-an-example-secret-key"

	iss := &scoped.Issuer{Secret: m2m.Secret(djangoSecretKey)} // SHA-256, salt "django.core.signing"
	rec := "thumbnailer"
	tok, err := iss.Issue(scoped.Token{
		User:      42, // a Django user id; a string is written as a string
		MaxAge:    5 * time.Minute,
		Endpoints: []scoped.Endpoint{{Method: "GET", Prefix: "/api/v1/projects/"}},
		Recipient: &rec,
	})

	p, err2 := (&scoped.Verifier{Secret: m2m.Secret(djangoSecretKey)}).Verify(httptest.NewRequest("GET", "/api/v1/projects/7/?TOKEN="+tok, nil))
	fmt.Println(err, err2, p.Claims["recipient"])
	// Output: <nil> <nil> thumbnailer
}
