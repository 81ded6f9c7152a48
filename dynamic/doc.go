// Package dynamic implements single-use, time-stamped "dynamic tokens" in
// two modes: [Sealed], the default, and [Compat], which speaks the format
// of the Rust crate dynamic-token 0.1.7 (https://crates.io/crates/dynamic-token)
// and accepts the tokens of its Node port.
//
// # Sealed mode
//
// A sealed token keeps the crate's interface (a shared key, a millisecond
// timestamp, random noise, an optional UUID, valid within a tolerance of 5
// minutes by default) and adds what the crate only claims. The key never
// leaves the machine: an HMAC-SHA256 tag (RFC 2104) covers a version byte,
// the timestamp, a 128-bit nonce from crypto/rand and the UUID, so none can
// be changed or swapped. Timestamps may lie at most [DefaultMaxFuture] in
// the future. [Sealed.Accept] records each token's nonce in an
// [m2m.ReplayCache] until the token can no longer be valid, so each token
// is accepted once.
//
// The wire format, version 1, is the unpadded base64url (RFC 4648 section
// 5) encoding of
//
//	0x01 | flags | [len | key id] | ms timestamp (8, big-endian) | nonce (16) | [len | uuid] | tag (32)
//
// where flags bit 0x01 announces the UUID (12 to 32 bytes, given and
// reported as hex) and bit 0x02 a key id (1 to 32 printable ASCII bytes)
// that lets a verifier holding several [Key]s pick the right one during a
// rotation. The tag is HMAC-SHA256(secret, "m2m/dynamic/v1" | 0x00 | every
// byte before the tag). A token is 78 characters, 100 with a 16-byte UUID;
// it is URL-safe and a valid token68 for the Authorization header.
//
// # Compat mode
//
// [Compat] encodes and decodes the crate's tokens byte for byte:
// base64 of the reversed base-36 timestamp with the API key inserted at an
// offset, a random separator and number, and optionally "__" and the UUID
// in base 36. Anyone who sees one token learns the key. By default
// decoding is strict: the timestamp is always checked, a required UUID is
// required, and the tokens on which the crate's debug build panics are
// refused. [Compat.Quirks] reproduces the crate's release build exactly,
// including the tokens it accepts forever. Compat tokens cannot be made
// single-use.
//
// # HTTP
//
// [Verifier] is an [m2m.Verifier] that reads "Authorization: Dynamic
// <token>" (or a bare token in a custom header) and makes the UUID the
// Principal's subject; [Transport] adds a fresh token to every outgoing
// request.
package dynamic
