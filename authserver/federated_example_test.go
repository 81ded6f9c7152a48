package authserver_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/federation"
	"github.com/m2mkit/m2m/federation/federationtest"
	"github.com/m2mkit/m2m/keyring"
	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/memstore"
)

// A CI job exchanges its OIDC identity token for an access token of the
// client a trust policy maps it to (RFC 8693 token exchange); no secret
// exists anywhere. The issued token names the job in its act claim.
func ExampleConfig_federation() {
	ctx := context.Background()
	ci := federationtest.Start() // stands in for https://token.actions.githubusercontent.com
	defer ci.Close()

	st := memstore.New()
	deployer := &store.Client{ID: "deployer", Name: "deployer", Audiences: []string{"https://api.example.com"}, Scopes: []string{"deploy"}}
	if _, err := authserver.CreateClient(ctx, st, deployer, nil); err != nil {
		log.Fatal(err)
	}
	policy := &store.TrustPolicy{Name: "acme-app-main", Issuer: ci.URL, Audiences: []string{"https://auth.example.com"},
		Subject: "repo:acme/app:ref:refs/heads/main", ClientID: "deployer"}
	if err := st.CreateTrustPolicy(ctx, policy); err != nil {
		log.Fatal(err)
	}
	fed, err := federation.New(federation.Config{Policies: st, Clients: st, Client: ci.HTTPClient()})
	if err != nil {
		log.Fatal(err)
	}
	kr, err := keyring.New(ctx, keyring.Config{Store: st, Master: []byte(strings.Repeat("m", 32))})
	if err != nil {
		log.Fatal(err)
	}
	var handler http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	defer ts.Close()
	as, err := authserver.New(authserver.Config{Issuer: ts.URL, Clients: st, Signer: kr, Federation: fed})
	if err != nil {
		log.Fatal(err)
	}
	handler = as.Handler()

	jobToken := ci.Token(map[string]any{"aud": "https://auth.example.com", "sub": "repo:acme/app:ref:refs/heads/main"})
	resp, err := http.PostForm(ts.URL+"/oauth/token", url.Values{
		"grant_type":         {authserver.GrantTypeTokenExchange},
		"subject_token":      {jobToken},
		"subject_token_type": {authserver.TokenTypeJWT},
		"audience":           {"https://api.example.com"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken     string `json:"access_token"`
		IssuedTokenType string `json:"issued_token_type"`
		Scope           string `json:"scope"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		log.Fatal(err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(out.AccessToken, ".")[1])
	var claims struct {
		Sub string `json:"sub"`
		Act struct {
			Sub string `json:"sub"`
		} `json:"act"`
	}
	json.Unmarshal(payload, &claims)
	fmt.Println(resp.StatusCode, out.IssuedTokenType, out.Scope)
	fmt.Println("sub:", claims.Sub, "act.sub:", claims.Act.Sub)
	// Output:
	// 200 urn:ietf:params:oauth:token-type:access_token deploy
	// sub: deployer act.sub: repo:acme/app:ref:refs/heads/main
}
