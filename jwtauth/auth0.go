package jwtauth

import (
	"fmt"
	"strings"

	"github.com/m2mkit/m2m/jwk"
)

// NewAuth0 returns a verifier for the access tokens of an Auth0 API:
// audience is the API identifier and domain the tenant's domain (such as
// "example-tenant.us.auth0.com"). It is the one-line setup of Auth0's API
// quickstart, with its mistakes fixed: keys come from
// https://DOMAIN/.well-known/jwks.json through a cached [jwk.RemoteKeySet],
// the issuer must be exactly https://DOMAIN/, only RS256 is accepted, exp
// and aud are required, exp == now is expired and a future iat is refused
// (PyJWT's rules), and a token without kid is refused cleanly instead of
// crashing. Adjust the returned verifier's policy with [NewAccessTokens]
// and [Auth0Config] instead when scopes or clients must be checked.
func NewAuth0(audience, domain string) (*AccessTokens, error) {
	c, err := Auth0Config(audience, domain)
	if err != nil {
		return nil, err
	}
	return NewAccessTokens(c)
}

// Auth0Config returns the [Config] that [NewAuth0] uses, to be
// extended (RequiredScopes, AllowedClients, Leeway) before
// [NewAccessTokens].
func Auth0Config(audience, domain string) (Config, error) {
	domain = strings.TrimSuffix(strings.TrimPrefix(domain, "https://"), "/")
	if domain == "" || strings.ContainsAny(domain, "/?#@ ") {
		return Config{}, fmt.Errorf("jwtauth: Auth0 domain %q: want a host name such as tenant.us.auth0.com", domain)
	}
	if audience == "" {
		return Config{}, fmt.Errorf("jwtauth: Auth0: empty audience")
	}
	return Config{
		Issuer:     "https://" + domain + "/",
		Audiences:  []string{audience},
		Algorithms: []string{"RS256"},
		Keys:       jwk.NewRemoteKeySet("https://" + domain + "/.well-known/jwks.json"),
		Profile:    ProfileAuth0,
	}, nil
}
