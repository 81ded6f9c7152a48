// Package jwtauth verifies and issues JSON Web Tokens (RFC 7519) signed as
// compact JWS (RFC 7515), with the checks RFC 8725 (JWT best current
// practices) asks for: an explicit algorithm allow-list ("none" never
// verifies, and a public key can never be used as an HMAC secret), a size
// cap before any parsing, exp required by default, nbf/iat/exp compared
// with a named leeway, and issuer, audience and typ checks that fail
// closed unless explicitly skipped.
//
// Every token has one spelling: a byte outside the base64url alphabet and
// the two dots (a space or line break, which Go's base64 decoders would
// skip), non-canonical base64url in any segment, and a high-S ECDSA
// signature are refused (high-S only unless [Validator].AllowHighS, the
// opt-in for other signers' ES* tokens); tokens m2m signs are low-S.
// Scope claims are read one way, with m2m.ParseScope.
//
// Claim validation follows PyJWT 2.x, so that tokens issued by Python
// services and devices verify here exactly as they do there: a token is
// expired iff exp <= now - leeway (so now == exp is expired), not yet
// valid iff nbf or iat > now + leeway, exp, nbf and iat are truncated to whole
// seconds as PyJWT's int() does, a token that names an audience is refused
// when no audience is expected, and sub and jti must be strings. The
// interop vectors of microdot + PyJWT 2.12 run in TestVectorsMicrodot.
//
// The package has three layers:
//
//   - [Validator] is the one verification core of every JWT m2m reads
//     (device tokens, access tokens, the token server's introspection,
//     and later client assertions, DPoP proofs and other issuers' tokens):
//     it parses a token, checks its algorithm and typ, asks a [KeySource]
//     for typed candidate keys ([Secrets], [PublicKeys], or a source of
//     one's own), checks the signature and validates the claims
//     ([Validator.ValidateClaims]). Each kind adds only its own claim
//     rules on top ([AccessTokens] its profile, scopes and clients). Every refusal
//     is a [*m2m.CredentialError] with a stable reason (malformed,
//     too_large, bad_algorithm, bad_signature, unknown_key, expired,
//     not_yet_valid, wrong_audience, wrong_issuer, missing_claim).
//   - [DeviceTokens] is the device pattern of the microdot auth recipe:
//     short-lived HS256 tokens {sub, exp, iat} signed with a secret kept in
//     a file (package secretfile), verified with the current secret and its
//     fallbacks, plus [LoginHandler], which trades a user name and password
//     for such a token.
//   - [TokenAuth] is an [m2m.Verifier] that takes a token from
//     "Authorization: Bearer" (or from the raw value of another header)
//     and hands it to a callback, such as [DeviceTokens.CheckToken].
//
// Sender-constrained tokens (RFC 9449, DPoP): [DPoPVerifier] checks
// proofs; with Config.DPoP, [AccessTokens] accepts a DPoP-bound token as
// "Authorization: DPoP <token>" with a proof for the request received
// (ath, cnf.jkt, htm and htu against Config.PublicURL, iat, jti once,
// nonce), and refuses a token bound by cnf when it comes as Bearer.
package jwtauth
