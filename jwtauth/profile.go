package jwtauth

import "fmt"

// Profile names an access-token format: which header typ and claims are
// required, and where the client id and the scopes are. Its values are
// the spellings the token server's store, admin API and CLI use. m2m's
// token server issues [ProfileRFC9068] and [ProfileAuth0]; an
// [AccessTokens] verifier reads all three.
type Profile string

// The access-token profiles.
const (
	// ProfileGeneric reads any OAuth 2.0 JWT access token: scopes from the
	// space-separated "scope" claim (or else "scp", an array or a
	// space-separated string), the client from "client_id" or else
	// "azp". No typ is required.
	ProfileGeneric Profile = "generic"
	// ProfileAuth0 is what Auth0 issues to machine-to-machine clients:
	// typ "JWT"; iss with a trailing slash, sub "<client_id>@clients",
	// aud, iat, exp, scope, gty "client-credentials", azp (and jti from
	// m2m). A verifier reads scopes from "scope" and the RBAC
	// "permissions" array, and the client from "azp".
	ProfileAuth0 Profile = "auth0"
	// ProfileRFC9068 is the JWT access-token profile of RFC 9068: typ
	// "at+jwt" and the claims iss, exp, aud, sub, client_id, iat and jti
	// required; scopes from "scope", the client from "client_id".
	ProfileRFC9068 Profile = "rfc9068"
)

// Valid reports whether p is one of the named profiles ("" is not).
func (p Profile) Valid() bool {
	return p == ProfileGeneric || p == ProfileAuth0 || p == ProfileRFC9068
}

// ParseProfile returns the profile spelled s: "rfc9068", "auth0" or
// "generic", exactly.
func ParseProfile(s string) (Profile, error) {
	if p := Profile(s); p.Valid() {
		return p, nil
	}
	return "", fmt.Errorf("jwtauth: unknown profile %q (want rfc9068, auth0 or generic)", s)
}
