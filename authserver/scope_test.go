package authserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/store"
)

const testAdminToken = "admin-token-for-tests"

// newAdminFixture is newFixture with the admin API on.
func newAdminFixture(t testing.TB) *fixture {
	return newFixture(t, func(cfg *authserver.Config, _ *store.Client) {
		cfg.AdminTokenHash = authserver.HashSecret(testAdminToken)
	})
}

// admin sends an admin API request with the admin token.
func (f *fixture) admin(method, path, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+testAdminToken)
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, r)
	return w
}

// adminFields returns the fields named in a 400 answer of the admin API.
func adminFields(t testing.TB, w *httptest.ResponseRecorder) []string {
	t.Helper()
	var body struct {
		Error  string `json:"error"`
		Fields []struct {
			Field string `json:"field"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("%d %q is not JSON: %v", w.Code, w.Body, err)
	}
	var out []string
	for _, f := range body.Fields {
		out = append(out, f.Field)
	}
	return out
}

// TestScopeOneMeaning is issue 13 item 1: a scope string means the same
// thing wherever it enters. A scope with a no-break space can be neither
// given to a client through the admin API nor used from a record made by
// hand, and a token request's scope is split on ASCII spaces only.
func TestScopeOneMeaning(t *testing.T) {
	f := newAdminFixture(t)

	w := f.admin("POST", "/admin/clients", `{"name":"svc","audiences":["https://api.example.test"],"scopes":["read\u00a0admin"]}`)
	if w.Code != http.StatusBadRequest || strings.Join(adminFields(t, w), ",") != "scopes" {
		t.Errorf("admin create with scope read\\u00a0admin = %d %s; want 400 naming scopes", w.Code, w.Body)
	}

	// A record made by hand, behind the validation's back.
	hand := &store.Client{ID: "hand-made", Name: "hand", Audiences: []string{"https://api.example.test"},
		Scopes: []string{"read\u00a0admin", "read"}, SecretHash: authserver.HashSecret("s3cret"), SecretAlgorithm: authserver.SecretAlgorithmSHA256}
	if err := f.clients.CreateClient(context.Background(), hand); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		form   []string
		status int
	}{
		{"all the record's scopes", nil, http.StatusInternalServerError},
		{"a valid scope of the record", []string{"scope", "read"}, http.StatusInternalServerError},
		{"the part after the no-break space", []string{"scope", "admin"}, http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.post(f.creds(append([]string{"client_id", "hand-made", "client_secret", "s3cret"}, tt.form...)...))
			if resp := decodeResponse(t, w); w.Code != tt.status || resp.AccessToken != "" {
				t.Errorf("token for a record with scope read\\u00a0admin = %d %s; want %d and no token", w.Code, w.Body, tt.status)
			}
		})
	}

	for _, tt := range []struct {
		scope  string
		status int
		want   string
	}{
		{"read write", 200, "read write"},
		{"  read   read ", 200, "read"},
		{"", 200, "read write"},
		{"read\twrite", 400, ""},
		{"read\nwrite", 400, ""},
		{"read\u00a0write", 400, ""},
		{"read\u3000write", 400, ""},
	} {
		w := f.post(f.creds("scope", tt.scope))
		resp := decodeResponse(t, w)
		if w.Code != tt.status || resp.Scope != tt.want || tt.status == 400 && resp.Error != "invalid_scope" {
			t.Errorf("token request with scope %q = %d %s; want %d scope %q", tt.scope, w.Code, w.Body, tt.status, tt.want)
		}
	}
}

// TestAdminNoLockout: failed admin requests from one address (a NAT, a
// proxy) are slowed down, but never lock out the right admin token.
func TestAdminNoLockout(t *testing.T) {
	f := newAdminFixture(t)
	bad := func() int {
		r := httptest.NewRequest("GET", "/admin/clients", nil)
		r.Header.Set("Authorization", "Bearer wrong")
		w := httptest.NewRecorder()
		f.srv.ServeHTTP(w, r)
		return w.Code
	}
	throttled := 0
	for i := range 20 {
		switch got := bad(); got {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			throttled++
		default:
			t.Fatalf("bad admin token %d: %d; want 401 or 429", i, got)
		}
		if w := f.admin("GET", "/admin/clients", ""); w.Code != http.StatusOK {
			t.Fatalf("right admin token after %d failures from the same address: %d; want 200", i+1, w.Code)
		}
	}
	if throttled == 0 {
		t.Errorf("20 bad admin tokens were never answered 429")
	}
}
