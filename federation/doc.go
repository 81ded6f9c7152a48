// Package federation lets a workload authenticate with the identity token
// its platform already gives it (a GitHub Actions or GitLab CI OIDC token,
// a Kubernetes service-account token, a SPIFFE JWT-SVID) instead of a
// secret: a [Verifier] checks such a token against the trust policies
// ([store.TrustPolicy]) and names the client it authenticates as. It is
// what "workload identity federation" is at AWS, Google Cloud and Azure.
//
// Every token goes through the one verification core
// ([jwtauth.Validator]) with the issuer's keys, found through OpenID
// Connect Discovery 1.0 or the policy's jwks_uri (RFC 7517 key sets,
// fetched and cached by [jwk.RemoteKeySet]) or given by value. Fetches go
// over HTTPS only, bounded in size and time, and never to a private,
// loopback or link-local address the policy does not name itself.
//
// The token endpoint uses it for client assertions (RFC 7523 section
// 2.2), the JWT bearer grant (RFC 7523 section 2.1) and token exchange
// (RFC 8693); `m2m trust test` uses [Verifier.Explain]. docs/federation.md
// has the rules and the threat model.
package federation
