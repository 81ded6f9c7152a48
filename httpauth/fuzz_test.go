package httpauth_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/m2mkit/m2m/httpauth"
)

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{"Bearer abc", "Basic dXNlcjpwYXNz", "TmpToken a:b:c", "bearer", " ", "Digest a=\"b\", c=d", "Rolling kid=\"k1\", code=\"abc\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		scheme, cred, ok := httpauth.ParseAuthorization(v)
		if !ok {
			return
		}
		if scheme == "" || strings.ContainsAny(scheme, " \t") {
			t.Fatalf("ParseAuthorization(%q) scheme = %q", v, scheme)
		}
		if !strings.Contains(v, cred) {
			t.Fatalf("credentials %q not in %q", cred, v)
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Authorization"] = []string{v}
		if _, err := httpauth.Credentials(r, scheme, "x"); err != nil && cred != "" && len(v) <= httpauth.MaxAuthorizationBytes {
			t.Fatalf("Credentials(%q) = %v", v, err)
		}
	})
}
