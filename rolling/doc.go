// Package rolling implements rolling codes: short codes derived from a
// shared seed and the time, which a bot sends and an API checks.
//
// Two algorithms implement [Codec]:
//
//   - [HMAC], the secure default: an HMAC (SHA-1, SHA-256 or SHA-512) over
//     the time step counter, the time-based one-time password of RFC 6238
//     (built on RFC 4226 HOTP). With the alphabet [Digits], 6 to 8
//     characters and SHA-1 it is RFC 6238 TOTP exactly; with any other
//     alphabet of Unicode characters the code is drawn without bias from
//     the HMAC output.
//   - [M2MToken], byte-exact compatibility with the Python package
//     m2m-token 0.0.2 (generate(seed, ttl, sequence, token_len)), which
//     seeds CPython's Mersenne Twister with the seed and a minute-aligned
//     timestamp. It is not a MAC; use it only to accept existing bots.
//
// [Verifier] checks codes in HTTP requests for package httpauth: a window
// of steps either side of now, each code accepted at most once per key (an
// [m2m.ReplayCache]), failed attempts throttled per client address and
// per key id without locking out a device that holds the right code,
// several named seeds, and constant-time comparisons. [Transport] adds the current code
// to a client's requests. The default wire form is
// "Authorization: Rolling <code>" (see [Wire]).
package rolling
