package rolling

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Algorithm names the hash function of an [HMAC] code.
type Algorithm string

// The allowed algorithms.
const (
	SHA1   Algorithm = "sha1"   // HMAC-SHA-1, as RFC 4226 and most TOTP apps
	SHA256 Algorithm = "sha256" // HMAC-SHA-256, the default
	SHA512 Algorithm = "sha512" // HMAC-SHA-512
)

// Alphabets for [Config.Alphabet].
const (
	// Digits gives RFC 6238 TOTP codes with lengths 6 to 8.
	Digits = "0123456789"
	// Alphanumeric is the default alphabet, the same as m2m_token's, so
	// that a migrated bot's codes keep their shape.
	Alphanumeric = DefaultSequence
)

// Defaults and limits of [Config].
const (
	DefaultPeriod    = 30 * time.Second
	DefaultAlgorithm = SHA256
	// DefaultLength gives 12 characters of Alphanumeric: 71 bits.
	DefaultLength = 12
	MaxLength     = 64   // code points in a code
	MaxAlphabet   = 1024 // code points in an alphabet
	// MinSeedBytes is the shortest seed HMAC accepts: RFC 4226 section 4
	// requires 128 bits of shared secret.
	MinSeedBytes = 16
	// MaxHMACSeedBytes bounds the seed.
	MaxHMACSeedBytes = 1024
	// WeakBits is the entropy below which a code needs replay protection
	// and failure throttling to be safe against guessing.
	WeakBits = 64
	// MaxWindow is the largest window [HMAC.Match] and [Verifier] accept:
	// every step in the window costs an HMAC per presented code.
	MaxWindow = 1000
)

// errNotCreated is returned by an [HMAC] that was not made by [NewHMAC].
var errNotCreated = errors.New("rolling: HMAC not created with NewHMAC")

// Config is the secure rolling-code configuration, an RFC 6238 time-based
// one-time password generalized to any alphabet. The zero Config is
// HMAC-SHA-256 over 30-second steps from the Unix epoch, rendered as 12
// characters of [Alphanumeric].
//
// With Alphabet [Digits] and Length 6, 7 or 8 the code is the RFC 4226
// dynamic truncation of the HMAC over the 8-byte step counter, so that SHA1
// with 6 or 8 digits is RFC 6238 TOTP exactly (and SHA256, SHA512 give the
// RFC's variants). Any other alphabet and length use an unbiased mapping:
// characters are drawn from an HMAC stream over the counter and a block
// index by rejection sampling, so every code is equally likely.
type Config struct {
	// Algorithm is the HMAC hash; "" means DefaultAlgorithm.
	Algorithm Algorithm
	// Period is the step length, T0..; zero means DefaultPeriod. It must be
	// a whole number of seconds.
	Period time.Duration
	// Epoch is T0, the start of step 0; the zero Time means the Unix epoch.
	Epoch time.Time
	// Alphabet holds the characters of a code, 2 to MaxAlphabet distinct
	// code points, none a control character; "" means Alphanumeric.
	Alphabet string
	// Length is the number of characters, 1 to MaxLength; zero means
	// DefaultLength, or 6 when Alphabet is Digits.
	Length int
}

// TOTP returns the Config of an RFC 6238 authenticator: SHA-1, 30-second
// steps, six digits.
func TOTP() Config {
	return Config{Algorithm: SHA1, Period: DefaultPeriod, Alphabet: Digits, Length: 6}
}

// HMAC derives secure rolling codes from one seed (see [Config]). Create
// it with [NewHMAC]. It is safe for concurrent use; verification reuses
// pooled HMAC state and does not allocate.
type HMAC struct {
	alg      Algorithm
	period   int64 // seconds
	epoch    int64 // unix seconds
	alphabet []rune
	enc      []byte // alphabet characters, UTF-8, each at encOff[i]
	encOff   []uint16
	length   int
	rfc      bool // RFC 4226 dynamic truncation
	maxBytes int  // longest code in bytes
	pool     sync.Pool
}

var _ Codec = (*HMAC)(nil)

type hmacState struct {
	mac  hash.Hash
	msg  [9]byte
	sum  []byte
	code []byte // the computed code
	in   []byte // the presented code, copied for subtle.ConstantTimeCompare
}

// NewHMAC returns the codec for seed under cfg. It refuses an unknown
// algorithm, a seed shorter than MinSeedBytes, and an alphabet or length
// out of range, with a [*ConfigError] naming the parameter ("seed",
// "algorithm", "period", "alphabet" or "length"). The seed is copied.
func NewHMAC(seed []byte, cfg Config) (*HMAC, error) {
	var newHash func() hash.Hash
	alg := cfg.Algorithm
	if alg == "" {
		alg = DefaultAlgorithm
	}
	switch alg {
	case SHA1:
		newHash = sha1.New
	case SHA256:
		newHash = sha256.New
	case SHA512:
		newHash = sha512.New
	default:
		return nil, &ConfigError{"algorithm", fmt.Sprintf("%q is not sha1, sha256 or sha512", alg)}
	}
	switch {
	case len(seed) < MinSeedBytes:
		return nil, &ConfigError{"seed", fmt.Sprintf("too short: %d bytes, need at least %d", len(seed), MinSeedBytes)}
	case len(seed) > MaxHMACSeedBytes:
		return nil, &ConfigError{"seed", fmt.Sprintf("longer than %d bytes", MaxHMACSeedBytes)}
	}
	period := cfg.Period
	if period == 0 {
		period = DefaultPeriod
	}
	if period < time.Second || period%time.Second != 0 {
		return nil, &ConfigError{"period", fmt.Sprintf("%v is not a positive whole number of seconds", period)}
	}
	alphabet := cfg.Alphabet
	if alphabet == "" {
		alphabet = Alphanumeric
	}
	if err := checkAlphabet(alphabet); err != nil {
		return nil, err
	}
	length := cfg.Length
	if length == 0 {
		length = DefaultLength
		if alphabet == Digits {
			length = 6
		}
	}
	if length < 1 || length > MaxLength {
		return nil, &ConfigError{"length", fmt.Sprintf("%d out of range 1..%d", length, MaxLength)}
	}
	h := &HMAC{
		alg:      alg,
		period:   int64(period / time.Second),
		alphabet: []rune(alphabet),
		length:   length,
		rfc:      alphabet == Digits && length >= 6 && length <= 8,
	}
	if !cfg.Epoch.IsZero() {
		h.epoch = cfg.Epoch.Unix()
	}
	widest := 0
	for _, r := range h.alphabet {
		h.encOff = append(h.encOff, uint16(len(h.enc)))
		h.enc = utf8.AppendRune(h.enc, r)
		widest = max(widest, utf8.RuneLen(r))
	}
	h.encOff = append(h.encOff, uint16(len(h.enc)))
	h.maxBytes = widest * length
	key := append([]byte(nil), seed...)
	h.pool.New = func() any {
		return &hmacState{
			mac:  hmac.New(newHash, key),
			code: make([]byte, 0, h.maxBytes),
			in:   make([]byte, 0, h.maxBytes),
			sum:  make([]byte, 0, sha512.Size),
		}
	}
	return h, nil
}

func checkAlphabet(a string) error {
	if !utf8.ValidString(a) {
		return &ConfigError{"alphabet", "not valid UTF-8"}
	}
	n := utf8.RuneCountInString(a)
	if n < 2 || n > MaxAlphabet {
		return &ConfigError{"alphabet", fmt.Sprintf("has %d characters, want 2..%d", n, MaxAlphabet)}
	}
	for i, r := range a {
		if unicode.IsControl(r) {
			return &ConfigError{"alphabet", fmt.Sprintf("has control character %U", r)}
		}
		if strings.ContainsRune(a[i+utf8.RuneLen(r):], r) {
			return &ConfigError{"alphabet", fmt.Sprintf("repeats %q (repeats bias the code)", r)}
		}
	}
	return nil
}

// Entropy returns Length × log2(len(Alphabet)) bits (for RFC digit codes
// slightly less, by the truncation's small bias), or 0 for an HMAC not
// made by [NewHMAC].
func (h *HMAC) Entropy() float64 {
	if len(h.alphabet) == 0 {
		return 0
	}
	return float64(h.length) * math.Log2(float64(len(h.alphabet)))
}

// Length returns the number of characters in a code.
func (h *HMAC) Length() int { return h.length }

// Period returns the step length.
func (h *HMAC) Period() time.Duration { return time.Duration(h.period) * time.Second }

// Step returns the RFC 6238 time step T = floor((unix(t) - T0) / X).
// It is 0 for an HMAC not made by [NewHMAC].
func (h *HMAC) Step(t time.Time) int64 {
	if h.period == 0 {
		return 0
	}
	return floorDiv(t.Unix()-h.epoch, h.period)
}

// StepStart returns when step begins.
func (h *HMAC) StepStart(step int64) time.Time { return time.Unix(h.epoch+step*h.period, 0) }

// Generate returns the code valid at now.
func (h *HMAC) Generate(now time.Time) (string, error) { return h.CodeAt(h.Step(now)) }

// CodeAt returns the code of a time step.
func (h *HMAC) CodeAt(step int64) (string, error) {
	if h.pool.New == nil {
		return "", errNotCreated
	}
	st := h.pool.Get().(*hmacState)
	defer h.pool.Put(st)
	code, err := h.compute(st, step)
	if err != nil {
		return "", err
	}
	return string(code), nil
}

// Match checks code against the codes of the current step and of window
// steps either side of it, the current step first, then -1, +1, -2, ...
// A negative window counts as 0; one above [MaxWindow] is an error. Each
// comparison takes constant time; Match does not allocate.
func (h *HMAC) Match(code string, now time.Time, window int) (Match, error) {
	if h.pool.New == nil {
		return Match{}, errNotCreated
	}
	if window > MaxWindow {
		return Match{}, fmt.Errorf("rolling: window %d above %d", window, MaxWindow)
	}
	if len(code) > h.maxBytes || utf8.RuneCountInString(code) != h.length {
		return Match{}, ErrNoMatch
	}
	window = max(window, 0)
	cur := h.Step(now)
	st := h.pool.Get().(*hmacState)
	defer h.pool.Put(st)
	st.in = append(st.in[:0], code...)
	for i := 0; i <= 2*window; i++ {
		off := (i + 1) / 2
		if i%2 == 1 {
			off = -off
		}
		got, err := h.compute(st, cur+int64(off))
		if err != nil {
			return Match{}, err
		}
		if subtle.ConstantTimeCompare(got, st.in) == 1 {
			return Match{
				Step:    cur + int64(off),
				Offset:  off,
				Expires: h.StepStart(cur + int64(off) + int64(window) + 1),
			}, nil
		}
	}
	return Match{}, ErrNoMatch
}

// compute returns the code of step in st.code.
func (h *HMAC) compute(st *hmacState, step int64) ([]byte, error) {
	binary.BigEndian.PutUint64(st.msg[:8], uint64(step))
	if h.rfc {
		st.mac.Reset()
		st.mac.Write(st.msg[:8])
		st.sum = st.mac.Sum(st.sum[:0])
		// RFC 4226 section 5.4 dynamic truncation.
		off := st.sum[len(st.sum)-1] & 0x0f
		v := binary.BigEndian.Uint32(st.sum[off:]) & 0x7fffffff
		var mod uint32 = 1
		for range h.length {
			mod *= 10
		}
		v %= mod
		st.code = st.code[:h.length]
		for i := h.length - 1; i >= 0; i-- {
			st.code[i] = byte('0' + v%10)
			v /= 10
		}
		return st.code, nil
	}
	// Unbiased mapping: draw w-byte values from the stream
	// HMAC(key, counter || 0) || HMAC(key, counter || 1) || ..., reject
	// those at or above the largest multiple of n, and index the alphabet
	// with the value modulo n.
	n := uint32(len(h.alphabet))
	w, space := 1, uint32(256)
	if n > 256 {
		w, space = 2, 65536
	}
	limit := space - space%n
	st.code = st.code[:0]
	avail := st.sum[:0]
	block := 0
	for chars := 0; chars < h.length; {
		if len(avail) < w {
			if block > 255 {
				return nil, errors.New("rolling: code derivation exhausted its stream")
			}
			st.msg[8] = byte(block)
			block++
			st.mac.Reset()
			st.mac.Write(st.msg[:9])
			st.sum = st.mac.Sum(st.sum[:0])
			avail = st.sum
		}
		var v uint32
		if w == 1 {
			v = uint32(avail[0])
		} else {
			v = uint32(binary.BigEndian.Uint16(avail))
		}
		avail = avail[w:]
		if v >= limit {
			continue
		}
		i := v % n
		st.code = append(st.code, h.enc[h.encOff[i]:h.encOff[i+1]]...)
		chars++
	}
	return st.code, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
