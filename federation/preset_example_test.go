package federation_test

import (
	"fmt"

	"github.com/m2mkit/m2m/federation"
)

// A GitHub Actions job of acme/app on main, from an owner whose numeric
// id is 4242: the preset fills the issuer, the subject and the claim
// condition; the caller adds the name, audience and client.
func ExamplePreset() {
	p, err := federation.Preset("github-actions", federation.PresetArgs{
		Repository: "acme/app", Branch: "main", RepositoryOwnerID: "4242",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Issuer)
	fmt.Println(p.Subject)
	fmt.Println(p.Claims)
	// Output:
	// https://token.actions.githubusercontent.com
	// repo:acme/app:ref:refs/heads/main
	// map[repository_owner_id:4242]
}
