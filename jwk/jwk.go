// Package jwk holds verification keys for JWTs: JSON Web Keys and key sets
// (RFC 7517, RFC 7518 section 6, RFC 8037 for Ed25519) as Auth0, OpenID
// Connect providers and m2m's own token server publish them at their
// jwks_uri.
//
// A [Set] is an immutable snapshot of public keys indexed by key id. Three
// [KeySet] implementations supply sets: [StaticKeySet] (keys given in
// code), [FileKeySet] (a JWKS or PEM file, reloaded when it changes) and
// [RemoteKeySet] (a jwks_uri, cached and refreshed in the background,
// served stale while a refresh runs, refetched on an unknown kid under a
// rate limit and a per-kid negative cache, with a response size cap; its
// lookups take no lock and do no I/O while the cache is fresh).
//
// Parsing rules: only public keys are accepted (a JWK with private
// parameters is refused rather than silently reduced to its public part),
// symmetric ("oct") keys and keys whose "use" is not "sig" are skipped,
// RSA keys must have at least 2048 bits, and an x5c certificate must match
// the key. JWK decoding is delegated to go-jose/v4, whose types stay
// inside this package.
package jwk

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// Size limits for untrusted key documents.
const (
	// DefaultMaxSetBytes caps a JWKS document (and a remote response).
	DefaultMaxSetBytes = 512 << 10
	// MaxKeys caps the number of keys in one set.
	MaxKeys = 128
)

// Errors returned by the parsers.
var (
	ErrTooLarge  = errors.New("jwk: key set too large")
	ErrMalformed = errors.New("jwk: malformed key set")
	ErrNoKeys    = errors.New("jwk: no usable keys")
)

// Key is one public verification key.
type Key struct {
	// ID is the "kid"; "" when the JWK has none.
	ID string
	// Algorithm is the JWK "alg" the key is restricted to; "" means any
	// algorithm of the key's type.
	Algorithm string
	// Public is *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey.
	Public crypto.PublicKey
	// Thumbprint is the RFC 7638 SHA-256 thumbprint, base64url: it
	// identifies the key material whatever its kid.
	Thumbprint string
}

// Fits reports whether k may verify a signature made with alg: the key
// type matches the algorithm family and the JWK's own "alg", if any, is
// alg. An HMAC algorithm never fits a public key.
func (k *Key) Fits(alg string) bool {
	if k.Algorithm != "" && k.Algorithm != alg {
		return false
	}
	switch k.Public.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		pk := k.Public.(*ecdsa.PublicKey)
		switch pk.Curve.Params().BitSize {
		case 256:
			return alg == "ES256"
		case 384:
			return alg == "ES384"
		case 521:
			return alg == "ES512"
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// Set is an immutable set of keys. It is safe for concurrent use.
type Set struct {
	keys []Key
	byID map[string][]int
	// Skipped counts JWKS entries that were ignored (private, symmetric,
	// encryption, unsupported or invalid keys).
	Skipped int
}

// NewSet returns a set of the given keys. Keys without an ID can only be
// used when the set holds exactly one key (see [Set.Lookup]).
func NewSet(keys ...Key) *Set {
	s := &Set{keys: append([]Key(nil), keys...), byID: make(map[string][]int)}
	for i, k := range s.keys {
		if k.ID != "" {
			s.byID[k.ID] = append(s.byID[k.ID], i)
		}
	}
	return s
}

// Len returns the number of keys.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.keys)
}

// Keys returns a copy of the keys.
func (s *Set) Keys() []Key {
	if s == nil {
		return nil
	}
	return append([]Key(nil), s.keys...)
}

// Lookup returns the keys a token with the given kid may be verified with:
//   - a kid: the keys with exactly that ID (entries without an ID never
//     match, so a token whose kid names another entry still verifies);
//   - no kid: the set's only key, when the set has exactly one key and
//     that key has no ID either. A set with several keys, or whose key has
//     an ID (its issuer names its keys), gives none: a token without kid
//     is refused rather than tried against every key (RFC 8725 section
//     3.10, and the Auth0 sample's crash on a missing kid).
//
// It does not allocate.
func (s *Set) Lookup(kid string) []Key {
	if s == nil {
		return nil
	}
	if kid == "" {
		if len(s.keys) == 1 && s.keys[0].ID == "" {
			return s.keys[:1:1]
		}
		return nil
	}
	idx := s.byID[kid]
	switch len(idx) {
	case 0:
		return nil
	case 1:
		return s.keys[idx[0] : idx[0]+1 : idx[0]+1]
	}
	out := make([]Key, len(idx))
	for i, j := range idx {
		out[i] = s.keys[j]
	}
	return out
}

// Has reports whether the set holds a key with this kid and thumbprint.
// Verification caches use it to forget results whose key left the set.
func (s *Set) Has(kid, thumbprint string) bool {
	for _, k := range s.Lookup(kid) {
		if k.Thumbprint == thumbprint {
			return true
		}
	}
	return false
}

// privateParams are the JWK members that carry private or symmetric key
// material.
var privateParams = []string{"d", "p", "q", "dp", "dq", "qi", "k", "priv", "oth"}

// ParseSet parses a JWKS document ({"keys": [...]}) of at most
// DefaultMaxSetBytes. Entries that cannot be used for signature
// verification are skipped and counted in Skipped; a document with
// private key material, too many keys or no usable key is an error.
func ParseSet(data []byte) (*Set, error) {
	if len(data) > DefaultMaxSetBytes {
		return nil, ErrTooLarge
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if doc.Keys == nil {
		return nil, fmt.Errorf("%w: no \"keys\" array", ErrMalformed)
	}
	if len(doc.Keys) > MaxKeys {
		return nil, fmt.Errorf("%w: %d keys, at most %d", ErrTooLarge, len(doc.Keys), MaxKeys)
	}
	var keys []Key
	skipped := 0
	for i, raw := range doc.Keys {
		k, err := ParseKey(raw)
		switch {
		case errors.Is(err, errPrivate):
			return nil, fmt.Errorf("%w: key %d: %v", ErrMalformed, i, err)
		case err != nil:
			skipped++
			continue
		}
		keys = append(keys, *k)
	}
	if len(keys) == 0 {
		return nil, ErrNoKeys
	}
	s := NewSet(keys...)
	s.Skipped = skipped
	return s, nil
}

var (
	errPrivate = errors.New("jwk: the key set contains private key material")
	errSkip    = errors.New("jwk: not a signature verification key")
)

// ParseKey parses one public JWK. It refuses private and symmetric keys,
// keys for encryption ("use": "enc"), unsupported key types and RSA keys
// shorter than 2048 bits.
func ParseKey(raw []byte) (*Key, error) {
	if len(raw) > DefaultMaxSetBytes {
		return nil, ErrTooLarge
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil || members == nil {
		return nil, fmt.Errorf("%w: a key is not a JSON object", ErrMalformed)
	}
	for _, p := range privateParams {
		if _, ok := members[p]; ok {
			if string(members["kty"]) == `"oct"` {
				return nil, fmt.Errorf("%w: symmetric key", errSkip)
			}
			return nil, errPrivate
		}
	}
	var use string
	if u, ok := members["use"]; ok {
		_ = json.Unmarshal(u, &use)
		if use != "sig" {
			return nil, fmt.Errorf("%w: use %q", errSkip, use)
		}
	}
	var jk jose.JSONWebKey
	if err := jk.UnmarshalJSON(raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if !jk.Valid() || !jk.IsPublic() {
		return nil, fmt.Errorf("%w: invalid key", ErrMalformed)
	}
	k, err := FromPublic(jk.Key, jk.KeyID, jk.Algorithm)
	if err != nil {
		return nil, err
	}
	return k, nil
}

// FromPublic makes a Key from a public key (*rsa.PublicKey,
// *ecdsa.PublicKey or ed25519.PublicKey), with an optional kid and alg.
func FromPublic(pub crypto.PublicKey, kid, alg string) (*Key, error) {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if p == nil || p.N == nil || p.E < 2 {
			return nil, fmt.Errorf("%w: incomplete RSA key", ErrMalformed)
		}
		if p.N.BitLen() < 2048 {
			return nil, fmt.Errorf("%w: RSA key of %d bits, want at least 2048", errSkip, p.N.BitLen())
		}
	case *ecdsa.PublicKey:
		if p == nil || p.Curve == nil || p.X == nil || p.Y == nil {
			return nil, fmt.Errorf("%w: incomplete EC key", ErrMalformed)
		}
		if _, err := p.ECDH(); err != nil { // checks the curve and that the point is on it
			return nil, fmt.Errorf("%w: EC key: %v", errSkip, err)
		}
	case ed25519.PublicKey:
		if len(p) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: bad Ed25519 key", ErrMalformed)
		}
	default:
		return nil, fmt.Errorf("%w: unsupported key type %T", errSkip, pub)
	}
	if alg != "" && !(&Key{Public: pub}).Fits(alg) {
		return nil, fmt.Errorf("%w: alg %q does not fit the key type", errSkip, alg)
	}
	jk := jose.JSONWebKey{Key: pub}
	tp, err := jk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return &Key{ID: kid, Algorithm: alg, Public: pub, Thumbprint: base64.RawURLEncoding.EncodeToString(tp)}, nil
}

// ParsePEM parses PEM "PUBLIC KEY" (PKIX) and "CERTIFICATE" blocks into a
// set. Keys from PEM have no kid; give one with kid when the file has one
// key (several keys get kid, kid-1, kid-2, ... to stay addressable).
func ParsePEM(data []byte, kid string) (*Set, error) {
	if len(data) > DefaultMaxSetBytes {
		return nil, ErrTooLarge
	}
	var keys []Key
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		var pub crypto.PublicKey
		switch b.Type {
		case "PUBLIC KEY":
			p, err := x509.ParsePKIXPublicKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
			}
			pub = p
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
			}
			pub = c.PublicKey
		default:
			if strings.Contains(b.Type, "PRIVATE") {
				return nil, errPrivate
			}
			continue
		}
		id := kid
		if len(keys) > 0 && kid != "" {
			id = fmt.Sprintf("%s-%d", kid, len(keys))
		}
		k, err := FromPublic(pub, id, "")
		if err != nil {
			return nil, err
		}
		if len(keys) == MaxKeys {
			return nil, fmt.Errorf("%w: more than %d keys", ErrTooLarge, MaxKeys)
		}
		keys = append(keys, *k)
	}
	if len(keys) == 0 {
		return nil, ErrNoKeys
	}
	return NewSet(keys...), nil
}

// Parse reads a JWKS document, a single JWK, or PEM, whichever data is.
func Parse(data []byte) (*Set, error) {
	t := bytes.TrimSpace(data)
	switch {
	case bytes.HasPrefix(t, []byte("-----BEGIN")):
		return ParsePEM(data, "")
	case bytes.HasPrefix(t, []byte("{")) && !bytes.Contains(t, []byte(`"keys"`)):
		k, err := ParseKey(t)
		if err != nil {
			return nil, err
		}
		return NewSet(*k), nil
	}
	return ParseSet(data)
}

// MarshalSet returns the JWKS document of the keys (public members only),
// as a token server publishes it.
func MarshalSet(keys ...Key) ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Public, KeyID: k.ID, Algorithm: k.Algorithm, Use: "sig"})
	}
	return json.Marshal(set)
}
