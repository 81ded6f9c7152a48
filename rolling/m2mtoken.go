package rolling

import (
	"crypto/subtle"
	"errors"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// DefaultSequence is the alphabet m2m_token uses when none is passed:
// Python's string.ascii_letters + string.digits.
const DefaultSequence = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// DefaultTokenLen is the code length m2m_token uses when none is passed.
const DefaultTokenLen = 6

// Limits on m2m_token parameters. The original has none; these bound the
// work an [M2MToken] does and are far above any real configuration.
const (
	MaxSeedBytes     = 4096  // the seed's UTF-8 bytes
	MaxSequenceRunes = 4096  // code points in Sequence
	MaxTokenLen      = 1024  // code points in a code
	MaxUTCOffset     = 86400 // seconds either side of UTC, as Python's tzinfo allows
)

// ConfigError reports an invalid parameter. For [M2MToken] it is what the
// original's generate refuses with its ConfigError, and Name is the
// parameter's name there: "seed", "ttl", "sequence" or "token_len". For
// [NewHMAC], Name is "seed", "algorithm", "period", "alphabet" or "length".
type ConfigError struct {
	Name   string
	Reason string
}

// Error implements error: "rolling: invalid <name>: <reason>".
func (e *ConfigError) Error() string {
	return "rolling: invalid " + e.Name + ": " + e.Reason
}

// M2MToken is the rolling code of the Python package m2m-token 0.0.2,
// generate(seed, ttl, sequence, token_len), reproduced byte for byte. Its
// fields mirror the original's parameters; the zero Sequence and TokenLen
// mean the original's defaults unless Explicit is set.
//
// The code is weak by design and kept only for compatibility: it is not a
// MAC (the seed and the time feed CPython's Mersenne Twister), buckets are
// aligned to the minute so a TTL above 60 s acts as 60 s, and the sender's
// timezone changes the code. Use [HMAC] for new deployments.
//
// An M2MToken is safe for concurrent use; do not change its fields while it
// is in use.
type M2MToken struct {
	// Seed is the shared seed string. The empty seed is refused, as the
	// original refuses a falsy seed.
	Seed string
	// TTL is the bucket length in seconds; it must be positive. Buckets
	// start at second 0 of each minute, so values above 60 behave as 60.
	TTL int
	// Sequence is the alphabet; "" means DefaultSequence (unless Explicit).
	// Characters are code points and may repeat, as in the original.
	Sequence string
	// TokenLen is the code length in code points; 0 means DefaultTokenLen
	// (unless Explicit).
	TokenLen int
	// UTCOffset is the generating host's UTC offset in seconds east of
	// UTC. The original reads the UTC clock but converts it as local time,
	// so a host in New York (-14400 in summer) derives other codes than a
	// host in UTC. Zero means a host running in UTC. It must be within
	// ±MaxUTCOffset.
	UTCOffset int
	// Explicit makes Sequence and TokenLen count as passed even when zero,
	// so that "" and 0 fail the original's checks as they would in Python.
	Explicit bool
	// Now returns the current time for Generate (nil means time.Now).
	Now func() time.Time
}

var _ Codec = (*M2MToken)(nil)

// params returns the effective alphabet and length after the original's
// checks, in the original's order: seed, ttl, sequence, token_len.
func (m *M2MToken) params() (seq string, n int, err error) {
	switch {
	case m.Seed == "":
		return "", 0, &ConfigError{"seed", "empty"}
	case len(m.Seed) > MaxSeedBytes:
		return "", 0, &ConfigError{"seed", "longer than " + strconv.Itoa(MaxSeedBytes) + " bytes"}
	case m.TTL <= 0:
		return "", 0, &ConfigError{"ttl", "must be a positive integer"}
	}
	seq, n = m.Sequence, m.TokenLen
	if seq == "" && !m.Explicit {
		seq = DefaultSequence
	}
	switch {
	case seq == "":
		return "", 0, &ConfigError{"sequence", "empty"}
	case !utf8.ValidString(seq):
		return "", 0, &ConfigError{"sequence", "not valid UTF-8"}
	case utf8.RuneCountInString(seq) > MaxSequenceRunes:
		return "", 0, &ConfigError{"sequence", "longer than " + strconv.Itoa(MaxSequenceRunes) + " characters"}
	}
	if n == 0 && !m.Explicit {
		n = DefaultTokenLen
	}
	switch {
	case n <= 0:
		return "", 0, &ConfigError{"token_len", "must be a positive integer"}
	case n > MaxTokenLen:
		return "", 0, &ConfigError{"token_len", "larger than " + strconv.Itoa(MaxTokenLen)}
	case m.UTCOffset < -MaxUTCOffset || m.UTCOffset > MaxUTCOffset:
		return "", 0, &ConfigError{"utc_offset", "beyond ±" + strconv.Itoa(MaxUTCOffset) + " seconds"}
	}
	return seq, n, nil
}

// Validate reports the first parameter the original would refuse, as a
// [*ConfigError], or nil.
func (m *M2MToken) Validate() error {
	_, _, err := m.params()
	return err
}

// SeedTime returns the integer timestamp the original mixes into the seed
// at now: the library's timestamp (now read as local time of a host
// UTCOffset seconds east of UTC) rounded half to even, minus the seconds
// elapsed since the start of the bucket. Each bucket thus has two codes:
// one at its start and one a second later, used from the half second on.
func (m *M2MToken) SeedTime(now time.Time) int64 {
	t, _, _ := seedTime(now, m.TTL, m.UTCOffset)
	return t
}

// seedTime also returns the bucket start as library time and the bucket's
// prior bucket start.
func seedTime(now time.Time, ttl, offset int) (t, bucket, prev int64) {
	now = now.UTC()
	sec := now.Unix()
	us := now.Nanosecond() / 1000 // datetime keeps microseconds
	// CPython: (seconds - epoch) as a double, plus microsecond / 1e6.
	lib := float64(sec-int64(offset)) + float64(float64(us)/1e6)
	s := now.Second()
	b := s - s%max(ttl, 1)
	back := int64(s - b)
	minute := sec - int64(offset) - int64(s)
	bucket = minute + int64(b)
	if b > 0 {
		prev = bucket - int64(ttl)
	} else {
		prev = minute - 60 + int64(59-59%max(ttl, 1)) // the last bucket of the previous minute
	}
	return int64(math.RoundToEven(lib)) - back, bucket, prev
}

// Generate returns the code at now, as generate(seed, ttl, sequence,
// token_len) would return it on a host UTCOffset seconds east of UTC whose
// datetime.utcnow() is now.
func (m *M2MToken) Generate(now time.Time) (string, error) {
	seq, n, err := m.params()
	if err != nil {
		return "", err
	}
	t, _, _ := seedTime(now, m.TTL, m.UTCOffset)
	buf := make([]byte, 0, n*utf8.UTFMax)
	return string(m.appendCode(buf, seq, n, t)), nil
}

// Code is Generate at the current time of m.Now.
func (m *M2MToken) Code() (string, error) { return m.Generate(m.now()) }

func (m *M2MToken) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// appendCode appends the code for seed time t.
func (m *M2MToken) appendCode(dst []byte, seq string, n int, t int64) []byte {
	var r mt19937
	var scratch [64]uint32
	var ss [MaxSeedBytes + 32]byte
	seed := append(ss[:0], m.Seed...)
	seed = strconv.AppendInt(seed, t, 10) // repr(float(t)) for |t| < 1e16
	seed = append(seed, ".0"...)
	r.seedBytes(seed, scratch[:])
	runes := utf8.RuneCountInString(seq)
	ascii := runes == len(seq)
	for range n {
		i := int(math.Floor(r.float64() * float64(runes)))
		if ascii {
			dst = append(dst, seq[i])
			continue
		}
		dst = append(dst, runeAt(seq, i)...)
	}
	return dst
}

// runeAt returns the UTF-8 encoding of the i-th code point of s.
func runeAt(s string, i int) string {
	for j := range s {
		if i == 0 {
			_, size := utf8.DecodeRuneInString(s[j:])
			return s[j : j+size]
		}
		i--
	}
	return ""
}

// Entropy returns the bits of a code if it were uniformly random: the
// code length times log2 of the number of distinct characters. It is an
// upper bound: the code is not a MAC, and whoever learns one code and the
// time can search for the seed offline.
func (m *M2MToken) Entropy() float64 {
	seq, n, err := m.params()
	if err != nil {
		return 0
	}
	return float64(n) * math.Log2(float64(distinct(seq)))
}

func distinct(s string) int {
	seen := make(map[rune]struct{})
	for _, r := range s {
		seen[r] = struct{}{}
	}
	return len(seen)
}

// Match checks code against the codes valid at now: both half-second
// phases of the current bucket and, when window is at least 1, of the
// previous one. Each comparison takes constant time. Step is the seed time
// of the matching code (unique per code) and Offset 0 or -1.
func (m *M2MToken) Match(code string, now time.Time, window int) (Match, error) {
	seq, n, err := m.params()
	if err != nil {
		return Match{}, err
	}
	if len(code) > n*utf8.UTFMax || utf8.RuneCountInString(code) != n {
		return Match{}, ErrNoMatch
	}
	_, bucket, prev := seedTime(now, m.TTL, m.UTCOffset)
	// A code may be presented until the end of the next bucket at most.
	expires := now.Add(time.Duration(2*min(m.TTL, 60)+1) * time.Second)
	var buf, in [MaxTokenLen * utf8.UTFMax]byte
	presented := append(in[:0], code...)
	starts := [2]int64{bucket, prev}
	buckets := 1
	if window >= 1 {
		buckets = 2
	}
	for off, b := range starts[:buckets] {
		for _, t := range [2]int64{b, b + 1} {
			got := m.appendCode(buf[:0], seq, n, t)
			if subtle.ConstantTimeCompare(got, presented) == 1 {
				return Match{Step: t, Offset: -off, Expires: expires}, nil
			}
		}
	}
	return Match{}, ErrNoMatch
}

// ErrNoMatch is returned by [Codec.Match] when the code is not one of the
// codes valid at the time.
var ErrNoMatch = errors.New("rolling: code does not match")
