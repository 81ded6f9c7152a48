package authserver_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/replay"
	"github.com/m2mkit/m2m/store"
)

// TestTokenRequireDPoP checks RFC 9449 section 5.2's
// dpop_bound_access_tokens: a client that requires DPoP gets a DPoP-bound
// token with a proof, and never a Bearer token: 400 invalid_dpop_proof
// without a proof, and 400 unauthorized_client on a server that does not
// accept DPoP at all.
func TestTokenRequireDPoP(t *testing.T) {
	tokenURL := testIssuer + "/oauth/token"
	for _, tc := range []struct {
		name      string
		serveDPoP bool
		require   bool
		proof     bool
		wantCode  int
		wantErr   string // error code, or "" for a token
		wantType  string
	}{
		{name: "required, with a proof", serveDPoP: true, require: true, proof: true, wantCode: http.StatusOK, wantType: "DPoP"},
		{name: "required, no proof", serveDPoP: true, require: true, wantCode: http.StatusBadRequest, wantErr: "invalid_dpop_proof"},
		{name: "required, server without DPoP", require: true, wantCode: http.StatusBadRequest, wantErr: "unauthorized_client"},
		{name: "required, server without DPoP, with a proof", require: true, proof: true, wantCode: http.StatusBadRequest, wantErr: "unauthorized_client"},
		{name: "optional, no proof", serveDPoP: true, wantCode: http.StatusOK, wantType: "Bearer"},
		{name: "optional, server without DPoP", wantCode: http.StatusOK, wantType: "Bearer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(cfg *authserver.Config, c *store.Client) {
				if tc.serveDPoP {
					cfg.DPoP = &jwtauth.DPoPVerifier{Replay: &replay.Memory{Now: cfg.Now}, Now: cfg.Now}
				}
				c.RequireDPoP = tc.require
			})
			var proofs []string
			if tc.proof {
				proofs = append(proofs, newDPoPClient(t).proof(t, "POST", tokenURL, f.clock.Now(), nil))
			}
			w := f.postDPoP(f.creds("audience", "https://api.example.test"), proofs...)
			tr := decodeResponse(t, w)
			if w.Code != tc.wantCode || tr.Error != tc.wantErr || tr.TokenType != tc.wantType {
				t.Fatalf("token request = %d %q; want %d error %q token_type %q", w.Code, w.Body, tc.wantCode, tc.wantErr, tc.wantType)
			}
			if tc.wantErr != "" && !strings.Contains(tr.ErrorDescription, "requires DPoP") {
				t.Errorf("error_description = %q; want it to say the client requires DPoP", tr.ErrorDescription)
			}
		})
	}
}

// TestClientInfoRequireDPoP checks that the admin API's
// dpop_bound_access_tokens maps to store.Client.RequireDPoP both ways and
// is left out of the JSON when false.
func TestClientInfoRequireDPoP(t *testing.T) {
	var j authserver.ClientInfo
	if err := json.Unmarshal([]byte(`{"client_id":"c1","name":"w","audiences":["a"],"scopes":[],"dpop_bound_access_tokens":true}`), &j); err != nil {
		t.Fatal(err)
	}
	c := j.Client()
	if !c.RequireDPoP {
		t.Errorf("ClientInfo{dpop_bound_access_tokens: true}.Client().RequireDPoP = false; want true")
	}
	for _, require := range []bool{true, false} {
		c.RequireDPoP = require
		b, err := json.Marshal(authserver.NewClientInfo(c, "", time.Unix(0, 0)))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(b), `"dpop_bound_access_tokens":true`); got != require {
			t.Errorf("NewClientInfo(RequireDPoP=%t) = %s; want dpop_bound_access_tokens %t", require, b, require)
		}
		if !require && strings.Contains(string(b), "dpop_bound_access_tokens") {
			t.Errorf("NewClientInfo(RequireDPoP=false) = %s; want no dpop_bound_access_tokens", b)
		}
	}
}
