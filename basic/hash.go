package basic

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// DefaultBcryptCost is the bcrypt cost [HashPassword] uses (2^10 rounds,
// about 50-80 ms per check on a server core).
const DefaultBcryptCost = bcrypt.DefaultCost

// MaxBcryptCost is the highest bcrypt cost accepted in a stored hash, so a
// typo in a password file cannot make every check take minutes.
const MaxBcryptCost = 18

// MaxBcryptPassword is the longest password bcrypt uses; [HashPassword]
// refuses longer ones (use [HashArgon2id]). Checking a longer password
// against a bcrypt hash uses its first 72 bytes, as Apache and OpenBSD do.
const MaxBcryptPassword = 72

// Argon2idParams are the cost parameters of an argon2id hash (RFC 9106).
type Argon2idParams struct {
	Memory  uint32 // KiB; 0 means 19456 (19 MiB)
	Time    uint32 // passes; 0 means 2
	Threads uint8  // lanes; 0 means 1
	SaltLen uint32 // bytes; 0 means 16
	KeyLen  uint32 // bytes; 0 means 32
}

// DefaultArgon2id is the zero [Argon2idParams] filled in: the OWASP
// minimum for argon2id (m=19456 KiB, t=2, p=1), 16-byte salt, 32-byte hash.
var DefaultArgon2id = Argon2idParams{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Limits on argon2id parameters in stored hashes and in [HashArgon2id].
const (
	MaxArgon2idMemory  = 1 << 21 // KiB (2 GiB)
	MaxArgon2idTime    = 64
	maxArgon2idSaltLen = 64
	maxArgon2idKeyLen  = 128
)

func (p Argon2idParams) withDefaults() Argon2idParams {
	if p.Memory == 0 {
		p.Memory = DefaultArgon2id.Memory
	}
	if p.Time == 0 {
		p.Time = DefaultArgon2id.Time
	}
	if p.Threads == 0 {
		p.Threads = DefaultArgon2id.Threads
	}
	if p.SaltLen == 0 {
		p.SaltLen = DefaultArgon2id.SaltLen
	}
	if p.KeyLen == 0 {
		p.KeyLen = DefaultArgon2id.KeyLen
	}
	return p
}

func (p Argon2idParams) validate() error {
	switch {
	case p.Memory < 8*uint32(p.Threads) || p.Memory > MaxArgon2idMemory:
		return fmt.Errorf("basic: argon2id memory %d KiB out of range [8*p, %d]", p.Memory, MaxArgon2idMemory)
	case p.Time < 1 || p.Time > MaxArgon2idTime:
		return fmt.Errorf("basic: argon2id time %d out of range [1, %d]", p.Time, MaxArgon2idTime)
	case p.Threads < 1:
		return errors.New("basic: argon2id parallelism must be at least 1")
	case p.SaltLen < 8 || p.SaltLen > maxArgon2idSaltLen:
		return fmt.Errorf("basic: argon2id salt length %d out of range [8, %d]", p.SaltLen, maxArgon2idSaltLen)
	case p.KeyLen < 16 || p.KeyLen > maxArgon2idKeyLen:
		return fmt.Errorf("basic: argon2id hash length %d out of range [16, %d]", p.KeyLen, maxArgon2idKeyLen)
	}
	return nil
}

// HashPassword returns a bcrypt hash of pw ($2a$, cost
// [DefaultBcryptCost]) for an htpasswd file or [NewHtpasswd]. Passwords
// longer than [MaxBcryptPassword] bytes are refused rather than silently
// truncated.
func HashPassword(pw string) (string, error) {
	return HashBcrypt(pw, DefaultBcryptCost)
}

// HashBcrypt is [HashPassword] with a bcrypt cost between 4 and
// [MaxBcryptCost].
func HashBcrypt(pw string, cost int) (string, error) {
	if cost < bcrypt.MinCost || cost > MaxBcryptCost {
		return "", fmt.Errorf("basic: bcrypt cost %d out of range [%d, %d]", cost, bcrypt.MinCost, MaxBcryptCost)
	}
	if len(pw) > MaxBcryptPassword {
		return "", fmt.Errorf("basic: password longer than %d bytes; bcrypt would ignore the rest (use argon2id)", MaxBcryptPassword)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		return "", fmt.Errorf("basic: %w", err)
	}
	return string(h), nil
}

// HashArgon2id returns an argon2id hash of pw as a PHC string,
// $argon2id$v=19$m=...,t=...,p=...$salt$hash (unpadded standard base64),
// the format of the reference implementation and of libsodium. A nil p
// means [DefaultArgon2id]; zero fields take their defaults.
func HashArgon2id(pw string, p *Argon2idParams) (string, error) {
	var q Argon2idParams
	if p != nil {
		q = *p
	}
	q = q.withDefaults()
	if err := q.validate(); err != nil {
		return "", err
	}
	salt := make([]byte, q.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("basic: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, q.Time, q.Memory, q.Threads, q.KeyLen)
	return formatArgon2id(q, salt, key), nil
}

func formatArgon2id(p Argon2idParams, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// A passwordHash is a parsed stored hash.
type passwordHash interface {
	// check reports whether pw matches, in time independent of where
	// pw and the hash differ.
	check(pw string) bool
}

// parseHash parses a stored hash: bcrypt ($2a$, $2b$, $2y$) or an argon2id
// PHC string. The error names the format but never the hash.
func parseHash(s string) (passwordHash, error) {
	switch {
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		cost, err := bcrypt.Cost([]byte(s))
		if err != nil || len(s) != 60 {
			return nil, errors.New("basic: malformed bcrypt hash")
		}
		if cost > MaxBcryptCost {
			return nil, fmt.Errorf("basic: bcrypt cost %d above %d", cost, MaxBcryptCost)
		}
		return bcryptHash(s), nil
	case strings.HasPrefix(s, "$argon2id$"):
		return parseArgon2id(s)
	case strings.HasPrefix(s, "$apr1$"), strings.HasPrefix(s, "{SHA}"), strings.HasPrefix(s, "$1$"),
		strings.HasPrefix(s, "$5$"), strings.HasPrefix(s, "$6$"), strings.HasPrefix(s, "$argon2i$"), strings.HasPrefix(s, "$argon2d$"):
		return nil, errors.New("basic: unsupported password hash (only bcrypt and argon2id; re-hash with \"m2m basic hash\" or \"htpasswd -B\")")
	}
	return nil, errors.New("basic: unrecognised password hash (want bcrypt $2a$/$2b$/$2y$ or $argon2id$)")
}

type bcryptHash string

func (h bcryptHash) check(pw string) bool {
	// bcrypt compares the recomputed hash with subtle.ConstantTimeCompare.
	return bcrypt.CompareHashAndPassword([]byte(h), []byte(pw)) == nil
}

type argon2idHash struct {
	p         Argon2idParams
	salt, key []byte
}

func (h *argon2idHash) check(pw string) bool {
	k := argon2.IDKey([]byte(pw), h.salt, h.p.Time, h.p.Memory, h.p.Threads, h.p.KeyLen)
	return subtle.ConstantTimeCompare(k, h.key) == 1
}

func parseArgon2id(s string) (*argon2idHash, error) {
	bad := errors.New("basic: malformed argon2id hash (want $argon2id$v=19$m=M,t=T,p=P$salt$hash)")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" {
		return nil, bad
	}
	if f[2] != "v="+strconv.Itoa(argon2.Version) {
		return nil, errors.New("basic: unsupported argon2id version (want v=19)")
	}
	ps := strings.Split(f[3], ",")
	if len(ps) != 3 {
		return nil, bad
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(ps[i], name)
		if !ok || v == "" || (len(v) > 1 && v[0] == '0') {
			return nil, bad
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil, bad
		}
		vals[i] = n
	}
	if vals[2] > 255 {
		return nil, errors.New("basic: argon2id parallelism above 255")
	}
	salt, err1 := base64.RawStdEncoding.Strict().DecodeString(f[4])
	key, err2 := base64.RawStdEncoding.Strict().DecodeString(f[5])
	if err1 != nil || err2 != nil || strings.ContainsAny(f[4]+f[5], "\r\n") {
		return nil, bad
	}
	p := Argon2idParams{Memory: uint32(vals[0]), Time: uint32(vals[1]), Threads: uint8(vals[2]),
		SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return &argon2idHash{p: p, salt: salt, key: key}, nil
}
