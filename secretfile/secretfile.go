// Package secretfile keeps a signing secret in a file, the way the
// microdot auth recipe's device does on first boot (os.urandom written to
// secret.bin), made safe for production:
//
//   - [LoadOrCreate] creates the secret from crypto/rand exactly once. The
//     bytes are written to a temporary file in the same directory, synced,
//     and then hard-linked to the final name; link(2) fails if the name
//     exists, so of two processes booting at the same time exactly one
//     wins, the other reads the winner's complete file, and no reader ever
//     sees a partial secret. The directory is synced too, so the secret
//     survives a power cut.
//   - Files are created with mode 0600; an existing file that the group or
//     others may read, that another user owns (on Unix: not the effective
//     user, not root), or whose size is wrong, is refused with an error
//     that says how to fix it.
//   - [Rotate] writes a new secret and keeps the previous ones (newest
//     first, at most [MaxFallbacks]) in PATH.prev, so tokens signed before
//     the rotation keep verifying until they expire. [Load] returns the
//     current secret and the fallbacks.
//   - Deleting PATH and restarting is the "rotate everything" lever: when
//     LoadOrCreate creates a fresh secret it also removes PATH.prev, so no
//     token signed before survives.
//
// Rotate is not safe to run concurrently with another Rotate of the same
// file (the last one wins, and one of the two new secrets is lost); run it
// from one operator command at a time.
package secretfile

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/m2mkit/m2m"
)

// Sizes of secrets, in bytes.
const (
	// DefaultSize is the size [LoadOrCreate] uses when given 0: 256 bits,
	// the HMAC-SHA256 block of security RFC 7518 section 3.2 asks for.
	DefaultSize = 32
	// MinSize and MaxSize bound every secret file.
	MinSize = 16
	MaxSize = 4096
)

// MaxFallbacks is how many previous secrets [Rotate] keeps.
const MaxFallbacks = 3

// PrevSuffix is appended to a secret file's path to name the file that
// holds its fallback secrets.
const PrevSuffix = ".prev"

// Keys is a secret and the secrets it replaced.
type Keys struct {
	// Current signs new tokens.
	Current m2m.Secret
	// Fallbacks are the previous secrets, newest first; they only verify.
	Fallbacks []m2m.Secret
}

// All returns Current followed by the fallbacks, the order in which a
// verifier should try them.
func (k *Keys) All() []m2m.Secret {
	return append([]m2m.Secret{k.Current}, k.Fallbacks...)
}

// Fingerprint returns the hex SHA-256 of a secret: safe to print or log, it
// identifies a secret without revealing it.
func Fingerprint(secret []byte) string {
	sum := sha256.Sum256(secret)
	return hex.EncodeToString(sum[:])
}

// LoadOrCreate returns the secret in the file at path, creating it with
// size random bytes (0 means [DefaultSize]) if the file does not exist.
// An existing file must hold exactly size bytes and must not be readable
// by group or others. When it creates the secret, LoadOrCreate removes any
// fallback file left from before, so deleting the secret file invalidates
// every token signed with the old secrets.
//
// Any number of processes may call LoadOrCreate for the same path at the
// same time: they all return the same secret.
func LoadOrCreate(path string, size int) (*Keys, error) {
	if size == 0 {
		size = DefaultSize
	}
	if size < MinSize || size > MaxSize {
		return nil, fmt.Errorf("secretfile: size %d out of range [%d, %d]", size, MinSize, MaxSize)
	}
	k, err := Load(path, size)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	secret := make([]byte, size)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("secretfile: %w", err)
	}
	// A fresh secret starts without fallbacks: remove them before the new
	// secret becomes visible.
	if err := os.Remove(path + PrevSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("secretfile: removing old fallbacks: %w", err)
	}
	created, err := writeNew(path, secret)
	if err != nil {
		return nil, err
	}
	if !created {
		// Another process won the race; its file is complete.
		return Load(path, size)
	}
	return &Keys{Current: secret}, nil
}

// Load reads the secret at path and its fallbacks. size is the exact size
// the secret must have; 0 accepts any size from [MinSize] to [MaxSize].
// The fallbacks have the secret's size. A missing secret file is an error
// wrapping fs.ErrNotExist; a missing fallback file means no fallbacks.
func Load(path string, size int) (*Keys, error) {
	cur, err := readSecret(path, size)
	if err != nil {
		return nil, err
	}
	k := &Keys{Current: cur}
	prev, err := readFile(path+PrevSuffix, MaxFallbacks*MaxSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return k, nil
	case err != nil:
		return nil, err
	}
	if len(prev)%len(cur) != 0 {
		return nil, fmt.Errorf("secretfile: %s holds %d bytes, not a multiple of the secret size %d; delete it to drop the fallback secrets", path+PrevSuffix, len(prev), len(cur))
	}
	for len(prev) > 0 && len(k.Fallbacks) < MaxFallbacks {
		k.Fallbacks = append(k.Fallbacks, m2m.Secret(prev[:len(cur):len(cur)]))
		prev = prev[len(cur):]
	}
	return k, nil
}

// Rotate replaces the secret at path with a new random one of the same
// size and keeps the old one as the newest fallback (at most
// [MaxFallbacks] are kept, the oldest is dropped). Each file is replaced
// atomically; if the process dies between the two steps, the old secret is
// both current and a fallback, which is harmless. It returns the new keys.
func Rotate(path string) (*Keys, error) {
	old, err := Load(path, 0)
	if err != nil {
		return nil, err
	}
	fallbacks := append([]m2m.Secret{old.Current}, old.Fallbacks...)
	if len(fallbacks) > MaxFallbacks {
		fallbacks = fallbacks[:MaxFallbacks]
	}
	if err := replace(path+PrevSuffix, bytes.Join(toBytes(fallbacks), nil)); err != nil {
		return nil, err
	}
	secret := make([]byte, len(old.Current))
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("secretfile: %w", err)
	}
	if err := replace(path, secret); err != nil {
		return nil, err
	}
	return &Keys{Current: secret, Fallbacks: fallbacks}, nil
}

func toBytes(s []m2m.Secret) [][]byte {
	out := make([][]byte, len(s))
	for i, b := range s {
		out[i] = b
	}
	return out
}

// readSecret reads path, refusing loose permissions and a wrong size.
func readSecret(path string, size int) ([]byte, error) {
	b, err := readFile(path, MaxSize)
	if err != nil {
		return nil, err
	}
	switch {
	case size != 0 && len(b) != size:
		return nil, fmt.Errorf("secretfile: %s holds %d bytes; want %d (delete it to create a new secret, which invalidates every token signed with the old one)", path, len(b), size)
	case len(b) < MinSize:
		return nil, fmt.Errorf("secretfile: %s holds %d bytes; want at least %d (delete it to create a new secret)", path, len(b), MinSize)
	}
	return b, nil
}

// readFile reads at most max bytes of a private file.
func readFile(path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("secretfile: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("secretfile: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("secretfile: %s is not a regular file", path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secretfile: %s is accessible by group or others (mode %04o); run: chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	if err := checkOwner(path, fi); err != nil {
		return nil, err
	}
	if fi.Size() > int64(max) {
		return nil, fmt.Errorf("secretfile: %s holds %d bytes; want at most %d", path, fi.Size(), max)
	}
	b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("secretfile: %w", err)
	}
	if len(b) > max {
		return nil, fmt.Errorf("secretfile: %s grew past %d bytes while being read", path, max)
	}
	return b, nil
}

// WritePrivate writes data to a file at path that only its owner may
// read (mode 0600), atomically: readers see the old file or the whole new
// one, never a part, and a crash leaves no partial file at path. With
// replace false an existing file is left alone and the error wraps
// fs.ErrExist; with replace true it is replaced. It is how a program
// writes a file that holds a secret other than a signing key, such as
// client credentials.
func WritePrivate(path string, data []byte, replaceExisting bool) error {
	if replaceExisting {
		return replace(path, data)
	}
	created, err := writeNew(path, data)
	if err != nil {
		return err
	}
	if !created {
		return fmt.Errorf("secretfile: %s: %w", path, fs.ErrExist)
	}
	return nil
}

// writeTemp writes data to a new 0600 temporary file in dir, synced, and
// returns its name.
func writeTemp(dir, base string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("secretfile: %w", err)
	}
	name := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("secretfile: writing %s: %w", name, err)
	}
	return name, nil
}

// writeNew creates path with data unless it exists. created is false when
// another file got there first.
func writeNew(path string, data []byte) (created bool, err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := writeTemp(dir, base, data)
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("secretfile: %w", err)
	}
	if err := os.Remove(tmp); err != nil {
		return false, fmt.Errorf("secretfile: %w", err)
	}
	return true, syncDir(dir)
}

// replace atomically replaces path with data.
func replace(path string, data []byte) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := writeTemp(dir, base, data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("secretfile: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("secretfile: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("secretfile: syncing %s: %w", dir, err)
	}
	return nil
}
