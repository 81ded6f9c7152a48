package authserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/store"
)

type countingRotator struct{ n atomic.Int32 }

func (c *countingRotator) Rotate(context.Context) error { c.n.Add(1); return nil }

// revokingRotator also revokes keys; it knows the kid "k1" only.
type revokingRotator struct {
	countingRotator
	revoked []string
}

func (c *revokingRotator) Revoke(_ context.Context, kid string) error {
	if kid != "k1" {
		return fmt.Errorf("key %q: %w", kid, store.ErrNotFound)
	}
	c.revoked = append(c.revoked, kid)
	return nil
}

func TestAdminRevokeKey(t *testing.T) {
	const adminToken = "admin-token-for-tests"
	for _, tt := range []struct {
		name     string
		rotator  authserver.KeyRotator
		path     string
		token    string
		want     int
		wantKids []string
	}{
		{"revokes", &revokingRotator{}, "/admin/keys/k1/revoke", adminToken, 200, []string{"k1"}},
		{"unknown kid", &revokingRotator{}, "/admin/keys/k9/revoke", adminToken, 404, nil},
		{"no admin token", &revokingRotator{}, "/admin/keys/k1/revoke", "", 401, nil},
		{"rotator cannot revoke", &countingRotator{}, "/admin/keys/k1/revoke", adminToken, 501, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(cfg *authserver.Config, _ *store.Client) {
				cfg.AdminTokenHash = authserver.HashSecret(adminToken)
				cfg.KeyRotator = tt.rotator
			})
			r := httptest.NewRequest("POST", tt.path, nil)
			if tt.token != "" {
				r.Header.Set("Authorization", "Bearer "+tt.token)
			}
			w := httptest.NewRecorder()
			f.srv.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("POST %s = %d %s; want %d", tt.path, w.Code, w.Body, tt.want)
			}
			if rr, ok := tt.rotator.(*revokingRotator); ok && !slices.Equal(rr.revoked, tt.wantKids) {
				t.Errorf("revoked %v; want %v", rr.revoked, tt.wantKids)
			}
		})
	}
}

func TestAdminAPI(t *testing.T) {
	const adminToken = "admin-token-for-tests"
	rot := &countingRotator{}
	f := newFixture(t, func(cfg *authserver.Config, _ *store.Client) {
		cfg.AdminTokenHash = authserver.HashSecret(adminToken)
		cfg.KeyRotator = rot
	})
	do := func(method, path, token, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		f.srv.ServeHTTP(w, r)
		return w
	}
	info := func(w *httptest.ResponseRecorder) authserver.ClientInfo {
		var ci authserver.ClientInfo
		if err := json.Unmarshal(w.Body.Bytes(), &ci); err != nil {
			t.Fatalf("%d %s: %v", w.Code, w.Body, err)
		}
		return ci
	}

	// Refused without the right token.
	for _, tok := range []string{"", "wrong"} {
		if w := do("GET", "/admin/clients", tok, ""); w.Code != 401 || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("GET /admin/clients with token %q = %d %v; want 401 with a Bearer challenge", tok, w.Code, w.Header())
		}
	}

	// Create: the secret is in the answer and works at the token endpoint.
	w := do("POST", "/admin/clients", adminToken, `{"name":"svc","audiences":["https://api.example.test"],"scopes":["read"],"token_ttl_seconds":300}`)
	created := info(w)
	if w.Code != 201 || created.ClientSecret == "" || created.TokenTTLSeconds != 300 {
		t.Fatalf("create = %d %s; want 201 with a secret", w.Code, w.Body)
	}
	creds := f.creds("client_id", created.ClientID, "client_secret", created.ClientSecret)
	if w := f.post(creds); w.Code != 200 {
		t.Fatalf("token for the created client = %d %s", w.Code, w.Body)
	}
	for _, bad := range []string{`{"name":"x"}`, `{"audiences":["a"]}`, `{"name":"x","audiences":["a"],"client_secret":"mine"}`, `{"name":"x","audiences":["a"],"extra":1}`, `[`} {
		if w := do("POST", "/admin/clients", adminToken, bad); w.Code != 400 {
			t.Errorf("create %s = %d; want 400", bad, w.Code)
		}
	}
	if w := do("POST", "/admin/clients", adminToken, `{"client_id":"`+created.ClientID+`","name":"x","audiences":["a"]}`); w.Code != 409 {
		t.Errorf("create with an existing id = %d; want 409", w.Code)
	}

	// Show and list never carry a secret.
	for _, path := range []string{"/admin/clients/" + created.ClientID, "/admin/clients"} {
		if w := do("GET", path, adminToken, ""); w.Code != 200 || strings.Contains(w.Body.String(), "secret\":") || !strings.Contains(w.Body.String(), created.ClientID) {
			t.Errorf("GET %s = %d %s; want 200 with the client and no secret", path, w.Code, w.Body)
		}
	}

	// Disable applies at once (the cache entry is dropped), enable too.
	if w := do("POST", "/admin/clients/"+created.ClientID+"/disable", adminToken, ""); w.Code != 200 || !info(w).Disabled {
		t.Fatalf("disable = %d %s", w.Code, w.Body)
	}
	if w := f.post(creds); w.Code != 400 {
		t.Errorf("token right after disable = %d; want 400 unauthorized_client", w.Code)
	}
	do("POST", "/admin/clients/"+created.ClientID+"/enable", adminToken, "")

	// Rotate with no grace: the old secret stops at once.
	w = do("POST", "/admin/clients/"+created.ClientID+"/rotate-secret", adminToken, `{"grace_seconds":0}`)
	rotated := info(w)
	if w.Code != 200 || rotated.ClientSecret == "" || rotated.ClientSecret == created.ClientSecret {
		t.Fatalf("rotate-secret = %d %s", w.Code, w.Body)
	}
	if w := f.post(creds); w.Code != 401 {
		t.Errorf("old secret after rotate = %d; want 401", w.Code)
	}
	if w := f.post(f.creds("client_id", created.ClientID, "client_secret", rotated.ClientSecret)); w.Code != 200 {
		t.Errorf("new secret after rotate = %d %s; want 200", w.Code, w.Body)
	}

	// Delete, then it is gone.
	if w := do("DELETE", "/admin/clients/"+created.ClientID, adminToken, ""); w.Code != 200 {
		t.Errorf("delete = %d", w.Code)
	}
	if w := do("GET", "/admin/clients/"+created.ClientID, adminToken, ""); w.Code != 404 {
		t.Errorf("get after delete = %d; want 404", w.Code)
	}

	// Key rotation goes through the rotator and answers the JWKS.
	if w := do("POST", "/admin/keys/rotate", adminToken, ""); w.Code != 200 || rot.n.Load() != 1 || !strings.Contains(w.Body.String(), `"keys"`) {
		t.Errorf("keys/rotate = %d %s, rotations %d; want 200 JWKS, 1", w.Code, w.Body, rot.n.Load())
	}
}

func TestAdminAPIOff(t *testing.T) {
	f := newFixture(t, nil)
	r := httptest.NewRequest("GET", "/admin/clients", nil)
	r.Header.Set("Authorization", "Bearer anything")
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, r)
	if w.Code != http.StatusNotFound {
		t.Errorf("GET /admin/clients without an admin token configured = %d; want 404", w.Code)
	}
}
