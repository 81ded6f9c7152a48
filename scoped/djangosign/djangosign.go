// Package djangosign implements Django's cryptographic signing
// (django.core.signing): signing.dumps and signing.loads in the
// TimestampSigner format, byte for byte as Django 3.2 writes and reads it.
//
// A token is
//
//	payload ":" timestamp ":" signature
//
// where payload is the URL-safe, unpadded base64 of the JSON text (or "."
// followed by the base64 of its zlib compression), timestamp is the unix
// time in base62, and signature is the unpadded URL-safe base64 of
// HMAC-H(key = H(salt + "signer" + SECRET_KEY), payload ":" timestamp).
// H is SHA-256 since Django 3.1 and SHA-1 before; Django 3.1 and 3.2 also
// accept SHA-1 signatures ([Signer.LegacySHA1]), Django 4.1 tries
// SECRET_KEY_FALLBACKS ([Signer.Fallbacks]).
//
// Verification follows Django exactly, including what is lax there (a
// timestamp in the future is valid; a token of age equal to max_age is
// valid), with two deliberate differences: every input is size-bounded
// (a compressed payload may not inflate past [Signer.MaxPayloadBytes]) and
// nothing panics.
package djangosign

import (
	"bytes"
	"compress/zlib"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"math/big"
	"strings"
	"time"

	"github.com/m2mkit/m2m/scoped/internal/pyjson"
)

// Algorithm is a Django DEFAULT_HASHING_ALGORITHM.
type Algorithm string

// The hash algorithms Django signs with.
const (
	SHA256 Algorithm = "sha256" // Django 3.1 and later
	SHA1   Algorithm = "sha1"   // Django 3.0 and earlier
)

// DefaultSalt is the salt signing.dumps and signing.loads use when none is
// given.
const DefaultSalt = "django.core.signing"

// Defaults for the size limits.
const (
	DefaultMaxTokenBytes   = 16 << 10 // longest token Unsign accepts
	DefaultMaxPayloadBytes = 64 << 10 // largest decoded (inflated) payload
)

// NoMaxAge disables the age check of [Signer.Unsign], as max_age=None does.
var NoMaxAge = math.Inf(1)

// Signer signs and verifies values the way Django's TimestampSigner does.
// Its zero value is not usable: Key is required. A Signer is safe for
// concurrent use once configured.
type Signer struct {
	// Key is the SECRET_KEY (its UTF-8 bytes). Required.
	Key []byte
	// Fallbacks are older keys that still verify (SECRET_KEY_FALLBACKS,
	// Django 4.1+). They never sign.
	Fallbacks [][]byte
	// Salt separates uses of one key. The zero value means [DefaultSalt].
	// (Python's salt="" means "django.core.signing.TimestampSigner".)
	Salt string
	// Algorithm signs and verifies; the zero value means [SHA256].
	Algorithm Algorithm
	// LegacySHA1 also accepts SHA-1 signatures, as Django 3.1 and 3.2 do
	// while DEFAULT_HASHING_ALGORITHM is sha256.
	LegacySHA1 bool
	// MaxTokenBytes bounds the token length; zero means
	// [DefaultMaxTokenBytes].
	MaxTokenBytes int
	// MaxPayloadBytes bounds the decoded payload, after inflation; zero
	// means [DefaultMaxPayloadBytes]. Django has no such limit.
	MaxPayloadBytes int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Error is a refused or undecodable token. Class is the Python exception
// Django raises in the same case: "BadSignature", "SignatureExpired", or,
// for a payload that fails to decode after a valid signature,
// "JSONDecodeError", "error" (zlib.error), "Error" (binascii.Error),
// "ValueError", "IndexError", "OverflowError", "RecursionError".
// Our own limits use "TooLarge". Error never contains the token.
type Error struct {
	Class string
	msg   string // client-safe text
	// django is the str(exception) Django gives, which may quote the
	// token's signature.
	django string
	// Age and MaxAge are set for SignatureExpired (seconds).
	Age, MaxAge float64
}

// Error returns a client-safe description that never quotes the token.
func (e *Error) Error() string { return "djangosign: " + e.msg }

// DjangoMessage returns the text Django's exception carries for the same
// failure (str(exc)), where this package reproduces it: the BadSignature
// and SignatureExpired messages exactly. It may quote the token's
// signature; do not log it where tokens must not appear.
func (e *Error) DjangoMessage() string { return e.django }

// Expired reports whether e is a SignatureExpired.
func (e *Error) Expired() bool { return e.Class == "SignatureExpired" }

// Sentinel-style checks.
var (
	// ErrBadSignature matches, with errors.Is, every BadSignature.
	ErrBadSignature = errors.New("djangosign: bad signature")
	// ErrExpired matches, with errors.Is, every SignatureExpired.
	ErrExpired = errors.New("djangosign: signature expired")
)

// Is makes errors.Is(err, ErrBadSignature) and (…, ErrExpired) work.
// SignatureExpired is a BadSignature, as in Django.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrBadSignature:
		return e.Class == "BadSignature" || e.Class == "SignatureExpired"
	case ErrExpired:
		return e.Class == "SignatureExpired"
	}
	return false
}

func (s *Signer) salt() string {
	if s.Salt == "" {
		return DefaultSalt
	}
	return s.Salt
}

func (s *Signer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func hasher(a Algorithm) (func() hash.Hash, error) {
	switch a {
	case SHA256, "":
		return sha256.New, nil
	case SHA1:
		return sha1.New, nil
	}
	return nil, fmt.Errorf("djangosign: unsupported algorithm %q", a)
}

// signature computes Django's base64_hmac(salt + "signer", value, key).
func signature(h func() hash.Hash, salt string, key []byte, value string) []byte {
	kh := h()
	kh.Write([]byte(salt))
	kh.Write([]byte("signer"))
	kh.Write(key)
	m := hmac.New(h, kh.Sum(nil))
	m.Write([]byte(value))
	sum := m.Sum(nil)
	out := make([]byte, base64.RawURLEncoding.EncodedLen(len(sum)))
	base64.RawURLEncoding.Encode(out, sum)
	return out
}

// Sign returns the token for payload, the exact JSON text to sign (Django
// encodes it as latin-1, so it must be ASCII or latin-1 bytes), signed at
// the current time. With compress, the payload is zlib-compressed when
// that saves at least two bytes, as signing.dumps(compress=True) does;
// the compressed bytes are exactly zlib's at level 6, so the token is the
// one Django writes.
func (s *Signer) Sign(payload []byte, compress bool) (string, error) {
	if len(s.Key) == 0 {
		return "", errors.New("djangosign: no key")
	}
	h, err := hasher(s.Algorithm)
	if err != nil {
		return "", err
	}
	data := payload
	prefix := ""
	if compress {
		if z := zlibCompress(payload); len(z) < len(payload)-1 {
			// The compressor is a hand port of zlib's; inflate its output
			// with compress/zlib before signing, so that a bug in it is an
			// error here rather than a token Django cannot decompress.
			if !inflatesTo(z, payload) {
				return "", errors.New("djangosign: internal error: compressed payload does not inflate to the payload")
			}
			data = z
			prefix = "."
		}
	}
	value := prefix + base64.RawURLEncoding.EncodeToString(data) + ":" + B62Encode(unixTrunc(s.now()))
	return value + ":" + string(signature(h, s.salt(), s.Key, value)), nil
}

// inflatesTo reports whether z is a zlib stream of exactly want.
func inflatesTo(z, want []byte) bool {
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return false
	}
	got, err := io.ReadAll(io.LimitReader(zr, int64(len(want))+1))
	return err == nil && bytes.Equal(got, want)
}

// Dumps signs the JSON encoding of v, as signing.dumps does. v is encoded
// with encoding/json and then re-serialised in Python's form (compact,
// non-ASCII as \u escapes, key order kept), so struct field order is the
// key order; maps have their keys sorted by encoding/json.
func (s *Signer) Dumps(v any, compress bool) (string, error) {
	j, err := PythonJSON(v)
	if err != nil {
		return "", err
	}
	return s.Sign(j, compress)
}

// unixTrunc returns int(time.time()): seconds truncated toward zero.
func unixTrunc(t time.Time) int64 {
	sec := t.Unix()
	if sec < 0 && t.Nanosecond() > 0 {
		sec++
	}
	return sec
}

// UnixFloat returns t as Python's time.time() float.
func UnixFloat(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

func badSig(sig string) *Error {
	return &Error{Class: "BadSignature", msg: "signature does not match", django: `Signature "` + sig + `" does not match`}
}

// Unsign verifies token and returns the decoded payload bytes (the JSON
// text, still latin-1) and the signing time, as TimestampSigner.unsign
// followed by the base64 and zlib steps of signing.loads. maxAge is in
// seconds; [NoMaxAge] skips the age check. A token is expired when its age
// (now minus its timestamp, in float seconds) is greater than maxAge, so
// age == maxAge is valid and a future timestamp is valid (Django's rules).
func (s *Signer) Unsign(token string, maxAge float64) ([]byte, *big.Int, error) {
	limit := s.MaxTokenBytes
	if limit <= 0 {
		limit = DefaultMaxTokenBytes
	}
	if len(token) > limit {
		return nil, nil, &Error{Class: "TooLarge", msg: "token too large"}
	}
	if len(s.Key) == 0 {
		return nil, nil, errors.New("djangosign: no key")
	}
	value, sig, ok := cutLast(token)
	if !ok {
		return nil, nil, &Error{Class: "BadSignature", msg: "no separator in token", django: `No ":" found in value`}
	}
	if err := s.verify(value, sig); err != nil {
		return nil, nil, err
	}
	payload, ts, ok := cutLast(value)
	if !ok {
		return nil, nil, &Error{Class: "ValueError", msg: "signed value has no timestamp", django: "not enough values to unpack (expected 2, got 1)"}
	}
	stamp, err := B62Decode(ts)
	if err != nil {
		return nil, nil, err
	}
	if maxAge != NoMaxAge {
		tsf, acc := new(big.Float).SetInt(stamp).Float64()
		if math.IsInf(tsf, 0) || (acc != big.Exact && math.Abs(tsf) == math.MaxFloat64) {
			return nil, nil, &Error{Class: "OverflowError", msg: "timestamp out of range", django: "int too large to convert to float"}
		}
		age := UnixFloat(s.now()) - tsf
		if age > maxAge {
			return nil, nil, &Error{Class: "SignatureExpired", msg: "signature expired", Age: age, MaxAge: maxAge,
				django: "Signature age " + pyjson.FloatRepr(age) + " > " + numRepr(maxAge) + " seconds"}
		}
	}
	data, err := s.decodePayload(payload)
	if err != nil {
		return nil, nil, err
	}
	return data, stamp, nil
}

// numRepr formats max_age as Python would for an int when it is integral.
func numRepr(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e16 {
		return fmt.Sprintf("%.0f", f)
	}
	return pyjson.FloatRepr(f)
}

func cutLast(s string) (before, after string, ok bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

// verify compares sig with the signature of value under every accepted
// key and algorithm, in constant time for each.
func (s *Signer) verify(value, sig string) error {
	algs := []Algorithm{s.Algorithm}
	if s.Algorithm == "" {
		algs[0] = SHA256
	}
	if s.LegacySHA1 && algs[0] != SHA1 {
		algs = append(algs, SHA1)
	}
	keys := append([][]byte{s.Key}, s.Fallbacks...)
	salt := s.salt()
	ok := false
	for _, key := range keys {
		for _, a := range algs {
			h, err := hasher(a)
			if err != nil {
				return err
			}
			if hmac.Equal([]byte(sig), signature(h, salt, key, value)) {
				ok = true
			}
		}
	}
	if !ok {
		return badSig(sig)
	}
	return nil
}

// decodePayload undoes the base64 and optional zlib steps.
func (s *Signer) decodePayload(p string) ([]byte, error) {
	limit := s.MaxPayloadBytes
	if limit <= 0 {
		limit = DefaultMaxPayloadBytes
	}
	compressed := strings.HasPrefix(p, ".")
	if compressed {
		p = p[1:]
	}
	data, err := B64Decode(p)
	if err != nil {
		return nil, err
	}
	if !compressed {
		if len(data) > limit {
			return nil, &Error{Class: "TooLarge", msg: "payload too large"}
		}
		return data, nil
	}
	zr, err := zlib.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, &Error{Class: "error", msg: "bad compressed payload", django: "Error -3 while decompressing data: incorrect header check"}
	}
	out, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return nil, &Error{Class: "error", msg: "bad compressed payload", django: "Error while decompressing data"}
	}
	if len(out) > limit {
		return nil, &Error{Class: "TooLarge", msg: "compressed payload inflates past the limit"}
	}
	return out, nil
}

// Loads verifies token and decodes its payload as signing.loads(token,
// key, salt, max_age=maxAge) does. It returns the payload re-serialised
// as compact JSON in Python's form; like Python's json it may contain
// NaN, Infinity and integers beyond 64 bits.
func (s *Signer) Loads(token string, maxAge float64) ([]byte, error) {
	data, _, err := s.Unsign(token, maxAge)
	if err != nil {
		return nil, err
	}
	v, err := pyjson.ParseLatin1(data)
	if err != nil {
		var pe *pyjson.Error
		if errors.As(err, &pe) {
			return nil, &Error{Class: pe.Class, msg: "payload is not JSON: " + pe.Msg}
		}
		return nil, err
	}
	return pyjson.Encode(v), nil
}

// Inspection is what [Inspect] finds in a token without verifying it.
type Inspection struct {
	// Payload is the payload re-serialised in Python's compact JSON form
	// (it may contain NaN or Infinity, as Python's json allows).
	Payload    []byte
	Compressed bool
	Timestamp  *big.Int // the signing time in unix seconds
	// Algorithm is what the signature length suggests: SHA256 for 43
	// characters, SHA1 for 27, "" otherwise.
	Algorithm Algorithm
}

// Inspect decodes token without checking its signature: only for
// debugging, never to make a decision. It applies the same size limits as
// [Signer.Unsign] with their defaults.
func Inspect(token string) (*Inspection, error) {
	if len(token) > DefaultMaxTokenBytes {
		return nil, &Error{Class: "TooLarge", msg: "token too large"}
	}
	value, sig, ok := cutLast(token)
	if !ok {
		return nil, &Error{Class: "BadSignature", msg: "no separator in token", django: `No ":" found in value`}
	}
	payload, ts, ok := cutLast(value)
	if !ok {
		return nil, &Error{Class: "ValueError", msg: "signed value has no timestamp"}
	}
	stamp, err := B62Decode(ts)
	if err != nil {
		return nil, err
	}
	data, err := (&Signer{}).decodePayload(payload)
	if err != nil {
		return nil, err
	}
	v, err := pyjson.ParseLatin1(data)
	if err != nil {
		class := "JSONDecodeError"
		var pe *pyjson.Error
		if errors.As(err, &pe) {
			class = pe.Class
		}
		return nil, &Error{Class: class, msg: "payload is not JSON"}
	}
	in := &Inspection{Payload: pyjson.Encode(v), Compressed: strings.HasPrefix(payload, "."), Timestamp: stamp}
	switch len(sig) {
	case 43:
		in.Algorithm = SHA256
	case 27:
		in.Algorithm = SHA1
	}
	return in, nil
}
