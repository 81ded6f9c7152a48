package federation_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/m2mkit/m2m/federation"
	"github.com/m2mkit/m2m/federation/federationtest"
)

// A CI job's OIDC token authenticates as the client "deployer" when it
// comes from the main branch of acme/app.
func ExampleVerifier_Verify() {
	issuer := federationtest.Start() // a stand-in for https://token.actions.githubusercontent.com
	defer issuer.Close()

	v, err := federation.New(federation.Config{
		Policies: federation.StaticPolicies{{
			Name:      "deploy-from-main",
			Issuer:    issuer.URL,
			Audiences: []string{"https://m2m.example.com"},
			Subject:   "repo:acme/app:ref:refs/heads/main",
			Claims:    map[string]string{"repository_owner_id": "4242"},
			ClientID:  "deployer",
		}},
		Client: issuer.HTTPClient(), // trusts the test issuer's certificate
	})
	if err != nil {
		panic(err)
	}
	token := issuer.Token(map[string]any{
		"aud":                 "https://m2m.example.com",
		"sub":                 "repo:acme/app:ref:refs/heads/main",
		"repository_owner_id": "4242",
	})
	m, err := v.Verify(context.Background(), token, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(m.ClientID, m.Subject)

	token = issuer.Token(map[string]any{
		"aud":                 "https://m2m.example.com",
		"sub":                 "repo:acme/app:ref:refs/heads/experiment",
		"repository_owner_id": "4242",
	})
	_, err = v.Verify(context.Background(), token, nil)
	var refusal *federation.Refusal
	if errors.As(err, &refusal) {
		fmt.Println("refused:", refusal.Policy, refusal.Rule)
	}
	// Output:
	// deployer repo:acme/app:ref:refs/heads/main
	// refused: deploy-from-main subject
}

// Explain says, for every policy, why a token was refused: what
// `m2m trust test` prints.
func ExampleVerifier_Explain() {
	issuer := federationtest.Start()
	defer issuer.Close()
	v, err := federation.New(federation.Config{
		Policies: federation.StaticPolicies{
			{Name: "api", Issuer: issuer.URL, JWKS: issuer.JWKS(), Audiences: []string{"m2m"},
				Subject: "system:serviceaccount:prod:api", ClientID: "api"},
			{Name: "gitlab", Issuer: "https://gitlab.com", Audiences: []string{"m2m"},
				Subject: "project_path:acme/*", ClientID: "ci"},
		},
	})
	if err != nil {
		panic(err)
	}
	token := issuer.Token(map[string]any{"aud": "m2m", "sub": "system:serviceaccount:dev:api"})
	r, err := v.Explain(context.Background(), token, nil)
	if err != nil {
		panic(err)
	}
	for _, p := range r.Policies {
		fmt.Println(p.Policy, p.Rule)
	}
	// Output:
	// api subject
	// gitlab issuer
}
