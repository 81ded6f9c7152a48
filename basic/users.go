package basic

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Users checks user names and passwords.
//
// Authenticate reports whether pass is the password of user. ok is false
// for an unknown user and for a wrong password alike; err is for technical
// failures only (a user store that cannot be reached). Implementations
// must take the same time for unknown users as for known ones and compare
// secrets in constant time.
type Users interface {
	Authenticate(ctx context.Context, user, pass string) (ok bool, err error)
}

// Limits on password files.
const (
	MaxHtpasswdBytes = 16 << 20 // whole file
	MaxUserBytes     = 255      // user name
	maxLineBytes     = 4096
)

// Htpasswd is an in-memory table of user names and password hashes, from
// an Apache htpasswd file ([LoadHtpasswd], [ParseHtpasswd]) or a map
// ([NewHtpasswd]). Hashes are bcrypt ($2a$, $2b$, $2y$, as made by
// "htpasswd -B" and [HashPassword]) or argon2id PHC strings
// ([HashArgon2id]).
//
// For an unknown user, Authenticate checks the password against the first
// entry's hash and discards the result, so it does the same work as for a
// known user with that entry's parameters; give all entries the same
// parameters to make unknown and known users indistinguishable by timing.
//
// The zero Htpasswd has no users and refuses everyone. An Htpasswd is
// immutable and safe for concurrent use. To pick up changes
// to the file, load it again and swap the value.
type Htpasswd struct {
	users map[string]passwordHash
	dummy passwordHash // nil when empty
}

var _ Users = (*Htpasswd)(nil)

// NewHtpasswd returns a table from a map of user name to hash. Every hash
// is parsed now; an unsupported or malformed one is an error that names
// the user.
func NewHtpasswd(hashes map[string]string) (*Htpasswd, error) {
	h := &Htpasswd{users: make(map[string]passwordHash, len(hashes))}
	// A map has no order: pick the dummy from the smallest user name so
	// that the choice is stable.
	first := ""
	for user, s := range hashes {
		if err := CheckUserName(user); err != nil {
			return nil, err
		}
		ph, err := parseHash(s)
		if err != nil {
			return nil, fmt.Errorf("%w (user %q)", err, user)
		}
		h.users[user] = ph
		if h.dummy == nil || user < first {
			first, h.dummy = user, ph
		}
	}
	return h, nil
}

// LoadHtpasswd reads an htpasswd file: one "user:hash" per line; empty
// lines and lines starting with '#' are skipped. The file may hold at
// most [MaxHtpasswdBytes].
func LoadHtpasswd(path string) (*Htpasswd, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("basic: %w", err)
	}
	defer f.Close()
	h, err := ParseHtpasswd(f)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return h, nil
}

// ParseHtpasswd reads htpasswd lines from r, as [LoadHtpasswd] does. The
// first entry's hash is the one checked for unknown users.
func ParseHtpasswd(r io.Reader) (*Htpasswd, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxHtpasswdBytes+1))
	if err != nil {
		return nil, fmt.Errorf("basic: reading htpasswd: %w", err)
	}
	if len(data) > MaxHtpasswdBytes {
		return nil, fmt.Errorf("basic: htpasswd larger than %d bytes", MaxHtpasswdBytes)
	}
	h := &Htpasswd{users: make(map[string]passwordHash)}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 256), maxLineBytes)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("basic: htpasswd line %d: no colon", n)
		}
		if err := CheckUserName(user); err != nil {
			return nil, fmt.Errorf("%w (htpasswd line %d)", err, n)
		}
		if _, dup := h.users[user]; dup {
			return nil, fmt.Errorf("basic: htpasswd line %d: user %q listed twice", n, user)
		}
		ph, err := parseHash(strings.TrimSpace(hash))
		if err != nil {
			return nil, fmt.Errorf("%w (htpasswd line %d, user %q)", err, n, user)
		}
		h.users[user] = ph
		if h.dummy == nil {
			h.dummy = ph
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("basic: reading htpasswd: %w", err)
	}
	return h, nil
}

// CheckUserName reports whether user can be a user name in a password
// table: not empty, at most [MaxUserBytes] bytes of UTF-8, without ':'
// (RFC 7617 ends the user name at the first colon) and without control
// characters.
func CheckUserName(user string) error {
	switch {
	case user == "":
		return errors.New("basic: empty user name")
	case len(user) > MaxUserBytes:
		return fmt.Errorf("basic: user name longer than %d bytes", MaxUserBytes)
	case !utf8.ValidString(user), strings.ContainsRune(user, ':'), strings.ContainsFunc(user, unicode.IsControl):
		return fmt.Errorf("basic: invalid user name %q (UTF-8 without ':' or control characters)", user)
	}
	return nil
}

// Len returns the number of users.
func (h *Htpasswd) Len() int { return len(h.users) }

// Authenticate implements [Users]. It returns ctx.Err() when ctx is done
// before the check starts.
func (h *Htpasswd) Authenticate(ctx context.Context, user, pass string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	ph, ok := h.users[user]
	if !ok {
		if h.dummy != nil {
			h.dummy.check(pass)
		}
		return false, nil
	}
	return ph.check(pass), nil
}
