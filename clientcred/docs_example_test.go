package clientcred_test

import (
	"context"
	"log"

	"github.com/m2mkit/m2m/clientcred"
)

// The README's client-credentials example: a client that gets tokens from
// m2m serve and calls an API with them. (Compiled, not run: it names a
// remote server.)
func Example_docsClient() {
	ctx := context.Background()

	c, err := clientcred.NewClient(clientcred.Config{
		Issuer:   "https://auth.example.com", // or Domain (Auth0), or TokenURL
		Audience: "https://api.example.com",
		Scopes:   []string{"invoices:read"},
	}) // the id and secret come from M2M_CLIENT_ID and M2M_CLIENT_SECRET
	if err != nil {
		log.Fatal(err)
	}
	resp, err := c.Get(ctx, "https://api.example.com/invoices")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
}

// docs/client-credentials.md: a client for an Auth0 tenant, and a request
// with a JSON body and a header. (Compiled, not run.)
func Example_docsAuth0() {
	ctx := context.Background()

	c, err := clientcred.NewClient(clientcred.Config{
		// Each field falls back to the environment when empty:
		// M2M_CLIENT_ID, M2M_CLIENT_SECRET, M2M_AUDIENCE, M2M_TOKEN_URL, M2M_ISSUER, M2M_DOMAIN.
		Audience: "https://api.example.com",
		Domain:   "example-tenant.us.auth0.com", // or TokenURL, or Issuer (RFC 8414 / OIDC discovery)
		Scopes:   []string{"read:messages"},
	})
	if err != nil {
		// errors.Is(err, clientcred.ErrMissingClientID / ErrMissingClientSecret / ErrMissingAudience)
		log.Fatal(err)
	}
	resp, err := c.Post(ctx, "https://api.example.com/messages",
		clientcred.JSON(map[string]string{"text": "hi"}), clientcred.Header("X-Request-Id", "42"))
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
}
