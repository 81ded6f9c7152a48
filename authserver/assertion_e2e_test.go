package authserver_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// pkjwtFixture is the admin fixture with two private_key_jwt clients
// registered through the admin API: "es" (an ES256 key by value) and
// "rs" (an RS256 key at a loopback jwks_uri).
type pkjwtFixture struct {
	*fixture
	es, rs clientKey
}

func newPKJWTFixture(t *testing.T) *pkjwtFixture {
	t.Helper()
	f := &pkjwtFixture{fixture: newAdminFixture(t), es: newClientKey(t, "ES256", "es-1"), rs: newClientKey(t, "RS256", "rs-1")}
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(jwksOf(t, f.rs))
	}))
	t.Cleanup(jwks.Close)
	for _, body := range []string{
		`{"client_id":"es","name":"es","audiences":["https://api.example.test"],"scopes":["read"],
		  "token_endpoint_auth_method":"private_key_jwt","jwks":` + string(jwksOf(t, f.es)) + `}`,
		`{"client_id":"rs","name":"rs","audiences":["https://api.example.test"],"scopes":["read"],
		  "token_endpoint_auth_method":"private_key_jwt","jwks_uri":"` + jwks.URL + `/jwks.json"}`,
	} {
		w := f.admin(http.MethodPost, "/admin/clients", body)
		if w.Code != http.StatusCreated {
			t.Fatalf("POST /admin/clients = %d %s", w.Code, w.Body)
		}
		var info map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &info); err != nil {
			t.Fatal(err)
		}
		if info["client_secret"] != nil || info["token_endpoint_auth_method"] != "private_key_jwt" {
			t.Errorf("POST /admin/clients = %s; want private_key_jwt and no client_secret", w.Body)
		}
	}
	return f
}

// assertion returns a fresh assertion of client id signed with k, for the
// server's token endpoint at the fixture's time.
func (f *pkjwtFixture) assertion(t *testing.T, k clientKey, id string, mod func(map[string]any)) string {
	t.Helper()
	now := f.clock.Now()
	c := map[string]any{
		"iss": id, "sub": id, "aud": testIssuer + "/oauth/token",
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "jti-" + now.String() + "-" + time.Now().String(),
	}
	if mod != nil {
		mod(c)
	}
	return k.sign(t, "", c)
}

func assertionForm(assertion string, extra ...string) url.Values {
	v := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion": {assertion}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

// TestPrivateKeyJWTEndToEnd gets a token with an assertion signed by a
// key made in the test, ES256 (key set by value) and RS256 (key set at a
// jwks_uri), and checks the token names the client.
func TestPrivateKeyJWTEndToEnd(t *testing.T) {
	f := newPKJWTFixture(t)
	for _, tt := range []struct {
		name string
		key  clientKey
		id   string
		form func(string) url.Values
	}{
		{"ES256", f.es, "es", func(a string) url.Values { return assertionForm(a) }},
		{"ES256 with client_id", f.es, "es", func(a string) url.Values { return assertionForm(a, "client_id", "es") }},
		{"RS256 from the jwks_uri", f.rs, "rs", func(a string) url.Values { return assertionForm(a, "scope", "read") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := f.post(tt.form(f.assertion(t, tt.key, tt.id, nil)))
			if w.Code != http.StatusOK {
				t.Fatalf("POST /oauth/token = %d %s; want 200", w.Code, w.Body)
			}
			resp := decodeResponse(t, w)
			_, claims := f.signer.verify(t, resp.AccessToken)
			if claims["client_id"] != tt.id && claims["sub"] != tt.id {
				t.Errorf("token claims = %v; want client %s", claims, tt.id)
			}
		})
	}
	t.Run("metadata", func(t *testing.T) {
		w := httptest.NewRecorder()
		f.srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/.well-known/oauth-authorization-server", nil))
		var doc struct {
			Methods []string `json:"token_endpoint_auth_methods_supported"`
			Algs    []string `json:"token_endpoint_auth_signing_alg_values_supported"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(doc.Methods, " "), "private_key_jwt") || strings.Contains(strings.Join(doc.Algs, " "), "HS") || len(doc.Algs) == 0 {
			t.Errorf("metadata = %s; want private_key_jwt and asymmetric algorithms only", w.Body)
		}
	})
}

// TestPrivateKeyJWTRefused checks the refusals of the token endpoint: the
// caller sees invalid_request for a request that mixes methods and
// invalid_client for every failed authentication.
func TestPrivateKeyJWTRefused(t *testing.T) {
	f := newPKJWTFixture(t)
	replayed := f.assertion(t, f.es, "es", nil)
	if w := f.post(assertionForm(replayed)); w.Code != http.StatusOK {
		t.Fatalf("first use = %d %s", w.Code, w.Body)
	}
	basicOnly := f.admin(http.MethodPost, "/admin/clients", `{"client_id":"basic-only","name":"b","audiences":["https://api.example.test"],"token_endpoint_auth_method":"client_secret_basic"}`)
	if basicOnly.Code != http.StatusCreated {
		t.Fatalf("POST /admin/clients basic-only = %d %s", basicOnly.Code, basicOnly.Body)
	}
	var bo struct {
		Secret string `json:"client_secret"`
	}
	json.Unmarshal(basicOnly.Body.Bytes(), &bo)

	for _, tt := range []struct {
		name   string
		form   func(t *testing.T) url.Values
		basic  [2]string
		status int
		code   string
	}{
		{"assertion and client_secret", func(t *testing.T) url.Values {
			return assertionForm(f.assertion(t, f.es, "es", nil), "client_secret", "x")
		}, [2]string{}, 400, "invalid_request"},
		{"assertion and HTTP Basic", func(t *testing.T) url.Values {
			return assertionForm(f.assertion(t, f.es, "es", nil))
		}, [2]string{f.id, f.secret}, 400, "invalid_request"},
		{"assertion without its type", func(t *testing.T) url.Values {
			v := assertionForm(f.assertion(t, f.es, "es", nil))
			v.Del("client_assertion_type")
			return v
		}, [2]string{}, 400, "invalid_request"},
		{"client_id other than iss", func(t *testing.T) url.Values {
			return assertionForm(f.assertion(t, f.es, "es", nil), "client_id", "rs")
		}, [2]string{}, 401, "invalid_client"},
		{"replayed", func(*testing.T) url.Values { return assertionForm(replayed) }, [2]string{}, 401, "invalid_client"},
		{"expired", func(t *testing.T) url.Values {
			return assertionForm(f.assertion(t, f.es, "es", func(c map[string]any) { c["exp"] = f.clock.Now().Add(-time.Hour).Unix() }))
		}, [2]string{}, 401, "invalid_client"},
		{"wrong aud", func(t *testing.T) url.Values {
			return assertionForm(f.assertion(t, f.es, "es", func(c map[string]any) { c["aud"] = "https://other.example/oauth/token" }))
		}, [2]string{}, 401, "invalid_client"},
		{"another client's key", func(t *testing.T) url.Values {
			return assertionForm(f.assertion(t, f.rs, "es", nil))
		}, [2]string{}, 401, "invalid_client"},
		{"secret client with an assertion", func(t *testing.T) url.Values {
			return assertionForm(f.assertion(t, f.es, f.id, nil))
		}, [2]string{}, 401, "invalid_client"},
		{"private_key_jwt client with a secret", func(*testing.T) url.Values {
			return url.Values{"grant_type": {"client_credentials"}, "client_id": {"es"}, "client_secret": {"anything"}}
		}, [2]string{}, 401, "invalid_client"},
		{"client_secret_basic client with client_secret_post", func(*testing.T) url.Values {
			return url.Values{"grant_type": {"client_credentials"}, "client_id": {"basic-only"}, "client_secret": {bo.Secret}}
		}, [2]string{}, 401, "invalid_client"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(tt.form(t).Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.basic[0] != "" {
				r.SetBasicAuth(tt.basic[0], tt.basic[1])
			}
			w := httptest.NewRecorder()
			f.srv.ServeHTTP(w, r)
			resp := decodeResponse(t, w)
			if w.Code != tt.status || resp.Error != tt.code {
				t.Errorf("POST /oauth/token (%s) = %d %s; want %d %s", tt.name, w.Code, w.Body, tt.status, tt.code)
			}
			if resp.AccessToken != "" {
				t.Errorf("POST /oauth/token (%s) issued a token", tt.name)
			}
			if tt.code == "invalid_client" && resp.ErrorDescription != "client authentication failed" {
				t.Errorf("error_description = %q; want the fixed \"client authentication failed\" (detail only in the log)", resp.ErrorDescription)
			}
		})
	}
	// The basic-only client still works with HTTP Basic.
	r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader("grant_type=client_credentials"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth("basic-only", bo.Secret)
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Errorf("basic-only client with HTTP Basic = %d %s; want 200", w.Code, w.Body)
	}
}

// TestAdminPrivateKeyJWTValidation checks that the admin API refuses a
// private_key_jwt client with a private key or an http jwks_uri, naming
// the field.
func TestAdminPrivateKeyJWTValidation(t *testing.T) {
	f := newAdminFixture(t)
	for _, tt := range []struct {
		name, extra, field string
	}{
		{"private key", `"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}]}`, "jwks"},
		{"http jwks_uri", `"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"http://client.example/jwks"`, "jwks_uri"},
		{"no keys", `"token_endpoint_auth_method":"private_key_jwt"`, "jwks"},
		{"unknown method", `"token_endpoint_auth_method":"client_secret_jwt"`, "token_endpoint_auth_method"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := f.admin(http.MethodPost, "/admin/clients", `{"name":"n","audiences":["https://api.example.test"],`+tt.extra+`}`)
			if w.Code != http.StatusBadRequest {
				t.Fatalf("POST /admin/clients (%s) = %d %s; want 400", tt.name, w.Code, w.Body)
			}
			if got := adminFields(t, w); !strings.Contains(strings.Join(got, " "), tt.field) {
				t.Errorf("fields = %v; want %s", got, tt.field)
			}
		})
	}
}

// TestPrivateKeyJWTIntrospection has a private_key_jwt client introspect
// its own token with an assertion whose aud is the issuer, and checks
// that a secret cannot stand in for one there either.
func TestPrivateKeyJWTIntrospection(t *testing.T) {
	f := newPKJWTFixture(t)
	w := f.post(assertionForm(f.assertion(t, f.es, "es", nil)))
	if w.Code != http.StatusOK {
		t.Fatalf("POST /oauth/token = %d %s", w.Code, w.Body)
	}
	tok := decodeResponse(t, w).AccessToken
	introspect := func(form url.Values) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/oauth/introspect", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		f.srv.ServeHTTP(w, r)
		return w
	}
	form := assertionForm(f.assertion(t, f.es, "es", func(c map[string]any) { c["aud"] = testIssuer }), "token", tok)
	form.Del("grant_type")
	w = introspect(form)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"active":true`) {
		t.Errorf("POST /oauth/introspect with an assertion = %d %s; want 200 active", w.Code, w.Body)
	}
	w = introspect(form) // the same assertion again
	if w.Code != http.StatusUnauthorized {
		t.Errorf("POST /oauth/introspect with a replayed assertion = %d %s; want 401", w.Code, w.Body)
	}
	w = introspect(url.Values{"token": {tok}, "client_id": {"es"}, "client_secret": {"guess"}})
	if w.Code != http.StatusUnauthorized {
		t.Errorf("POST /oauth/introspect with a secret for a private_key_jwt client = %d %s; want 401", w.Code, w.Body)
	}
}
