package jwtauth_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
)

// FuzzAccessTokens feeds arbitrary tokens, seeded with the Auth0 vector
// tokens, to an AccessTokens verifier with the vectors' JWKS. It must
// never panic nor fail technically, and whatever it accepts must carry a
// valid RS256 signature by the published key.
func FuzzAccessTokens(f *testing.F) {
	data, err := os.ReadFile("testdata/auth0.json")
	if err != nil {
		f.Fatal(err)
	}
	var top struct {
		JWKS    json.RawMessage `json:"jwks"`
		Vectors []struct {
			Input struct {
				Token *string `json:"token"`
			} `json:"input"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		f.Fatal(err)
	}
	for _, v := range top.Vectors {
		if v.Input.Token != nil {
			f.Add(*v.Input.Token)
		}
	}
	set, err := jwk.ParseSet(top.JWKS)
	if err != nil {
		f.Fatal(err)
	}
	at, err := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer: "https://example-tenant.us.auth0.com/", Audiences: []string{"https://api.example.com"},
		Algorithms: []string{"RS256", "ES256", "EdDSA"}, Keys: jwk.NewStaticKeySet(set), Profile: jwtauth.ProfileAuth0,
		Now: func() time.Time { return time.Unix(1700000060, 0) },
	})
	if err != nil {
		f.Fatal(err)
	}
	key := set.Keys()[0].Public
	f.Fuzz(func(t *testing.T, token string) {
		vt, err := at.VerifyToken(context.Background(), token)
		if err != nil {
			if m2m.ReasonOf(err) == "" {
				t.Fatalf("VerifyToken(%q) technical failure %v", token, err)
			}
			return
		}
		p, perr := jws.Parse(token, 0)
		if perr != nil || p.Verify(key) != nil || vt.Claims.ExpiresAt.IsZero() {
			t.Fatalf("VerifyToken(%q) accepted a token without a valid signature or exp", token)
		}
	})
}
