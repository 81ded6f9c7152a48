package dynamic

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/m2mkit/m2m"
)

// DefaultRandChars are the crate's default separator characters.
const DefaultRandChars = "%.,"

// DefaultTolerance is how far a token's timestamp may lie from the
// verifier's clock when Tolerance is zero, as in the crate: 5 minutes.
const DefaultTolerance = 5 * time.Minute

// NoTolerance, as a Tolerance of [Compat] or [Sealed], allows none: the
// token's timestamp must be the verifier's current millisecond (the
// crate's set_tolerance(0)). Any negative Tolerance means the same. It is
// how an explicit zero is written, since a zero Tolerance means
// [DefaultTolerance] (the convention of jwtauth.NoLeeway).
const NoTolerance time.Duration = -1

// MaxCompatTokenBytes bounds a compat token; longer tokens are refused
// before decoding. The crate has no bound.
const MaxCompatTokenBytes = 1024

// maxToleranceMS is the crate's limit: set_tolerance takes a u32.
const maxToleranceMS = math.MaxUint32

// maxCompatUUIDBytes bounds the uuid passed to Compat.Encode.
const maxCompatUUIDBytes = 256

// Status is the outcome of a decode, spelled as the crate's status_key()
// spells it, plus "replayed" for sealed tokens seen before.
type Status string

// The statuses. StatusInvalidTimestamp keeps the crate's spelling.
const (
	StatusInvalid          Status = "invalid"          // AuthStatus::None: not a token for this key
	StatusOK               Status = "ok"               // valid
	StatusUUIDRequired     Status = "uuid_required"    // a UUID was required but is missing or broken
	StatusInvalidTimestamp Status = "invalid_imestamp" // the timestamp is malformed or was not checked
	StatusTimedOut         Status = "timed_out"        // outside the tolerance
	StatusReplayed         Status = "replayed"         // a sealed token that was already accepted once
)

// CrateName returns the crate's AuthStatus variant name for s (None, Ok,
// UuidRequired, InvalidTimestamp, TimedOut); "Replayed" for StatusReplayed.
func (s Status) CrateName() string {
	switch s {
	case StatusOK:
		return "Ok"
	case StatusUUIDRequired:
		return "UuidRequired"
	case StatusInvalidTimestamp:
		return "InvalidTimestamp"
	case StatusTimedOut:
		return "TimedOut"
	case StatusReplayed:
		return "Replayed"
	}
	return "None"
}

// Result is the outcome of decoding a token, the crate's ValidAuthToken.
type Result struct {
	// Valid reports whether the token is accepted.
	Valid bool
	// UUID is the user id carried by the token as lower-case hex without
	// hyphens, or "" when there is none (or it was not looked at).
	UUID string
	// AgeMS is the verifier's clock minus the token's timestamp in
	// milliseconds (negative for a token from the future). It is
	// meaningful only when AgeKnown is true.
	AgeMS int64
	// AgeKnown reports whether the timestamp was checked; the crate skips
	// the check for some tokens (see Compat.Quirks).
	AgeKnown bool
	// Status says why the token was refused, or StatusOK.
	Status Status
	// Reason is the m2m reason code for a refusal ("" when valid).
	Reason m2m.Reason
	// KeyID names the sealed key that verified the token, if it has an id.
	KeyID string
	// Expiry is when the token stops being valid; zero when unknown.
	Expiry time.Time
}

// HasUser reports whether the token is valid and carries a UUID, as the
// crate's has_user().
func (r Result) HasUser() bool { return r.Valid && r.UUID != "" }

// Codec encodes and accepts dynamic tokens. [*Sealed] and [*Compat]
// implement it; [Verifier] and [Transport] use it.
type Codec interface {
	// Encode returns a new token, carrying uuid when it is not "".
	Encode(uuid string) (string, error)
	// Accept decodes token and, for single-use tokens, records its use.
	// A refused token gives a Result with Valid false and a nil error; an
	// error is a technical failure (the replay cache did not answer).
	Accept(ctx context.Context, token string) (Result, error)
}

// Compat speaks the token format of the Rust crate dynamic-token 0.1.7
// (and accepts the tokens of its Node port). Its fields are the crate's
// AuthOptions. The API key travels inside the token, so a compat token
// proves only that the sender saw one token: use [Sealed] unless a peer
// speaks only the crate's format.
//
// By default decoding is strict: the timestamp is always checked, a
// required UUID must be present, and tokens on which the crate's debug
// build panics (arithmetic overflow) or that only its wrapping arithmetic
// accepts are refused. Quirks reproduces the crate's release build
// exactly. Compat tokens are not single-use: Accept does not record them.
//
// A Compat is safe for concurrent use once configured.
type Compat struct {
	// APIKey is the shared key (AuthOptions::new), UTF-8 text. It must
	// not be empty.
	APIKey m2m.Secret
	// RandChars are the separator characters (set_rand_char_str); ""
	// means DefaultRandChars. A string with a letter, a digit or '_' is
	// refused with an error, unless Quirks is set, in which case it is
	// silently ignored as the crate does.
	RandChars string
	// Tolerance is how far the token's timestamp may lie from the clock,
	// in either direction, with millisecond resolution; 0 means
	// DefaultTolerance and [NoTolerance] (or any negative value) means
	// none. It must not exceed 2^32-1 ms (a u32 in the crate).
	Tolerance time.Duration
	// CheckUUID asks for the UUID (check_uuid(true)). In strict mode a
	// token without a UUID is then refused; with Quirks it is accepted
	// with an empty UUID, as the crate does.
	CheckUUID bool
	// Quirks reproduces the crate's release build exactly, including its
	// bypasses: a token whose suffix is not base 36 is valid forever, a
	// required UUID may be absent, arithmetic wraps. Use it only to
	// interoperate with peers that depend on that behaviour.
	Quirks bool
	// Now returns the current time (nil means time.Now).
	Now func() time.Time
	// Rand is the source of the random separators and noise (nil means
	// crypto/rand).
	Rand io.Reader
}

var _ Codec = (*Compat)(nil)

// compatParams is a resolved Compat.
type compatParams struct {
	key       string
	chars     []rune
	checkUUID bool
	tolMS     int64
	quirks    bool
}

// CrateRandChars returns the separator characters the crate's
// set_rand_char_str(requested) leaves in effect: requested, unless it
// contains a Unicode alphanumeric character or '_', in which case the
// default "%.,". An empty string is kept (the crate then panics when
// encoding; Compat treats "" as the default).
func CrateRandChars(requested string) string {
	if !validRandChars(requested) {
		return DefaultRandChars
	}
	return requested
}

func validRandChars(s string) bool {
	for _, r := range s {
		if r == '_' || isAlnum(r) {
			return false
		}
	}
	return utf8.ValidString(s)
}

// isAlnum is Rust's char::is_alphanumeric: Alphabetic or Numeric.
func isAlnum(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Other_Alphabetic, r)
}

func (c *Compat) params() (*compatParams, error) {
	if len(c.APIKey) == 0 {
		return nil, errors.New("dynamic: compat: empty API key")
	}
	if !utf8.Valid(c.APIKey) {
		return nil, errors.New("dynamic: compat: API key is not UTF-8")
	}
	chars := c.RandChars
	switch {
	case chars == "":
		chars = DefaultRandChars
	case !validRandChars(chars) && c.Quirks:
		chars = DefaultRandChars
	case !validRandChars(chars):
		return nil, errors.New("dynamic: compat: separator characters must not contain letters, digits or '_'")
	}
	tol := c.Tolerance
	switch {
	case tol == 0:
		tol = DefaultTolerance
	case tol < 0:
		tol = 0
	}
	if tol.Milliseconds() > maxToleranceMS {
		return nil, fmt.Errorf("dynamic: compat: tolerance %v outside 0..%dms", c.Tolerance, int64(maxToleranceMS))
	}
	return &compatParams{key: string(c.APIKey), chars: []rune(chars), checkUUID: c.CheckUUID, tolMS: tol.Milliseconds(), quirks: c.Quirks}, nil
}

func (c *Compat) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Encode returns a new token in the crate's format (to_dynamic_key),
// carrying uuid when it is not "". In strict mode uuid must hold at least
// 24 hex digits once characters other than letters and digits are removed
// (upper-case hex is lowered), the token must decode to the same UUID, and
// the token must be accepted by its own verifier (an API key made of
// base-36 characters can collide with the timestamp); with Quirks the
// crate's silent truncations apply.
func (c *Compat) Encode(uuid string) (string, error) {
	p, err := c.params()
	if err != nil {
		return "", err
	}
	now := c.now().UnixMilli()
	if !p.quirks && uuid != "" {
		if uuid, err = strictCompatUUID(uuid); err != nil {
			return "", err
		}
	}
	tok, err := encodeCompat(p, now, uuid, uuid != "", randInt(c.Rand))
	if err != nil {
		return "", err
	}
	if len(tok) > MaxCompatTokenBytes {
		return "", errors.New("dynamic: compat: token longer than MaxCompatTokenBytes; use a shorter key or uuid")
	}
	if !p.quirks {
		q := *p
		q.checkUUID = uuid != ""
		r := decodeCompat(tok, &q, now)
		if !r.Valid {
			return "", errors.New("dynamic: compat: the API key collides with the token's timestamp; use a key with a character other than 0-9 and a-z")
		}
		if uuid != "" && r.UUID != uuid {
			return "", errors.New("dynamic: compat: this uuid does not survive the crate's encoding")
		}
	}
	return tok, nil
}

// strictCompatUUID strips what the crate strips and requires hex.
func strictCompatUUID(uuid string) (string, error) {
	if len(uuid) > maxCompatUUIDBytes {
		return "", errors.New("dynamic: compat: uuid too long")
	}
	var b strings.Builder
	for _, r := range uuid {
		switch {
		case '0' <= r && r <= '9', 'a' <= r && r <= 'f':
			b.WriteRune(r)
		case 'A' <= r && r <= 'F':
			b.WriteRune(r + 'a' - 'A')
		case isAlnum(r):
			return "", errors.New("dynamic: compat: uuid must be hexadecimal")
		}
	}
	if b.Len() < 24 {
		return "", errors.New("dynamic: compat: uuid needs at least 24 hex digits")
	}
	return b.String(), nil
}

// Decode checks token at the current time, like the crate's
// from_dynamic_key but strict unless Quirks is set. With an invalid
// configuration every token is refused; Accept reports the error.
func (c *Compat) Decode(token string) Result {
	p, err := c.params()
	if err != nil {
		return Result{Status: StatusInvalid, Reason: m2m.ReasonMalformed}
	}
	return decodeCompat(token, p, c.now().UnixMilli())
}

// Accept is Decode; it returns an error only for a bad configuration.
// Compat tokens are not recorded: the format cannot be made single-use.
func (c *Compat) Accept(_ context.Context, token string) (Result, error) {
	p, err := c.params()
	if err != nil {
		return Result{Status: StatusInvalid}, err
	}
	return decodeCompat(token, p, c.now().UnixMilli()), nil
}

// randInt returns the crate's random_int(max): a uniform value below max.
// With a nil reader it uses crypto/rand.
func randInt(rd io.Reader) func(max uint32) (uint32, error) {
	return func(max uint32) (uint32, error) {
		if max == 0 {
			return 0, errors.New("dynamic: compat: no separator characters")
		}
		limit := math.MaxUint32 - (math.MaxUint32%uint64(max)+1)%uint64(max)
		var b [4]byte
		for {
			if err := readRand(rd, b[:]); err != nil {
				return 0, err
			}
			v := binary.BigEndian.Uint32(b[:])
			if uint64(v) <= limit {
				return v % max, nil
			}
		}
	}
}

// encodeCompat is to_dynamic_key with an injected clock and generator.
func encodeCompat(p *compatParams, nowMS int64, uuid string, hasUUID bool, draw func(uint32) (uint32, error)) (string, error) {
	if len(p.chars) == 0 {
		return "", errors.New("dynamic: compat: no separator characters")
	}
	// Bounded before the base-36 conversion, whose cost grows with the
	// square of the uuid's length; in quirks mode no other check runs
	// first. A longer uuid could not fit MaxCompatTokenBytes anyway.
	if len(uuid) > maxCompatUUIDBytes || len(p.key) > MaxCompatTokenBytes {
		return "", errors.New("dynamic: compat: uuid or API key too long")
	}
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(nowMS))
	rev := []byte(baseEncode(ts[:], 36))
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	d, _ := digitValue(rune(rev[0]), 36, true)
	off := int(d)%6 + 2
	sep, err := draw(uint32(len(p.chars)))
	if err != nil {
		return "", err
	}
	n, err := draw(1000)
	if err != nil {
		return "", err
	}
	var s strings.Builder
	s.Write(rev[:off])
	s.WriteString(p.key)
	s.Write(rev[off:])
	s.WriteRune(p.chars[sep])
	s.WriteString(encodeInt(n))
	if hasUUID {
		var h strings.Builder
		for _, r := range uuid {
			if isAlnum(r) {
				h.WriteRune(r)
			}
		}
		hs := h.String()
		if len(hs) >= 24 {
			if !utf8.RuneStart(hs[12]) {
				return "", errors.New("dynamic: compat: uuid is not hexadecimal")
			}
			n, err := draw(1000)
			if err != nil {
				return "", err
			}
			sep, err := draw(uint32(len(p.chars)))
			if err != nil {
				return "", err
			}
			s.WriteString("__")
			s.WriteString(hexToB36(hs[:12], false))
			s.WriteByte('_')
			s.WriteString(hexToB36(hs[12:], false))
			s.WriteRune(p.chars[sep])
			s.WriteString(encodeInt(n))
		}
	}
	return base64.StdEncoding.EncodeToString([]byte(s.String())), nil
}

func encodeInt(n uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], n)
	return baseEncode(b[:], 36)
}

// EncodeBase64 is the crate's encode_base64: standard base64 with padding
// of the UTF-8 bytes of s.
func EncodeBase64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// DecodeBase64 is the crate's decode_base64: the UTF-8 text of s read as
// canonical padded standard base64, or "" when s is not that or the bytes
// are not UTF-8.
func DecodeBase64(s string) string {
	if strings.ContainsAny(s, "\r\n") { // Go's decoder skips them; the crate does not
		return ""
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || !utf8.Valid(b) {
		return ""
	}
	return string(b)
}

// keyMatches marks every byte position of s where key starts. Each
// position costs the same comparison, whatever the bytes.
func keyMatches(s, key string) []bool {
	if len(key) > len(s) {
		return nil
	}
	sb, kb := []byte(s), []byte(key)
	m := make([]bool, len(s)-len(key)+1)
	for i := range m {
		m[i] = subtle.ConstantTimeCompare(sb[i:i+len(kb)], kb) == 1
	}
	return m
}

// removeKey returns s with every non-overlapping occurrence of key,
// leftmost first, removed (the crate's split-and-concatenate).
func removeKey(s, key string) string {
	if key == "" {
		return s
	}
	m := keyMatches(s, key)
	var b strings.Builder
	for i := 0; i < len(s); {
		if i < len(m) && m[i] {
			i += len(key)
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// splitSep splits s at the first occurrence of the first separator (in
// chars' order) that occurs in s; without one, head is "" and tail is s.
func splitSep(s string, chars []rune) (head, tail string) {
	for _, c := range chars {
		if i := strings.IndexRune(s, c); i >= 0 {
			return s[:i], s[i+utf8.RuneLen(c):]
		}
	}
	return "", s
}

// decodeCompat is from_dynamic_key at nowMS, in the crate's order. In
// strict mode (p.quirks false) it applies the extra checks documented on
// Compat.
func decodeCompat(token string, p *compatParams, nowMS int64) Result {
	r := Result{Status: StatusInvalid, Reason: m2m.ReasonMalformed}
	if len(token) > MaxCompatTokenBytes {
		r.Reason = m2m.ReasonTooLarge
		return r
	}
	strict := !p.quirks
	d := DecodeBase64(token)
	c, _ := utf8.DecodeRuneInString(d)
	if d == "" {
		c = '-'
	}
	if !isAlnum(c) {
		return r
	}
	dv, _ := digitValue(c, 36, false)
	off := int(dv)%6 + 2
	idx := 255
	for i, ok := range keyMatches(d, p.key) {
		if ok {
			idx = i
			break
		}
	}
	r.Reason = m2m.ReasonBadCredentials
	if idx&0xFF != off || strict && idx != off {
		return r
	}
	r.Reason = ""
	valid := false
	badUUID := false // strict: the uuid's security number overflows
	parts := strings.Split(d, "__")
	if p.checkUUID && len(parts) > 1 {
		h, t, ok := strings.Cut(parts[len(parts)-1], "_")
		if !ok {
			h, t = "", h
		}
		if len(t) > 6 {
			tail, num := splitSep(t, p.chars)
			uid := b36ToHex(h, strict) + b36ToHex(tail, strict)
			if len(uid) >= 24 {
				r.UUID = uid
				_, ok, overflow := crateU64(num, strict)
				valid = ok
				badUUID = overflow
				r.Status = StatusUUIDRequired
				if valid {
					r.Status = StatusOK
				}
			}
		}
	} else {
		valid = true
		r.Status = StatusOK
	}
	body := removeKey(parts[0], p.key)
	tsr, suffix := splitSep(body, p.chars)
	if valid {
		for _, ch := range tsr {
			if !isAlnum(ch) {
				valid = false
				r.Status = StatusInvalidTimestamp
				break
			}
		}
	}
	badTime := false // strict: overflow, wrapping or no timestamp
	if valid {
		if _, ok, overflow := crateU64(suffix, strict); ok {
			badTime = overflow
			rs := []rune(tsr)
			for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
				rs[i], rs[j] = rs[j], rs[i]
			}
			u, ok, overflow := crateU64(string(rs), strict)
			badTime = badTime || !ok || overflow
			ts := int64(u)
			age := nowMS - ts // wraps, as the release build does
			if (age < nowMS) != (ts > 0) {
				badTime = true // the debug build panics on this subtraction
			}
			r.AgeMS, r.AgeKnown = age, true
			valid = -p.tolMS <= age && age <= p.tolMS
			r.Status = StatusOK
			if !valid {
				r.Status = StatusTimedOut
			}
			if !badTime {
				r.Expiry = time.UnixMilli(ts + p.tolMS)
			}
		} else {
			badTime = true
		}
	}
	r.Valid = valid
	if strict && valid {
		switch {
		case badUUID:
			r.Valid, r.Status = false, StatusUUIDRequired
		case badTime:
			r.Valid, r.Status = false, StatusInvalidTimestamp
		case p.checkUUID && r.UUID == "":
			r.Valid, r.Status = false, StatusUUIDRequired
		}
	}
	if !r.Valid {
		r.Expiry = time.Time{}
		switch r.Status {
		case StatusTimedOut:
			r.Reason = m2m.ReasonExpired
			if r.AgeMS < 0 {
				r.Reason = m2m.ReasonNotYetValid
			}
		case StatusUUIDRequired:
			r.Reason = m2m.ReasonMissingClaim
		case StatusInvalidTimestamp:
			r.Reason = m2m.ReasonMalformed
		default:
			r.Reason = m2m.ReasonBadCredentials
		}
	}
	return r
}
