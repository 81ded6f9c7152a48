package scoped

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/internal/vectors"
	"github.com/m2mkit/m2m/scoped/djangosign"
)

// vectorHeaders returns the Authorization headers and tokens of the
// vector file, and the decoded payloads of those tokens.
func vectorHeaders(tb testing.TB) (headers, payloads []string) {
	data, err := os.ReadFile("testdata/django_signing.json")
	if err != nil {
		tb.Fatal(err)
	}
	var f struct {
		Vectors []struct {
			Input map[string]json.RawMessage `json:"input"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		tb.Fatal(err)
	}
	for _, v := range f.Vectors {
		var s string
		if json.Unmarshal(v.Input["authorization_header"], &s) == nil {
			headers = append(headers, s)
		}
		if json.Unmarshal(v.Input["token"], &s) == nil {
			headers = append(headers, "TmpToken "+s)
		}
	}
	for _, h := range headers {
		if in, err := djangosign.Inspect(strings.TrimPrefix(h, "TmpToken ")); err == nil {
			payloads = append(payloads, string(in.Payload))
		}
	}
	return headers, payloads
}

// FuzzVerifyHeader feeds arbitrary Authorization headers and query
// strings to the verifier: no panic, and the three outcomes stay apart.
func FuzzVerifyHeader(f *testing.F) {
	headers, _ := vectorHeaders(f)
	for _, h := range headers {
		f.Add(h, "")
	}
	f.Add("", "TOKEN=a%3Ab&x=%zz;y")
	v := &Verifier{Secret: testSecret, LegacySHA1: true, Now: clockAt(t0 + 1)}
	f.Fuzz(func(t *testing.T, header, query string) {
		r := httptest.NewRequest("GET", "/api/v1/foo", nil)
		r.URL.RawQuery = query
		r.Header["Authorization"] = []string{header}
		p, err := v.Verify(r)
		var ce *m2m.CredentialError
		switch {
		case err == nil && (p == nil || p.Scheme != m2m.SchemeScoped):
			t.Fatalf("Verify = %+v, nil", p)
		case err != nil && p != nil:
			t.Fatalf("Verify = %+v, %v", p, err)
		case err != nil && !errors.Is(err, m2m.ErrNoCredentials) && !errors.As(err, &ce):
			t.Fatalf("Verify = %v: a technical error for a request", err)
		case ce != nil && strings.Contains(ce.Description, header) && len(header) > 20:
			t.Fatalf("description %q quotes the credential", ce.Description)
		}
	})
}

// FuzzVerifyPayload signs arbitrary payloads (so the checks after the
// signature run), optionally compressed, and verifies them in strict and
// drf-compatible modes against an arbitrary request.
func FuzzVerifyPayload(f *testing.F) {
	_, payloads := vectorHeaders(f)
	for _, p := range payloads {
		f.Add(p, false, "GET", "/api/v1/foo/1")
		f.Add(p, true, "POST", "/t%C3%A9st/x")
	}
	f.Add(`{"user":1,"max_age":"60","endpoints":{"GET":["/"]}}`, false, "GET", "/")
	f.Add(`{"user":[1],"max_age":1e999,"endpoints":{"GET":["/\ud800"]},"recipient":{"a":NaN}}`, true, "GET", "/")
	f.Add(`{"user":1,"max_age":60,"endpoints":{"GET":["/a","/a","/a","/a","/a","/a","/a","/a","/a","/a","/a","/a","/a","/a"]}}`, true, "HEAD", "/a/../b")
	signer := &djangosign.Signer{Key: testSecret, Now: clockAt(t0)}
	strict := &Verifier{Secret: testSecret, Now: clockAt(t0 + 1), HeadAsGet: true}
	compat := &Verifier{Secret: testSecret, Now: clockAt(t0 + 1), InsecureDRFCompat: true,
		LookupUser: func(_ context.Context, u any) (string, error) {
			if n, ok := u.(json.Number); ok && n == "1" {
				return "1", nil
			}
			return "", ErrUnknownUser
		}}
	f.Fuzz(func(t *testing.T, payload string, compress bool, method, path string) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		tok, err := signer.Sign([]byte(payload), compress)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.Method, r.URL.Path = method, path
		r.Header.Set("Authorization", "TmpToken "+tok)
		for _, v := range []*Verifier{strict, compat} {
			p, err := v.Verify(r)
			if err == nil && (p == nil || p.Scheme != m2m.SchemeScoped) {
				t.Fatalf("Verify = %+v, nil", p)
			}
			if err == nil && !grants(p, method, v.HeadAsGet) {
				t.Fatalf("accepted method %q, which the token %s does not grant", method, payload)
			}
			var ce *m2m.CredentialError
			if err != nil && v == strict && !errors.As(err, &ce) {
				t.Fatalf("strict Verify(%q) = %v; want a credential error", payload, err)
			}
			if err == nil && v == strict {
				tk := mustParse(t, strict, tok)
				if !strict.Allows(tk, method, path) || tk.MaxAge <= 0 || !p.ExpiresAt.After(tk.IssuedAt) {
					t.Fatalf("accepted %s %s: %+v", method, path, tk)
				}
			}
		}
	})
}

func mustParse(t testing.TB, v *Verifier, tok string) *Token {
	tk, err := v.ParseToken(context.Background(), tok)
	if err != nil {
		t.Fatalf("ParseToken after Verify succeeded: %v", err)
	}
	return tk
}

// grants reports whether one of p's endpoint scopes names method exactly
// (or GET, for HEAD when headAsGet).
func grants(p *m2m.Principal, method string, headAsGet bool) bool {
	for _, s := range p.Scopes {
		m, _, _ := strings.Cut(s, ":")
		if m == method || headAsGet && method == "HEAD" && m == "GET" {
			return true
		}
	}
	return false
}

// FuzzVerifyPath sends arbitrary methods and request targets, parsed as a
// net/http server parses them, with a token for a few prefixes. Whatever
// Verify accepts in strict mode, the handler must see within a grant: its
// method equals a granted one and r.URL.Path (the decoded path handlers
// read) lies under a granted prefix, decoded, on a segment boundary, with
// no "." or ".." segment. (Found: "/a%2520b" passed a grant for "/a b".)
func FuzzVerifyPath(f *testing.F) {
	for _, s := range []string{"/a%20b/x", "/a%2520b/x", "/api/v1/foo/1", "/api/v1/foo%2Fbar", "/api/v1/fo%6F/1",
		"/api/v1/foo/%2e%2e/x", "/t%C3%A9st/x", "/t%c3%a9st/x", "/x%25y", "/%zz", "/api/v1/foo?TOKEN=x", "*"} {
		f.Add("GET", s)
	}
	f.Add("get", "/api/v1/foo")
	f.Add("HEAD", "/a b")
	tok := signPayload(f, `{"user":1,"max_age":60,"endpoints":{"GET":["/a b","/api/v1/foo","/tést/","/x%y"],"HEAD":["/api/v1/foo"]}}`, t0)
	v := &Verifier{Secret: testSecret, Now: clockAt(t0)}
	t1 := mustParse(f, v, tok)
	f.Fuzz(func(t *testing.T, method, target string) {
		r, err := vectors.NewRequest(method, target, http.Header{"Authorization": {"TmpToken " + tok}}, nil)
		if err != nil {
			return // net/http answers 400
		}
		p, err := v.Verify(r)
		if err != nil {
			return
		}
		if p == nil || hasDotSegment(r.URL.Path) {
			t.Fatalf("Verify(%s %q) = %+v: accepted a dot segment", method, target, p)
		}
		for _, e := range t1.Endpoints {
			dp, err := url.PathUnescape(e.Prefix)
			if err == nil && e.Method == r.Method && strings.HasPrefix(r.URL.Path, dp) &&
				(len(r.URL.Path) == len(dp) || strings.HasSuffix(dp, "/") || r.URL.Path[len(dp)] == '/') {
				return
			}
		}
		t.Fatalf("Verify(%s %q) accepted; the handler sees %s %q, which no grant covers", method, target, r.Method, r.URL.Path)
	})
}

// FuzzParseEndpoint: whatever ParseEndpoint accepts (from --allow or an
// IssueHandler body) is one of the seven methods with a prefix beginning
// with "/", and reads back the same from its String.
func FuzzParseEndpoint(f *testing.F) {
	for _, s := range []string{"GET:/api", "get:/a:b", "POST:", "PATCH:x", "OPTIONS:/%zz", ":/", "GET", "DELETE:/a\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseEndpoint(s)
		if err != nil {
			return
		}
		if !validMethod(e.Method) || !strings.HasPrefix(e.Prefix, "/") {
			t.Fatalf("ParseEndpoint(%q) = %+v", s, e)
		}
		if e2, err := ParseEndpoint(e.String()); err != nil || e2 != e {
			t.Fatalf("ParseEndpoint(%q) = %+v, %v; want %+v", e.String(), e2, err, e)
		}
	})
}

// FuzzIssueHandler posts arbitrary bodies to an IssueHandler: no panic,
// and a token is issued only for endpoints the caller holds, no longer
// than the caller's credential lives.
func FuzzIssueHandler(f *testing.F) {
	for _, s := range []string{`{"endpoints":["GET:/api/v1/projects/7"],"max_age":300}`, `{"endpoints":["post:/api/v1/uploads/x"],"recipient":"r"}`,
		`{"endpoints":["GET:/api/v1/projects/%2e%2e/admin"]}`, `{"endpoints":["GET:/api/v1/projects/../x"]}`, `{"endpoints":[],"max_age":-1}`,
		`{"endpoints":["GET:/api/v1/projects/"],"max_age":9223372036854775807}`, `{"endpoints":null}`, `[`} {
		f.Add(s)
	}
	iss := &Issuer{Secret: testSecret, Now: clockAt(t0)}
	caller := &m2m.Principal{Subject: "42", Scheme: m2m.SchemeBearer, Scopes: []string{"GET:/api/v1/projects/", "*:/api/v1/uploads"},
		ExpiresAt: time.Unix(t0+600, 0)}
	h := &IssueHandler{Issuer: iss, Allowed: AllowByScopes}
	v := &Verifier{Secret: testSecret, Now: clockAt(t0)}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/tokens", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r = r.WithContext(m2m.NewContext(r.Context(), caller))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			return
		}
		var out IssueResponse
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("200 with body %s: %v", w.Body, err)
		}
		tk := mustParse(t, v, out.Token)
		if tk.ExpiresAt().After(caller.ExpiresAt) {
			t.Fatalf("token for %s expires at %v, after the caller's %v", body, tk.ExpiresAt(), caller.ExpiresAt)
		}
		for _, e := range tk.Endpoints {
			if !AllowByScopes(caller, e.Method, e.Prefix) {
				t.Fatalf("token for %s grants %s, which the caller does not hold", body, e)
			}
		}
	})
}
