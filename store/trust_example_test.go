package store_test

import (
	"fmt"

	"github.com/m2mkit/m2m/store"
)

// A policy that would accept every token of its issuer, with no audience
// and no client, is refused with one error per field.
func ExampleTrustPolicy_Validate() {
	p := &store.TrustPolicy{
		Name:    "ci-deploy",
		Issuer:  "https://token.actions.githubusercontent.com",
		Subject: "*",
	}
	for _, fe := range store.FieldErrors(p.Validate()) {
		fmt.Println(fe.Field)
	}
	p.Subject = "repo:acme/app:ref:refs/heads/main"
	p.Audiences = []string{"https://auth.example"}
	p.ClientID = "deployer"
	fmt.Println(p.Validate())
	// Output:
	// audiences
	// subject
	// client_id
	// <nil>
}
