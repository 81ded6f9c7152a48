package console_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzRequests sends arbitrary methods, paths, forms and cookies to the
// console, signed in or not: it never panics and never fails with a 500.
func FuzzRequests(f *testing.F) {
	for _, seed := range []struct{ method, path, body string }{
		{"GET", "/console/clients", ""},
		{"POST", "/console/clients", "name=x&audience=https%3A%2F%2Fa.example&scopes=read"},
		{"POST", "/console/clients/%00/rotate-secret", "grace=1h"},
		{"POST", "/console/clients/x/quotas", "quota_hourly=99999999999999999999&quota_mode=enforce"},
		{"POST", "/console/trust", "name=%FF&issuer=x&max_ttl=-1s&single_use=on"},
		{"GET", "/console/audit?since=7d&before=-1&code=%00", ""},
		{"POST", "/console/signin", "token=%FF%FE"},
		{"GET", "/console/static/../console.go", ""},
	} {
		f.Add(seed.method, seed.path, seed.body, true)
		f.Add(seed.method, seed.path, seed.body, false)
	}
	fx := newFixture(f, nil)
	b := fx.signIn(testAdminToken)
	f.Fuzz(func(t *testing.T, method, path, body string, signedIn bool) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") || len(path) > 2048 {
			return
		}
		switch method {
		case "GET", "POST":
		default:
			return
		}
		if method == "POST" && signedIn {
			body += "&csrf=" + b.csrf
		}
		r, err := http.NewRequest(method, "http://console.test"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		r.RemoteAddr = "192.0.2.1:1"
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if signedIn {
			r.AddCookie(b.cookie)
		}
		w := httptest.NewRecorder()
		fx.handler.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Errorf("%s %s %q = %d:\n%s", method, path, body, w.Code, w.Body)
		}
	})
}
