// Package basic implements HTTP Basic authentication (RFC 7617) as an
// [m2m.Verifier]: strict parsing of the credentials, a challenge with realm
// and charset (WWW-Authenticate: Basic realm="...", charset="UTF-8"),
// password hashes from an htpasswd file (Apache's bcrypt $2a$/$2b$/$2y$
// lines) or argon2id PHC strings, comparisons in constant time and the
// same hashing work for unknown user names as for known ones, so neither
// the response time nor the answer tells whether a user exists.
//
// A [Verifier] checks passwords with [Users] (such as an [*Htpasswd] loaded
// with [LoadHtpasswd]) or with a Check callback, the shape of microdot's
// BasicAuth callback. Its Lenient option reproduces microdot 2.x's decoding
// (the exact prefix "Basic ", binascii.a2b_base64 that skips junk
// characters) for compatibility with existing clients; strict RFC 7617
// parsing is the default.
//
// [HashPassword] and [HashArgon2id] make the hashes (the command
// "m2m basic hash" prints them).
package basic
