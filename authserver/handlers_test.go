package authserver_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/store"
)

// TestPublicAndAdminHandlers checks the split for a separate admin
// listener: the public handler serves the OAuth endpoints, JWKS, metadata
// and health but not the admin API or /metrics; the admin handler the
// reverse; Handler serves both.
func TestPublicAndAdminHandlers(t *testing.T) {
	const adminToken = "admin-token-for-tests"
	f := newFixture(t, func(cfg *authserver.Config, _ *store.Client) {
		cfg.AdminTokenHash = authserver.HashSecret(adminToken)
	})
	type route struct {
		method, path string
		admin        bool
	}
	routes := []route{
		{"GET", "/.well-known/jwks.json", false},
		{"GET", "/.well-known/oauth-authorization-server", false},
		{"GET", "/.well-known/openid-configuration", false},
		{"GET", "/healthz", false},
		{"POST", "/oauth/token", false},
		{"POST", "/oauth/introspect", false},
		{"GET", "/metrics", true},
		{"GET", "/admin/clients", true},
		{"POST", "/admin/keys/rotate", true},
	}
	handlers := []struct {
		name        string
		h           http.Handler
		public, adm bool
	}{
		{"PublicHandler", f.srv.PublicHandler(), true, false},
		{"AdminHandler", f.srv.AdminHandler(), false, true},
		{"Handler", f.srv.Handler(), true, true},
	}
	for _, hc := range handlers {
		for _, r := range routes {
			req := httptest.NewRequest(r.method, r.path, nil)
			if r.admin {
				req.Header.Set("Authorization", "Bearer wrong")
			}
			w := httptest.NewRecorder()
			hc.h.ServeHTTP(w, req)
			served := w.Code != http.StatusNotFound
			want := hc.public
			if r.admin {
				want = hc.adm
			}
			if served != want {
				t.Errorf("%s: %s %s = %d; want served %v", hc.name, r.method, r.path, w.Code, want)
			}
		}
	}
}
