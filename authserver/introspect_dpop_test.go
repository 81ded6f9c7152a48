package authserver_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/replay"
	"github.com/m2mkit/m2m/store"
)

// TestIntrospectDPoP checks RFC 9449 section 6.2: the introspection of a
// DPoP-bound token answers token_type DPoP and its cnf.jkt, so that a
// resource server that introspects can check the proof key; a Bearer
// token has no cnf and token_type Bearer. Both token profiles.
func TestIntrospectDPoP(t *testing.T) {
	tokenURL := testIssuer + "/oauth/token"
	for _, profile := range []string{"", string(jwtauth.ProfileAuth0)} {
		f := newFixture(t, func(cfg *authserver.Config, c *store.Client) {
			cfg.DPoP = &jwtauth.DPoPVerifier{Replay: &replay.Memory{Now: cfg.Now}, Now: cfg.Now}
			c.Profile = profile
		})
		dc := newDPoPClient(t)
		for _, tc := range []struct {
			name     string
			proof    bool
			wantType string
			wantJKT  string // "" for no cnf
		}{
			{name: "DPoP-bound", proof: true, wantType: "DPoP", wantJKT: dc.pub.Thumbprint},
			{name: "Bearer", wantType: "Bearer"},
		} {
			t.Run(profile+"/"+tc.name, func(t *testing.T) {
				var proofs []string
				if tc.proof {
					proofs = append(proofs, dc.proof(t, "POST", tokenURL, f.clock.Now(), nil))
				}
				w := f.postDPoP(f.creds("audience", "https://api.example.test"), proofs...)
				tr := decodeResponse(t, w)
				if w.Code != http.StatusOK || tr.TokenType != tc.wantType {
					t.Fatalf("token request = %d %q; want 200 token_type %s", w.Code, w.Body, tc.wantType)
				}
				form := url.Values{"token": {tr.AccessToken}, "client_id": {f.id}, "client_secret": {f.secret}}
				r := httptest.NewRequest(http.MethodPost, "/oauth/introspect", strings.NewReader(form.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				iw := httptest.NewRecorder()
				f.srv.ServeHTTP(iw, r)
				var body struct {
					Active    bool           `json:"active"`
					TokenType string         `json:"token_type"`
					Cnf       map[string]any `json:"cnf"`
				}
				if err := json.Unmarshal(iw.Body.Bytes(), &body); err != nil || iw.Code != http.StatusOK || !body.Active {
					t.Fatalf("introspect = %d %s; want 200 active", iw.Code, iw.Body)
				}
				if body.TokenType != tc.wantType {
					t.Errorf("introspect token_type = %q; want %q (%s)", body.TokenType, tc.wantType, iw.Body)
				}
				switch {
				case tc.wantJKT == "" && body.Cnf != nil:
					t.Errorf("introspect cnf = %v; want none for a Bearer token", body.Cnf)
				case tc.wantJKT != "" && body.Cnf["jkt"] != tc.wantJKT:
					t.Errorf("introspect cnf = %v; want jkt %s", body.Cnf, tc.wantJKT)
				}
			})
		}
	}
}
