// Package jws implements the JWS compact serialization (RFC 7515) for the
// algorithms m2m allows (RFC 7518: HS256/384/512, RS256/384/512,
// PS256/384/512, ES256/384/512; RFC 8037: EdDSA with Ed25519): parsing
// with a size cap before any decoding, signing, and verification that
// binds every algorithm to one key type, so an RSA or EC public key can
// never be used as an HMAC secret and "none" never verifies.
//
// It is hand-written on the standard library's crypto rather than taken
// from a JOSE library because it is the hot path of every token check: it
// decodes into one buffer, keeps the header as parsed JSON bytes for the
// caller, and does no reflection-heavy claim mapping (see docs/DESIGN.md).
// Key sets (JWK/JWKS) are handled elsewhere with go-jose.
package jws

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"slices"
	"strings"
	"sync"

	"github.com/m2mkit/m2m/internal/jsonstr"
)

// DefaultMaxTokenBytes is the size cap [Parse] applies when given 0.
const DefaultMaxTokenBytes = 16 << 10

// Errors returned by this package. Callers map them to m2m reasons.
var (
	ErrTooLarge     = errors.New("jws: token too large")
	ErrMalformed    = errors.New("jws: malformed token")
	ErrSignature    = errors.New("jws: signature does not verify")
	ErrAlgorithm    = errors.New("jws: algorithm not allowed")
	ErrKeyType      = errors.New("jws: key type does not match the algorithm")
	ErrUnsupported  = errors.New("jws: unsupported header")
	errShortHMACKey = errors.New("jws: empty HMAC key")
)

// Header holds the registered header parameters m2m looks at. Raw has the
// whole decoded header JSON.
type Header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid,omitempty"`
	Typ string `json:"typ,omitempty"`
	Cty string `json:"cty,omitempty"`
	// Crit lists extensions the verifier must understand (RFC 7515 4.1.11).
	// m2m understands none, so a token with crit is refused by Parse.
	Crit []string `json:"crit,omitempty"`
	// JWK is the raw JSON of the "jwk" parameter (RFC 7515 4.1.3), ""
	// when absent. Only a key source that is meant to read it (a DPoP
	// proof's) may use it: a token never chooses its own key otherwise.
	JWK string `json:"-"`
}

// Token is a parsed, not yet verified, compact JWS.
type Token struct {
	Header    Header
	RawHeader []byte // decoded header JSON
	Payload   []byte // decoded payload
	Signature []byte
	// SigningInput is the first two segments as sent, joined by '.'.
	SigningInput string

	input []byte // SigningInput's bytes, in the buffer of the decoded parts
}

// b64 decodes strictly: unpadded, and the unused low bits of the last
// character must be zero, so that every byte string has one encoding.
// (Like every Go base64 decoder it skips '\r' and '\n'; Parse refuses
// them first.)
var b64 = base64.RawURLEncoding.Strict()

// compactByte marks the bytes a compact JWS may contain: the base64url
// alphabet (RFC 4648 section 5) and '.'.
var compactByte = func() (t [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_." {
		t[c] = true
	}
	return t
}()

// Parse splits and decodes a compact JWS of at most max bytes (0 means
// DefaultMaxTokenBytes). It checks the size before anything else and
// accepts one spelling per token only: a byte outside the base64url
// alphabet and the two dots (whitespace and line breaks included, which
// Go's base64 decoders would skip), padding, and a segment whose last
// character has unused low bits set (non-canonical base64url) are all
// ErrMalformed. It also refuses a header that is not a JSON object with a
// string "alg", "none", and any "crit" header.
func Parse(token string, max int) (*Token, error) {
	if max <= 0 {
		max = DefaultMaxTokenBytes
	}
	if len(token) > max {
		return nil, ErrTooLarge
	}
	for i := 0; i < len(token); i++ {
		if !compactByte[token[i]] {
			return nil, fmt.Errorf("%w: a byte outside the base64url alphabet at offset %d", ErrMalformed, i)
		}
	}
	h, rest, ok := strings.Cut(token, ".")
	if !ok {
		return nil, fmt.Errorf("%w: want three dot-separated segments", ErrMalformed)
	}
	p, s, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(s, '.') >= 0 {
		return nil, fmt.Errorf("%w: want three dot-separated segments", ErrMalformed)
	}
	if h == "" {
		return nil, fmt.Errorf("%w: empty header", ErrMalformed)
	}
	// One buffer for the signing input's bytes and the three decoded parts.
	n := len(h) + 1 + len(p)
	buf := make([]byte, n+b64.DecodedLen(len(h))+b64.DecodedLen(len(p))+b64.DecodedLen(len(s)))
	t := &Token{SigningInput: token[:n]}
	t.input = buf[:n:n]
	copy(t.input, t.SigningInput)
	buf = buf[n:]
	var err error
	if t.RawHeader, buf, err = decode(buf, h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if t.Payload, buf, err = decode(buf, p); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	if t.Signature, _, err = decode(buf, s); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrMalformed, err)
	}
	hdr, err := parseHeader(h, t.RawHeader)
	if err != nil {
		return nil, err
	}
	t.Header = hdr
	return t, nil
}

func decode(buf []byte, s string) (out, rest []byte, err error) {
	n, err := b64.Decode(buf, []byte(s))
	if err != nil {
		return nil, buf, err
	}
	return buf[:n:n], buf[n:], nil
}

// headerCache remembers parsed headers by their encoded form: the tokens of
// one issuer share a handful of headers, so most parses skip the JSON
// decoding. It is bounded and cleared when full.
var headerCache struct {
	sync.RWMutex
	m map[string]Header
}

const headerCacheMax = 1024

// headerCacheMaxKey is the longest encoded header the cache keeps, so that
// a stream of tokens with big, distinct headers cannot pin
// headerCacheMax times DefaultMaxTokenBytes of memory.
const headerCacheMaxKey = 512

func parseHeader(enc string, raw []byte) (Header, error) {
	headerCache.RLock()
	hdr, ok := headerCache.m[enc]
	headerCache.RUnlock()
	if ok {
		return hdr, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return Header{}, fmt.Errorf("%w: header is not a JSON object", ErrMalformed)
	}
	// Take each parameter by its exact name: decoding into the struct
	// would let encoding/json match "ALG" or "Typ" case-insensitively,
	// and the last of {"typ":"JWT","TYP":"at+jwt"} win, where other JOSE
	// libraries (PyJWT among them) read names case-sensitively.
	params := [...]struct {
		name string
		dst  any
	}{{"alg", &hdr.Alg}, {"kid", &hdr.Kid}, {"typ", &hdr.Typ}, {"cty", &hdr.Cty}, {"crit", &hdr.Crit}}
	for _, p := range params {
		if v, ok := fields[p.name]; ok {
			if err := json.Unmarshal(v, p.dst); err != nil {
				return Header{}, fmt.Errorf("%w: header %s: %v", ErrMalformed, p.name, err)
			}
		}
	}
	if v, ok := fields["jwk"]; ok {
		if len(v) == 0 || v[0] != '{' {
			return Header{}, fmt.Errorf("%w: header jwk is not a JSON object", ErrMalformed)
		}
		hdr.JWK = string(v)
	}
	if _, ok := fields["alg"]; !ok || hdr.Alg == "" {
		return Header{}, fmt.Errorf("%w: header has no alg", ErrMalformed)
	}
	if strings.EqualFold(hdr.Alg, "none") {
		return Header{}, fmt.Errorf("%w: none", ErrAlgorithm)
	}
	if _, ok := fields["crit"]; ok {
		return Header{}, fmt.Errorf("%w: crit", ErrUnsupported)
	}
	if len(enc) > headerCacheMaxKey {
		return hdr, nil
	}
	headerCache.Lock()
	if headerCache.m == nil || len(headerCache.m) >= headerCacheMax {
		headerCache.m = make(map[string]Header)
	}
	headerCache.m[strings.Clone(enc)] = hdr // not a substring: do not pin the token
	headerCache.Unlock()
	return hdr, nil
}

type family int

const (
	famHMAC family = iota + 1
	famRSA
	famPSS
	famEC
	famEd
)

type algorithm struct {
	fam   family
	hash  crypto.Hash
	newH  func() hash.Hash
	curve int // EC: field size in bytes
}

var algorithms = map[string]algorithm{
	"HS256": {famHMAC, crypto.SHA256, sha256.New, 0},
	"HS384": {famHMAC, crypto.SHA384, sha512.New384, 0},
	"HS512": {famHMAC, crypto.SHA512, sha512.New, 0},
	"RS256": {famRSA, crypto.SHA256, sha256.New, 0},
	"RS384": {famRSA, crypto.SHA384, sha512.New384, 0},
	"RS512": {famRSA, crypto.SHA512, sha512.New, 0},
	"PS256": {famPSS, crypto.SHA256, sha256.New, 0},
	"PS384": {famPSS, crypto.SHA384, sha512.New384, 0},
	"PS512": {famPSS, crypto.SHA512, sha512.New, 0},
	"ES256": {famEC, crypto.SHA256, sha256.New, 32},
	"ES384": {famEC, crypto.SHA384, sha512.New384, 48},
	"ES512": {famEC, crypto.SHA512, sha512.New, 66},
	"EdDSA": {famEd, 0, nil, 0},
}

// Supported reports whether alg is an algorithm this package implements.
func Supported(alg string) bool { _, ok := algorithms[alg]; return ok }

// IsHMAC reports whether alg is one of HS256, HS384, HS512.
func IsHMAC(alg string) bool { a, ok := algorithms[alg]; return ok && a.fam == famHMAC }

// Verify checks t's signature with key under t.Header.Alg. Key types:
// []byte for HS*, *rsa.PublicKey for RS*/PS*, *ecdsa.PublicKey (on the
// algorithm's curve) for ES*, ed25519.PublicKey for EdDSA. Any other
// combination is ErrKeyType; the caller must already have checked the
// algorithm against its allow-list. An ECDSA signature whose s is above
// half the curve order (high-S, the second spelling of every ECDSA
// signature) is ErrSignature; see [Token.VerifyAllowHighS].
func (t *Token) Verify(key any) error { return t.verify(key, false) }

// VerifyAllowHighS is [Token.Verify] that also accepts high-S ECDSA
// signatures, as made by signers that do not normalize s (Go's
// crypto/ecdsa, Node's jose and WebCrypto, OpenSSL). Use it only for
// tokens whose replay protection does not rely on their bytes.
func (t *Token) VerifyAllowHighS(key any) error { return t.verify(key, true) }

func (t *Token) verify(key any, allowHighS bool) error {
	input := t.input
	if string(input) != t.SigningInput { // a Token not made by Parse, or changed since
		input = []byte(t.SigningInput)
	}
	return verify(t.Header.Alg, key, input, t.Signature, allowHighS)
}

// VerifySignature checks sig over signingInput with key under alg,
// refusing high-S ECDSA signatures as [Token.Verify] does.
func VerifySignature(alg string, key any, signingInput string, sig []byte) error {
	return verify(alg, key, []byte(signingInput), sig, false)
}

func verify(alg string, key any, signingInput, sig []byte, allowHighS bool) error {
	a, ok := algorithms[alg]
	if !ok {
		return fmt.Errorf("%w: %q", ErrAlgorithm, alg)
	}
	switch a.fam {
	case famHMAC:
		k, ok := key.([]byte)
		if !ok {
			return ErrKeyType
		}
		if len(k) == 0 {
			return errShortHMACKey
		}
		var sum [64]byte
		if !hmac.Equal(hmacSum(a, k, signingInput, &sum), sig) {
			return ErrSignature
		}
		return nil
	case famEd:
		k, ok := key.(ed25519.PublicKey)
		if !ok || len(k) != ed25519.PublicKeySize {
			return ErrKeyType
		}
		if !ed25519.Verify(k, signingInput, sig) {
			return ErrSignature
		}
		return nil
	}
	sc := scratchPool.Get().(*scratch)
	defer sc.put()
	digest := sc.digestOf(a, signingInput)
	switch a.fam {
	case famRSA, famPSS:
		k, ok := key.(*rsa.PublicKey)
		if !ok || k == nil || k.N == nil {
			return ErrKeyType
		}
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("%w: RSA key shorter than 2048 bits", ErrKeyType)
		}
		var err error
		if a.fam == famRSA {
			err = rsa.VerifyPKCS1v15(k, a.hash, digest, sig)
		} else {
			err = rsa.VerifyPSS(k, a.hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		if err != nil {
			return ErrSignature
		}
		return nil
	case famEC:
		k, ok := key.(*ecdsa.PublicKey)
		if !ok || k == nil || k.Curve == nil || (k.Curve.Params().BitSize+7)/8 != a.curve {
			return ErrKeyType
		}
		if len(sig) != 2*a.curve {
			return ErrSignature
		}
		if !allowHighS && highS(orderOf(k.Curve), sig[a.curve:]) {
			return fmt.Errorf("%w: high-S ECDSA signature (not the canonical low-S form)", ErrSignature)
		}
		if !ecdsaVerifyRaw(k, digest, sig) {
			return ErrSignature
		}
		return nil
	}
	return ErrAlgorithm
}

// Sign returns the compact JWS of payload with the given header JSON
// (which must name alg, exactly as the caller wants it serialized). Key
// types: []byte for HS*, *rsa.PrivateKey for RS*/PS*, *ecdsa.PrivateKey for
// ES*, ed25519.PrivateKey for EdDSA.
func Sign(alg string, key any, headerJSON, payload []byte) (string, error) {
	a, ok := algorithms[alg]
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrAlgorithm, alg)
	}
	sc := scratchPool.Get().(*scratch)
	defer sc.put()
	sc.buf = appendB64(sc.buf[:0], headerJSON)
	return sign(sc, a, key, payload)
}

// EncodeHeader returns the first segment of a compact JWS with the header
// [HeaderJSON](alg, kid, typ): its base64url encoding, which a signer that
// uses one header for many tokens computes once for [SignEncoded].
func EncodeHeader(alg, kid, typ string) string {
	return b64.EncodeToString(HeaderJSON(alg, kid, typ))
}

// SignEncoded is [Sign] with the header given in its encoded form (see
// [EncodeHeader]): the result is the same token Sign makes of the decoded
// header. encodedHeader is used as it is; it must be the unpadded
// base64url encoding of a header JSON that names alg.
func SignEncoded(alg string, key any, encodedHeader string, payload []byte) (string, error) {
	a, ok := algorithms[alg]
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrAlgorithm, alg)
	}
	sc := scratchPool.Get().(*scratch)
	defer sc.put()
	sc.buf = append(sc.buf[:0], encodedHeader...)
	return sign(sc, a, key, payload)
}

// scratch is the working memory of one signature, pooled: the token is
// built in buf (so the signing input is hashed where it lies) and copied
// out once as the returned string.
type scratch struct {
	buf    []byte
	digest [64]byte
	sig    [2 * maxECIntBytes]byte
	hashes map[crypto.Hash]hash.Hash
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{buf: make([]byte, 0, 1024), hashes: make(map[crypto.Hash]hash.Hash, 1)}
}}

// maxPooledScratch is the largest buffer put back in the pool, so that one
// huge token does not stay in memory.
const maxPooledScratch = 64 << 10

// put zeroes sc, whose buffer held a token (a bearer credential), and
// keeps it for reuse unless its buffer is large.
func (sc *scratch) put() {
	if cap(sc.buf) > maxPooledScratch {
		return
	}
	clear(sc.buf[:cap(sc.buf)])
	sc.buf = sc.buf[:0]
	clear(sc.digest[:])
	clear(sc.sig[:])
	for _, h := range sc.hashes {
		h.Reset()
	}
	scratchPool.Put(sc)
}

// digestOf returns the digest of msg under a's hash, in sc.digest.
func (sc *scratch) digestOf(a algorithm, msg []byte) []byte {
	h := sc.hashes[a.hash]
	if h == nil {
		h = a.newH()
		sc.hashes[a.hash] = h
	}
	h.Reset()
	h.Write(msg)
	return h.Sum(sc.digest[:0])
}

// sign appends ".payload.signature" to the encoded header in sc.buf,
// signing what precedes the second dot, and returns the token.
func sign(sc *scratch, a algorithm, key any, payload []byte) (string, error) {
	sc.buf = append(sc.buf, '.')
	sc.buf = appendB64(sc.buf, payload)
	sig, err := signature(sc, a, key, sc.buf)
	if err != nil {
		return "", err
	}
	sc.buf = append(sc.buf, '.')
	sc.buf = appendB64(sc.buf, sig)
	return string(sc.buf), nil
}

func appendB64(dst, p []byte) []byte {
	return b64.AppendEncode(dst, p)
}

// signature signs input with key under a. The result may be in sc and is
// valid until sc is reused.
func signature(sc *scratch, a algorithm, key any, input []byte) ([]byte, error) {
	switch a.fam {
	case famHMAC:
		k, ok := key.([]byte)
		if !ok {
			return nil, ErrKeyType
		}
		if len(k) == 0 {
			return nil, errShortHMACKey
		}
		return hmacSum(a, k, input, &sc.digest), nil
	case famEd:
		k, ok := key.(ed25519.PrivateKey)
		if !ok || len(k) != ed25519.PrivateKeySize {
			return nil, ErrKeyType
		}
		return ed25519.Sign(k, input), nil
	}
	switch a.fam {
	case famRSA, famPSS:
		k, ok := key.(*rsa.PrivateKey)
		if !ok || k == nil || k.N == nil {
			return nil, ErrKeyType
		}
		digest := sc.digestOf(a, input)
		if a.fam == famRSA {
			return rsa.SignPKCS1v15(rand.Reader, k, a.hash, digest)
		}
		return rsa.SignPSS(rand.Reader, k, a.hash, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case famEC:
		k, ok := key.(*ecdsa.PrivateKey)
		if !ok || k == nil || k.Curve == nil || (k.Curve.Params().BitSize+7)/8 != a.curve {
			return nil, ErrKeyType
		}
		return ecdsaSignRaw(sc.sig[:0], k, sc.digestOf(a, input), a.curve)
	}
	return nil, ErrAlgorithm
}

// HeaderJSON returns the compact header JSON {"alg":…,"kid":…,"typ":…}
// with keys in sorted order (as PyJWT writes them) and empty fields
// omitted. Strings are escaped as encoding/json escapes them.
func HeaderJSON(alg, kid, typ string) []byte {
	b := make([]byte, 0, len(`{"alg":"","kid":"","typ":""}`)+len(alg)+len(kid)+len(typ))
	b = append(b, `{"alg":`...)
	b = jsonstr.Append(b, alg)
	if kid != "" {
		b = append(b, `,"kid":`...)
		b = jsonstr.Append(b, kid)
	}
	if typ != "" {
		b = append(b, `,"typ":`...)
		b = jsonstr.Append(b, typ)
	}
	return append(b, '}')
}

// maxECIntBytes is the longest r or s of a supported curve (P-521).
const maxECIntBytes = 66

// ecdsaSignRaw signs digest with k and appends to dst the JWS form of the
// signature, r||s with each left-padded to size bytes (RFC 7518 section
// 3.4), always low-S: s is replaced by n-s when above n/2, so that the
// token has the one spelling that verifiers refusing high-S accept. It
// goes through ecdsa.SignASN1 and converts the DER, which costs far fewer
// allocations than ecdsa.Sign's big.Int results.
func ecdsaSignRaw(dst []byte, k *ecdsa.PrivateKey, digest []byte, size int) ([]byte, error) {
	der, err := ecdsa.SignASN1(rand.Reader, k, digest)
	if err != nil {
		return nil, err
	}
	dst = slices.Grow(dst, 2*size)
	out := dst[len(dst) : len(dst)+2*size]
	if !derToRaw(der, out[:size], out[size:]) {
		return nil, errors.New("jws: ecdsa signature is not the expected DER")
	}
	if o := orderOf(k.Curve); highS(o, out[size:]) {
		negate(out[size:], o.n)
	}
	return dst[:len(dst)+2*size], nil
}

// order is a curve's order n and n/2, big-endian in the curve's signature
// size.
type order struct{ n, half []byte }

// orders caches the order of each curve.
var orders sync.Map // elliptic.Curve -> *order

func orderOf(curve elliptic.Curve) *order {
	if o, ok := orders.Load(curve); ok {
		return o.(*order)
	}
	params := curve.Params()
	size := (params.BitSize + 7) / 8
	o := &order{n: make([]byte, size), half: make([]byte, size)}
	params.N.FillBytes(o.n)
	new(big.Int).Rsh(params.N, 1).FillBytes(o.half)
	v, _ := orders.LoadOrStore(curve, o)
	return v.(*order)
}

// highS reports whether the big-endian s (of the curve's signature size)
// is above half the order o. The comparison is of public values.
func highS(o *order, s []byte) bool {
	return len(o.half) == len(s) && bytes.Compare(s, o.half) > 0
}

// negate replaces the big-endian s, 0 < s < n and of n's length, with
// n - s.
func negate(s, n []byte) {
	borrow := 0
	for i := len(s) - 1; i >= 0; i-- {
		d := int(n[i]) - int(s[i]) - borrow
		borrow = 0
		if d < 0 {
			d += 256
			borrow = 1
		}
		s[i] = byte(d)
	}
}

// ecdsaVerifyRaw reports whether sig, r||s of len(sig)/2 bytes each, is a
// valid signature of digest by k. It encodes the signature as DER on the
// stack for ecdsa.VerifyASN1.
func ecdsaVerifyRaw(k *ecdsa.PublicKey, digest, sig []byte) bool {
	if len(sig)%2 != 0 || len(sig) > 2*maxECIntBytes {
		return false
	}
	var buf [3 + 2*(2+1+maxECIntBytes)]byte
	half := len(sig) / 2
	return ecdsa.VerifyASN1(k, digest, rawToDER(buf[:0], sig[:half], sig[half:]))
}

// derToRaw parses the DER Ecdsa-Sig-Value SEQUENCE { r INTEGER, s INTEGER }
// (RFC 3279 section 2.2.3) into r and s, each left-padded to its length.
// It accepts only minimal, positive encodings that fit.
func derToRaw(der, r, s []byte) bool {
	body, rest, ok := derElem(der, 0x30)
	if !ok || len(rest) != 0 {
		return false
	}
	ri, body, ok := derElem(body, 0x02)
	if !ok || !fillInt(r, ri) {
		return false
	}
	si, body, ok := derElem(body, 0x02)
	return ok && len(body) == 0 && fillInt(s, si)
}

// derElem splits the DER element with the given tag off the front of b.
// Lengths are short form or one-byte long form (at most 255), which covers
// every ECDSA signature of a supported curve.
func derElem(b []byte, tag byte) (content, rest []byte, ok bool) {
	if len(b) < 2 || b[0] != tag {
		return nil, nil, false
	}
	n := int(b[1])
	b = b[2:]
	switch {
	case n < 0x80:
	case n == 0x81 && len(b) > 0 && b[0] >= 0x80:
		n = int(b[0])
		b = b[1:]
	default:
		return nil, nil, false
	}
	if len(b) < n {
		return nil, nil, false
	}
	return b[:n], b[n:], true
}

// fillInt writes the DER INTEGER content v, which must be minimal and not
// negative, into dst, left-padded with zeros.
func fillInt(dst, v []byte) bool {
	if len(v) == 0 || v[0]&0x80 != 0 {
		return false
	}
	if len(v) > 1 && v[0] == 0 {
		if v[1]&0x80 == 0 {
			return false // not minimal
		}
		v = v[1:]
	}
	if len(v) > len(dst) {
		return false
	}
	clear(dst[:len(dst)-len(v)])
	copy(dst[len(dst)-len(v):], v)
	return true
}

// rawToDER appends to dst the DER Ecdsa-Sig-Value of the big-endian
// unsigned integers r and s (each at most maxECIntBytes long).
func rawToDER(dst, r, s []byte) []byte {
	r, s = trimZeros(r), trimZeros(s)
	n := derIntLen(r) + derIntLen(s)
	dst = append(dst, 0x30)
	if n >= 0x80 {
		dst = append(dst, 0x81)
	}
	dst = append(dst, byte(n))
	return appendDERInt(appendDERInt(dst, r), s)
}

func trimZeros(v []byte) []byte {
	for len(v) > 0 && v[0] == 0 {
		v = v[1:]
	}
	return v
}

// derIntLen is the encoded length of the DER INTEGER of the trimmed,
// unsigned v: a 0x00 goes before a high bit, and zero is one 0x00.
func derIntLen(v []byte) int {
	n := len(v)
	if n == 0 || v[0]&0x80 != 0 {
		n++
	}
	return 2 + n
}

func appendDERInt(dst, v []byte) []byte {
	dst = append(dst, 0x02, byte(derIntLen(v)-2))
	if len(v) == 0 || v[0]&0x80 != 0 {
		dst = append(dst, 0)
	}
	return append(dst, v...)
}
