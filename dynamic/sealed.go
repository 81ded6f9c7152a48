package dynamic

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/replay"
)

// Sealed token format, version 1. The token is the unpadded base64url
// encoding (RFC 4648 section 5) of:
//
//	version   1 byte   0x01
//	flags     1 byte   0x01 a UUID follows the nonce, 0x02 a key id follows; other bits 0
//	key id    1+n      n in 1..32, printable ASCII (only with flag 0x02)
//	timestamp 8 bytes  unix milliseconds, big-endian, 0 to the end of year 9999
//	nonce     16 bytes from crypto/rand
//	uuid      1+n      n in 12..32 bytes (only with flag 0x01)
//	tag       32 bytes HMAC-SHA256(key, "m2m/dynamic/v1" || 0x00 || all the bytes above)
const (
	sealedVersion  = 0x01
	flagUUID       = 0x01
	flagKeyID      = 0x02
	nonceBytes     = 16
	tagBytes       = sha256.Size
	maxKeyIDBytes  = 32
	minUUIDBytes   = 12
	maxUUIDBytes   = 32
	sealedMACLabel = "m2m/dynamic/v1\x00"
	maxSealedMS    = 253402300799999 // 9999-12-31T23:59:59.999Z
)

// MaxSealedTokenBytes bounds a sealed token; longer tokens are refused
// before decoding. The largest valid token is 166 characters.
const MaxSealedTokenBytes = 168

// MinKeyBytes is the shortest secret a [Key] may hold.
const MinKeyBytes = 16

// DefaultMaxFuture is how far in the future a sealed token's timestamp may
// lie when MaxFuture is zero: clocks of machines that talk to each other
// are rarely further apart.
const DefaultMaxFuture = 5 * time.Second

// Key is a sealed-mode secret and its optional id.
type Key struct {
	// ID names the key in tokens so that a verifier holding several keys
	// picks the right one; "" sends no id. At most 32 printable ASCII
	// characters.
	ID string
	// Secret is the HMAC-SHA256 key, at least MinKeyBytes long; 32 random
	// bytes are right.
	Secret m2m.Secret
}

// Sealed issues and accepts sealed dynamic tokens: the interface of the
// dynamic-token crate (a timestamp, random noise and an optional UUID,
// valid within a tolerance) with what the crate only promises. The key
// never leaves the machine; an HMAC-SHA256 tag covers the version, the
// millisecond timestamp, a 128-bit random nonce and the UUID, so none can
// be changed; and [Sealed.Accept] accepts each token once.
//
// A Sealed is safe for concurrent use once configured; do not change its
// fields afterwards.
type Sealed struct {
	// Keys holds the secrets. Keys[0] signs new tokens; every key
	// verifies, so a new key can be put first while tokens signed with the
	// old one are still accepted. At least one key is required.
	Keys []Key
	// Tolerance is how old a token may be; 0 means DefaultTolerance and
	// [NoTolerance] (or any negative value) means none: only a token
	// stamped in the verifier's current millisecond is accepted.
	Tolerance time.Duration
	// MaxFuture is how far ahead of the verifier's clock a token's
	// timestamp may be; 0 means DefaultMaxFuture and a negative value
	// (such as [NoTolerance]) means none, as for Tolerance.
	MaxFuture time.Duration
	// RequireUUID refuses tokens without a UUID (status uuid_required).
	RequireUUID bool
	// Replay records accepted tokens. Nil means an in-memory cache private
	// to this Sealed value, which protects a single process; several
	// replicas must share one (package redisstore).
	Replay m2m.ReplayCache
	// Now returns the current time (nil means time.Now).
	Now func() time.Time
	// Rand is the source of nonces (nil means crypto/rand).
	Rand io.Reader

	once sync.Once
	mem  *replay.Memory
}

var _ Codec = (*Sealed)(nil)

func (s *Sealed) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Sealed) windows() (tol, future time.Duration) {
	tol, future = s.Tolerance, s.MaxFuture
	switch {
	case tol == 0:
		tol = DefaultTolerance
	case tol < 0:
		tol = 0
	}
	switch {
	case future == 0:
		future = DefaultMaxFuture
	case future < 0:
		future = 0
	}
	return tol, future
}

func checkKey(k Key) error {
	if len(k.Secret) < MinKeyBytes {
		return fmt.Errorf("dynamic: sealed: key %q shorter than %d bytes", k.ID, MinKeyBytes)
	}
	if len(k.ID) > maxKeyIDBytes {
		return errors.New("dynamic: sealed: key id longer than 32 bytes")
	}
	for i := 0; i < len(k.ID); i++ {
		if k.ID[i] < 0x21 || k.ID[i] > 0x7e {
			return errors.New("dynamic: sealed: key id must be printable ASCII")
		}
	}
	return nil
}

func readRand(rd io.Reader, b []byte) error {
	if rd == nil {
		rd = rand.Reader
	}
	if _, err := io.ReadFull(rd, b); err != nil {
		return fmt.Errorf("dynamic: reading random bytes: %w", err)
	}
	return nil
}

// parseUUID turns a UUID given as hex (hyphens allowed, any case, 24 to 64
// digits, an even number) into bytes.
func parseUUID(uuid string) ([]byte, error) {
	h := strings.ReplaceAll(uuid, "-", "")
	if len(h) < 2*minUUIDBytes || len(h) > 2*maxUUIDBytes || len(h)%2 != 0 {
		return nil, errors.New("dynamic: sealed: uuid must have an even number of hex digits, 24 to 64")
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil, errors.New("dynamic: sealed: uuid must be hexadecimal")
	}
	return b, nil
}

// Encode returns a new sealed token signed with Keys[0], carrying uuid
// when it is not "". uuid is hex (hyphens are removed; 24 to 64 digits);
// the verifier reports it as lower-case hex without hyphens.
func (s *Sealed) Encode(uuid string) (string, error) {
	if len(s.Keys) == 0 {
		return "", errors.New("dynamic: sealed: no key")
	}
	k := s.Keys[0]
	if err := checkKey(k); err != nil {
		return "", err
	}
	var id []byte
	if uuid != "" {
		var err error
		if id, err = parseUUID(uuid); err != nil {
			return "", err
		}
	}
	ms := s.now().UnixMilli()
	if ms < 0 || ms > maxSealedMS {
		return "", errors.New("dynamic: sealed: clock outside 1970..9999")
	}
	b := make([]byte, 0, 2+1+maxKeyIDBytes+8+nonceBytes+1+maxUUIDBytes+tagBytes)
	flags := byte(0)
	if id != nil {
		flags |= flagUUID
	}
	if k.ID != "" {
		flags |= flagKeyID
	}
	b = append(b, sealedVersion, flags)
	if k.ID != "" {
		b = append(b, byte(len(k.ID)))
		b = append(b, k.ID...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(ms))
	nonce := b[len(b) : len(b)+nonceBytes]
	if err := readRand(s.Rand, nonce); err != nil {
		return "", err
	}
	b = b[:len(b)+nonceBytes]
	if id != nil {
		b = append(b, byte(len(id)))
		b = append(b, id...)
	}
	m := hmac.New(sha256.New, k.Secret)
	m.Write([]byte(sealedMACLabel))
	m.Write(b)
	b = m.Sum(b)
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// sealedToken is a parsed, not yet verified, token.
type sealedToken struct {
	keyID  string
	hasKID bool
	ms     int64
	nonce  []byte
	uuid   []byte
	signed []byte // the bytes the tag covers
	tag    []byte
}

var errMalformed = errors.New("malformed")

func parseSealed(token string) (*sealedToken, error) {
	if len(token) > MaxSealedTokenBytes {
		return nil, errMalformed
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || strings.ContainsAny(token, "\r\n") {
		return nil, errMalformed
	}
	if len(b) < 2+8+nonceBytes+tagBytes || b[0] != sealedVersion || b[1]&^(flagUUID|flagKeyID) != 0 {
		return nil, errMalformed
	}
	t := &sealedToken{signed: b[:len(b)-tagBytes], tag: b[len(b)-tagBytes:]}
	rest := t.signed[2:]
	if b[1]&flagKeyID != 0 {
		if len(rest) < 1 {
			return nil, errMalformed
		}
		n := int(rest[0])
		if n < 1 || n > maxKeyIDBytes || len(rest) < 1+n {
			return nil, errMalformed
		}
		t.keyID, t.hasKID = string(rest[1:1+n]), true
		rest = rest[1+n:]
	}
	if len(rest) < 8+nonceBytes {
		return nil, errMalformed
	}
	t.ms = int64(binary.BigEndian.Uint64(rest))
	t.nonce = rest[8 : 8+nonceBytes]
	rest = rest[8+nonceBytes:]
	if b[1]&flagUUID != 0 {
		if len(rest) < 1 {
			return nil, errMalformed
		}
		n := int(rest[0])
		if n < minUUIDBytes || n > maxUUIDBytes || len(rest) != 1+n {
			return nil, errMalformed
		}
		t.uuid = rest[1:]
		rest = nil
	}
	if len(rest) != 0 || t.ms < 0 || t.ms > maxSealedMS {
		return nil, errMalformed
	}
	return t, nil
}

// Decode verifies token at the current time without recording its use:
// the tag, the time window and, with RequireUUID, the UUID. Use
// [Sealed.Accept] to accept a token; Decode is for inspection.
func (s *Sealed) Decode(token string) Result {
	r, _ := s.decode(token)
	return r
}

// decode returns the result and, for a valid token, its nonce.
func (s *Sealed) decode(token string) (Result, []byte) {
	r := Result{Status: StatusInvalid, Reason: m2m.ReasonMalformed}
	if len(token) > MaxSealedTokenBytes {
		r.Reason = m2m.ReasonTooLarge
		return r, nil
	}
	t, err := parseSealed(token)
	if err != nil {
		return r, nil
	}
	found, matched := false, false
	var sum [tagBytes]byte
	for _, k := range s.Keys {
		if t.hasKID && k.ID != t.keyID || checkKey(k) != nil {
			continue
		}
		found = true
		m := hmac.New(sha256.New, k.Secret)
		m.Write([]byte(sealedMACLabel))
		m.Write(t.signed)
		if hmac.Equal(m.Sum(sum[:0]), t.tag) {
			matched = true
		}
	}
	switch {
	case !found:
		r.Reason = m2m.ReasonUnknownKey
		return r, nil
	case !matched:
		r.Reason = m2m.ReasonBadSignature
		return r, nil
	}
	r.KeyID = t.keyID
	if t.uuid != nil {
		r.UUID = hex.EncodeToString(t.uuid)
	}
	tol, future := s.windows()
	now := s.now().UnixMilli()
	r.AgeMS, r.AgeKnown = now-t.ms, true // 0 <= t.ms < 2^48: no overflow for any real clock
	switch {
	case r.AgeMS > tol.Milliseconds():
		r.Status, r.Reason = StatusTimedOut, m2m.ReasonExpired
		return r, nil
	case r.AgeMS < -future.Milliseconds():
		r.Status, r.Reason = StatusTimedOut, m2m.ReasonNotYetValid
		return r, nil
	case s.RequireUUID && t.uuid == nil:
		r.Status, r.Reason = StatusUUIDRequired, m2m.ReasonMissingClaim
		return r, nil
	}
	r.Valid, r.Status, r.Reason = true, StatusOK, ""
	r.Expiry = time.UnixMilli(t.ms + tol.Milliseconds() + 1)
	return r, t.nonce
}

// Accept verifies token like Decode and records its nonce in the replay
// cache until the token can no longer be valid, so that each token is
// accepted once: a second presentation gives StatusReplayed. An error
// means the replay cache failed; the token is then refused.
func (s *Sealed) Accept(ctx context.Context, token string) (Result, error) {
	r, nonce := s.decode(token)
	if !r.Valid {
		return r, nil
	}
	cache := s.Replay
	if cache == nil {
		s.once.Do(func() { s.mem = &replay.Memory{Now: s.Now} })
		cache = s.mem
	}
	first, err := cache.Use(ctx, "dynamic:"+hex.EncodeToString(nonce), r.Expiry)
	if err != nil {
		r.Valid, r.Status, r.Reason = false, StatusInvalid, ""
		return r, fmt.Errorf("dynamic: replay cache: %w", err)
	}
	if !first {
		r.Valid, r.Status, r.Reason, r.Expiry = false, StatusReplayed, m2m.ReasonReplayed, time.Time{}
	}
	return r, nil
}
