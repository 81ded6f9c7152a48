package authserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/authserver/authservertest"
	"github.com/m2mkit/m2m/internal/jws/jwstest"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/store"
)

// lifecycle is a running token server with two clients, A and B, and a
// settable clock.
type lifecycle struct {
	srv               *authservertest.Server
	clock             *clock
	idA, secA         string
	idB, secB         string
	idAuth0, secAuth0 string
}

func newLifecycle(t testing.TB) *lifecycle {
	t.Helper()
	clk := &clock{t: time.Now()}
	srv := authservertest.NewServer(t, &authservertest.Options{Now: clk.Now})
	l := &lifecycle{srv: srv, clock: clk}
	l.idA, l.secA = srv.CreateClient(t, store.Client{Name: "a", Audiences: []string{"https://api.a"}, Scopes: []string{"read", "write"}})
	l.idB, l.secB = srv.CreateClient(t, store.Client{Name: "b", Audiences: []string{"https://api.b"}})
	l.idAuth0, l.secAuth0 = srv.CreateClient(t, store.Client{Name: "z", Audiences: []string{"https://api.z"}, Profile: string(jwtauth.ProfileAuth0)})
	return l
}

// call posts form to path with HTTP Basic credentials id:secret.
func (l *lifecycle) call(t testing.TB, path, id, secret string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, l.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("POST %s: body is not a JSON object: %v", path, err)
	}
	return resp.StatusCode, body
}

func (l *lifecycle) token(t testing.TB, id, secret string) string {
	t.Helper()
	code, body := l.call(t, "/oauth/token", id, secret, url.Values{"grant_type": {"client_credentials"}})
	if code != http.StatusOK {
		t.Fatalf("token for %s = %d %v; want 200", id, code, body)
	}
	return body["access_token"].(string)
}

func (l *lifecycle) introspect(t *testing.T, tok string) map[string]any {
	t.Helper()
	code, body := l.call(t, "/oauth/introspect", l.idB, l.secB, url.Values{"token": {tok}})
	if code != http.StatusOK {
		t.Fatalf("introspect = %d %v; want 200", code, body)
	}
	return body
}

func TestIntrospect(t *testing.T) {
	l := newLifecycle(t)
	other := newLifecycle(t) // another server: its tokens are foreign here
	tokA := l.token(t, l.idA, l.secA)
	tokZ := l.token(t, l.idAuth0, l.secAuth0)

	if authserver.IntrospectionCached(l.srv.Auth, tokA) {
		t.Fatal("a token is remembered as verified before any introspection")
	}
	body := l.introspect(t, tokA)
	if !authserver.IntrospectionCached(l.srv.Auth, tokA) {
		t.Error("an introspected token is not remembered as verified")
	}
	for k, want := range map[string]any{
		"active": true, "client_id": l.idA, "sub": l.idA, "aud": "https://api.a", "iss": l.srv.URL,
		"scope": "read write", "token_type": "Bearer",
	} {
		if body[k] != want {
			t.Errorf("introspect(A token)[%q] = %v; want %v", k, body[k], want)
		}
	}
	for _, k := range []string{"exp", "iat", "jti"} {
		if body[k] == nil {
			t.Errorf("introspect(A token) has no %q: %v", k, body)
		}
	}
	if exp, iat := body["exp"].(float64), body["iat"].(float64); exp-iat != authserver.DefaultTokenTTL.Seconds() {
		t.Errorf("introspect(A token) exp-iat = %v; want %v", exp-iat, authserver.DefaultTokenTTL.Seconds())
	}
	if body := l.introspect(t, tokZ); body["active"] != true || body["client_id"] != l.idAuth0 || body["sub"] != l.idAuth0+"@clients" {
		t.Errorf("introspect(auth0 token) = %v; want active, client_id %s", body, l.idAuth0)
	}

	foreign := other.token(t, other.idA, other.secA)
	parts := strings.Split(tokA, ".")
	tampered := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	for name, tok := range map[string]string{
		"foreign":   foreign,
		"malformed": "not-a-jwt",
		"tampered":  tampered,
		"huge":      strings.Repeat("a", authserver.MaxIntrospectedTokenBytes+1),
		"unsigned":  "eyJhbGciOiJub25lIiwia2lkIjoieCIsInR5cCI6ImF0K2p3dCJ9." + parts[1] + ".",
		// One token, one spelling: the same signed bytes spelled otherwise.
		"line break":  parts[0] + ".\n" + parts[1] + "." + parts[2],
		"high-S twin": jwstest.HighSTwin(t, tokA),
	} {
		t.Run(name, func(t *testing.T) {
			if body := l.introspect(t, tok); len(body) != 1 || body["active"] != false {
				t.Errorf("introspect(%s) = %v; want exactly {active: false}", name, body)
			}
			if authserver.IntrospectionCached(l.srv.Auth, tok) {
				t.Errorf("introspect(%s) remembered it as verified", name)
			}
		})
	}

	t.Run("expired", func(t *testing.T) {
		l := newLifecycle(t)
		tok := l.token(t, l.idA, l.secA)
		l.clock.Add(authserver.DefaultTokenTTL)
		if body := l.introspect(t, tok); body["active"] != false {
			t.Errorf("introspect(token at exp) = %v; want inactive", body)
		}
	})
	// A token introspected before is remembered as verified; the checks
	// that can change still run on every introspection.
	t.Run("cached then expired", func(t *testing.T) {
		l := newLifecycle(t)
		tok := l.token(t, l.idA, l.secA)
		if body := l.introspect(t, tok); body["active"] != true {
			t.Fatalf("introspect(token) = %v; want active", body)
		}
		l.clock.Add(authserver.DefaultTokenTTL)
		if body := l.introspect(t, tok); body["active"] != false {
			t.Errorf("introspect(cached token at exp) = %v; want inactive", body)
		}
	})
	t.Run("cached then revoked", func(t *testing.T) {
		l := newLifecycle(t)
		tok := l.token(t, l.idA, l.secA)
		if body := l.introspect(t, tok); body["active"] != true {
			t.Fatalf("introspect(token) = %v; want active", body)
		}
		if code, body := l.call(t, "/oauth/revoke", l.idA, l.secA, url.Values{"token": {tok}}); code != http.StatusOK {
			t.Fatalf("revoke = %d %v", code, body)
		}
		if body := l.introspect(t, tok); body["active"] != false {
			t.Errorf("introspect(cached token, revoked) = %v; want inactive", body)
		}
	})
	t.Run("client_revoked", func(t *testing.T) {
		l := newLifecycle(t)
		tok := l.token(t, l.idA, l.secA)
		keep := l.token(t, l.idB, l.secB)
		l.clock.Add(time.Second)
		if _, err := authserver.RevokeClientTokens(context.Background(), l.srv.Store, l.idA, l.clock.Now); err != nil {
			t.Fatal(err)
		}
		l.clock.Add(authserver.DefaultClientCacheTTL) // the client record is cached
		if body := l.introspect(t, tok); body["active"] != false {
			t.Errorf("introspect(token issued before RevokedBefore) = %v; want inactive", body)
		}
		if body := l.introspect(t, keep); body["active"] != true {
			t.Errorf("introspect(other client's token) = %v; want active", body)
		}
		l.clock.Add(time.Second)
		if body := l.introspect(t, l.token(t, l.idA, l.secA)); body["active"] != true {
			t.Errorf("introspect(token issued after RevokedBefore) = %v; want active", body)
		}
	})
	t.Run("deleted_client", func(t *testing.T) {
		l := newLifecycle(t)
		tok := l.token(t, l.idA, l.secA)
		if err := l.srv.Store.DeleteClient(context.Background(), l.idA); err != nil {
			t.Fatal(err)
		}
		l.clock.Add(authserver.DefaultClientCacheTTL)
		if body := l.introspect(t, tok); body["active"] != false {
			t.Errorf("introspect(token of a deleted client) = %v; want inactive", body)
		}
	})
}

func TestIntrospectRefused(t *testing.T) {
	l := newLifecycle(t)
	tok := l.token(t, l.idA, l.secA)
	for _, tc := range []struct {
		name, id, secret string
		form             url.Values
		status           int
		code             string
	}{
		{"no credentials", "", "", url.Values{"token": {tok}}, 401, "invalid_client"},
		{"wrong secret", l.idB, "nope", url.Values{"token": {tok}}, 401, "invalid_client"},
		{"unknown client", "who", l.secB, url.Values{"token": {tok}}, 401, "invalid_client"},
		{"no token", l.idB, l.secB, url.Values{}, 400, "invalid_request"},
		{"repeated token", l.idB, l.secB, url.Values{"token": {tok, tok}}, 400, "invalid_request"},
		{"body secret too", l.idB, l.secB, url.Values{"token": {tok}, "client_secret": {l.secB}}, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/oauth/introspect", "/oauth/revoke"} {
				code, body := l.call(t, path, tc.id, tc.secret, tc.form)
				if code != tc.status || body["error"] != tc.code {
					t.Errorf("POST %s = %d %v; want %d %s", path, code, body, tc.status, tc.code)
				}
			}
		})
	}
	t.Run("client_secret_post", func(t *testing.T) {
		code, body := l.call(t, "/oauth/introspect", "", "", url.Values{"token": {tok}, "client_id": {l.idB}, "client_secret": {l.secB}})
		if code != 200 || body["active"] != true {
			t.Errorf("introspect with client_secret_post = %d %v; want 200 active", code, body)
		}
	})
	t.Run("GET", func(t *testing.T) {
		resp, err := http.Get(l.srv.URL + "/oauth/introspect?token=" + tok)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Errorf("GET /oauth/introspect = %d Allow %q; want 405 POST", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})
	t.Run("JSON body", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, l.srv.URL+"/oauth/introspect", strings.NewReader(`{"token":"x"}`))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(l.idB, l.secB)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("introspect with a JSON body = %d; want 400", resp.StatusCode)
		}
	})
}

func TestRevoke(t *testing.T) {
	l := newLifecycle(t)
	tok := l.token(t, l.idA, l.secA)
	other := l.token(t, l.idA, l.secA)

	// Another client may not revoke A's token: refused, and it stays active.
	code, body := l.call(t, "/oauth/revoke", l.idB, l.secB, url.Values{"token": {tok}})
	if code != http.StatusBadRequest || body["error"] != "unauthorized_client" {
		t.Errorf("revoke(A's token) by B = %d %v; want 400 unauthorized_client", code, body)
	}
	if body := l.introspect(t, tok); body["active"] != true {
		t.Fatalf("after B's refused revocation introspect = %v; want active", body)
	}

	code, body = l.call(t, "/oauth/revoke", l.idA, l.secA, url.Values{"token": {tok}, "token_type_hint": {"access_token"}})
	if code != http.StatusOK || len(body) != 0 {
		t.Errorf("revoke(own token) = %d %v; want 200 {}", code, body)
	}
	if body := l.introspect(t, tok); body["active"] != false {
		t.Errorf("introspect(revoked token) = %v; want inactive", body)
	}
	if body := l.introspect(t, other); body["active"] != true {
		t.Errorf("introspect(another token of A) = %v; want active (revocation is per token)", body)
	}
	// The revocation is kept until the token's expiry.
	jti := l.introspect(t, other)["jti"].(string)
	if revoked, _ := l.srv.Store.IsRevoked(context.Background(), jti); revoked {
		t.Errorf("IsRevoked(unrevoked jti) = true; want false")
	}

	for name, tok := range map[string]string{"garbage": "garbage", "revoked again": tok, "unknown hint": other[:len(other)-2]} {
		code, body := l.call(t, "/oauth/revoke", l.idA, l.secA, url.Values{"token": {tok}, "token_type_hint": {"refresh_token"}})
		if code != http.StatusOK {
			t.Errorf("revoke(%s) = %d %v; want 200 (RFC 7009 2.2)", name, code, body)
		}
	}
}

func TestLifecycleMetadata(t *testing.T) {
	l := newLifecycle(t)
	resp, err := http.Get(l.srv.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"introspection_endpoint": l.srv.URL + "/oauth/introspect",
		"revocation_endpoint":    l.srv.URL + "/oauth/revoke",
		"token_endpoint":         l.srv.URL + "/oauth/token",
	} {
		if doc[k] != want {
			t.Errorf("metadata[%q] = %v; want %s", k, doc[k], want)
		}
	}
	if m, _ := doc["revocation_endpoint_auth_methods_supported"].([]any); len(m) != 3 {
		t.Errorf("metadata revocation_endpoint_auth_methods_supported = %v; want the token endpoint's three", m)
	}
}

// Without a Revocations store there is no revocation endpoint, and the
// metadata does not advertise one; introspection still works.
func TestNoRevocations(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		method, path string
		status       int
		absent       string
	}{
		{http.MethodPost, "/oauth/revoke", http.StatusNotFound, ""},
		{http.MethodGet, "/.well-known/oauth-authorization-server", http.StatusOK, "revocation_endpoint"},
	} {
		w := httptest.NewRecorder()
		f.srv.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
		if w.Code != tc.status || (tc.absent != "" && strings.Contains(w.Body.String(), tc.absent)) {
			t.Errorf("%s %s = %d %s; want %d without %q", tc.method, tc.path, w.Code, w.Body, tc.status, tc.absent)
		}
	}
	w := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/oauth/introspect", strings.NewReader("token=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(f.id, f.secret)
	f.srv.ServeHTTP(w, req)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"active":false`) {
		t.Errorf("introspect without Revocations = %d %s; want 200 inactive", w.Code, w.Body)
	}
}

func BenchmarkIntrospect(b *testing.B) {
	l := newLifecycle(b)
	tok := l.token(b, l.idA, l.secA)
	form := url.Values{"token": {tok}}.Encode()
	h := l.srv.Auth.Handler()
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/oauth/introspect", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(l.idB, l.secB)
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("introspect = %d", w.Code)
		}
	}
}

// FuzzIntrospect feeds arbitrary bodies and tokens to the introspection
// and revocation endpoints: never a panic, never a 5xx, and never active
// for anything but a token the server issued.
func FuzzIntrospect(f *testing.F) {
	l := newLifecycle(f)
	tok := l.token(f, l.idA, l.secA)
	f.Add("token=" + tok)
	f.Add("token=" + tok[:len(tok)-1])
	f.Add("token=a.b.c&token_type_hint=access_token")
	f.Add("token=eyJhbGciOiJub25lIn0.e30.")
	f.Add("token=%zz")
	f.Add("")
	h := l.srv.Auth.Handler()
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{"/oauth/introspect", "/oauth/revoke"} {
			w := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(l.idB, l.secB)
			h.ServeHTTP(w, req)
			if w.Code >= 500 {
				t.Fatalf("POST %s %q = %d %s", path, body, w.Code, w.Body)
			}
			if path == "/oauth/introspect" && strings.Contains(w.Body.String(), `"active":true`) {
				vals, _ := url.ParseQuery(body)
				if vals.Get("token") != tok {
					t.Fatalf("introspect(%q) is active", body)
				}
			}
		}
	})
}

// TestIntrospectRevokedKey: after the emergency revocation of the key that
// signed a token, introspection answers inactive for it at once, and
// tokens of the successor are active.
func TestIntrospectRevokedKey(t *testing.T) {
	l := newLifecycle(t)
	tok := l.token(t, l.idA, l.secA)
	if body := l.introspect(t, tok); body["active"] != true {
		t.Fatalf("introspect(token) = %v; want active", body)
	}
	kid := l.srv.Keyring.Keys()[0].ID
	if err := l.srv.Keyring.Revoke(t.Context(), kid); err != nil {
		t.Fatal(err)
	}
	if body := l.introspect(t, tok); len(body) != 1 || body["active"] != false {
		t.Errorf("introspect(token of a revoked key) = %v; want exactly {active: false}", body)
	}
	if body := l.introspect(t, l.token(t, l.idA, l.secA)); body["active"] != true {
		t.Errorf("introspect(token of the successor) = %v; want active", body)
	}
}
