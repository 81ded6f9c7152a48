package authserver_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/store"
)

// TestMetadataHonest is issue 12 item 8: the metadata document (both
// well-known paths) advertises nothing the server does not do: no OpenID
// Connect fields, one grant type, the auth methods the endpoints accept,
// and endpoints that answer.
func TestMetadataHonest(t *testing.T) {
	f := newFixture(t, func(cfg *authserver.Config, _ *store.Client) { cfg.SigningAlgorithms = []string{"ES256"} })
	allowed := []string{
		"issuer", "token_endpoint", "jwks_uri", "grant_types_supported", "token_endpoint_auth_methods_supported",
		"token_endpoint_auth_signing_alg_values_supported",
		"response_types_supported", "access_token_signing_alg_values_supported",
		"introspection_endpoint", "introspection_endpoint_auth_methods_supported",
		"revocation_endpoint", "revocation_endpoint_auth_methods_supported",
	}
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		t.Run(path, func(t *testing.T) {
			w := httptest.NewRecorder()
			f.srv.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
			var doc map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
				t.Fatalf("GET %s = %d %q: %v", path, w.Code, w.Body, err)
			}
			for k := range doc {
				if !slices.Contains(allowed, k) || strings.HasPrefix(k, "id_token_") || strings.HasPrefix(k, "userinfo_") {
					t.Errorf("metadata advertises %q = %v, which the server does not do", k, doc[k])
				}
			}
			want := map[string]any{
				"grant_types_supported":                            []any{"client_credentials"},
				"token_endpoint_auth_methods_supported":            []any{"client_secret_basic", "client_secret_post", "private_key_jwt"},
				"token_endpoint_auth_signing_alg_values_supported": []any{"RS256", "PS256", "ES256", "ES384", "EdDSA"},
				"response_types_supported":                         []any{},
				"access_token_signing_alg_values_supported":        []any{"ES256"},
				"introspection_endpoint_auth_methods_supported":    []any{"client_secret_basic", "client_secret_post", "private_key_jwt"},
			}
			for k, v := range want {
				if !cmp.Equal(doc[k], v) {
					t.Errorf("metadata %s = %v; want %v", k, doc[k], v)
				}
			}
			// Every advertised endpoint answers on this server.
			for _, k := range []string{"token_endpoint", "jwks_uri", "introspection_endpoint", "revocation_endpoint"} {
				ep, ok := doc[k].(string)
				if !ok {
					continue
				}
				u, err := url.Parse(ep)
				if err != nil || !strings.HasPrefix(ep, testIssuer) {
					t.Errorf("%s = %q; want a URL under the issuer", k, ep)
					continue
				}
				method := http.MethodPost
				if k == "jwks_uri" {
					method = http.MethodGet
				}
				w := httptest.NewRecorder()
				f.srv.ServeHTTP(w, httptest.NewRequest(method, u.Path, nil))
				if w.Code == http.StatusNotFound || w.Code == http.StatusMethodNotAllowed {
					t.Errorf("%s %s (advertised as %s) = %d", method, u.Path, k, w.Code)
				}
			}
		})
	}
}
