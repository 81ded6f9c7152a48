package scoped

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/m2mkit/m2m"
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

func mustParse(t *testing.T, v *Verifier, tok string) *Token {
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
