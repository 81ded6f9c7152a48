package jwtauth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/m2mkit/m2m"
)

// DefaultNonceWindow is the lifetime step of an [HMACNonces] whose Window
// is zero: a nonce is accepted in the window it was issued in and the
// next, so for between one and two windows.
const DefaultNonceWindow = 5 * time.Minute

// hmacNonceLen is the decoded size of an HMAC nonce: an 8-byte window
// number and a 16-byte MAC.
const hmacNonceLen = 8 + 16

// HMACNonces is a stateless [NonceSource]: a nonce is the number of the
// current time window and an HMAC-SHA256 of it under a secret, so the
// nonce changes every window and every replica that shares the secret
// issues and accepts the same nonces without shared state. Rotate the
// secret by putting the new one first in Secrets and keeping the old one
// after it for two windows.
//
// Use [NewHMACNonces] for one process (a secret from crypto/rand), or
// set Secrets from a shared secret file for several replicas. An
// HMACNonces is safe for concurrent use; do not change its fields while
// it is in use.
type HMACNonces struct {
	// Secrets are the MAC keys: the first signs new nonces, all are
	// accepted. Each must have at least 32 bytes; none is a
	// configuration error.
	Secrets []m2m.Secret
	// Window is the step of the nonce's time window; zero means
	// [DefaultNonceWindow], negative is a configuration error.
	Window time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

var _ NonceSource = (*HMACNonces)(nil)

// NewHMACNonces returns an HMACNonces with a fresh 32-byte secret from
// crypto/rand, for a single process.
func NewHMACNonces() (*HMACNonces, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("jwtauth: nonce secret: %w", err)
	}
	return &HMACNonces{Secrets: []m2m.Secret{m2m.Secret(secret)}}, nil
}

func (n *HMACNonces) check() error {
	if len(n.Secrets) == 0 {
		return errors.New("jwtauth: invalid HMACNonces: no Secrets")
	}
	for _, s := range n.Secrets {
		if len(s) < 32 {
			return errors.New("jwtauth: invalid HMACNonces: a secret shorter than 32 bytes")
		}
	}
	if n.Window < 0 {
		return errors.New("jwtauth: invalid HMACNonces: negative Window")
	}
	return nil
}

func (n *HMACNonces) window() int64 {
	w := n.Window
	if w == 0 {
		w = DefaultNonceWindow
	}
	now := time.Now
	if n.Now != nil {
		now = n.Now
	}
	return now().UnixNano() / int64(w)
}

func nonceMAC(secret m2m.Secret, window uint64) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("m2m dpop nonce\x00"))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], window)
	m.Write(b[:])
	return m.Sum(nil)[:16]
}

// Nonce returns the nonce of the current window.
func (n *HMACNonces) Nonce(context.Context) (string, error) {
	if err := n.check(); err != nil {
		return "", err
	}
	w := uint64(n.window())
	var b [hmacNonceLen]byte
	binary.BigEndian.PutUint64(b[:8], w)
	copy(b[8:], nonceMAC(n.Secrets[0], w))
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// CheckNonce accepts a nonce of the current or the previous window made
// with one of the secrets; the MAC is compared in constant time.
func (n *HMACNonces) CheckNonce(_ context.Context, nonce string) error {
	if err := n.check(); err != nil {
		return err
	}
	if len(nonce) != base64.RawURLEncoding.EncodedLen(hmacNonceLen) {
		return fmt.Errorf("%w: wrong length", ErrBadNonce)
	}
	var b [hmacNonceLen]byte
	if k, err := base64.RawURLEncoding.Strict().Decode(b[:], []byte(nonce)); err != nil || k != hmacNonceLen {
		return fmt.Errorf("%w: not base64url", ErrBadNonce)
	}
	w := binary.BigEndian.Uint64(b[:8])
	cur := uint64(n.window())
	if w != cur && w+1 != cur {
		return fmt.Errorf("%w: stale", ErrBadNonce)
	}
	ok := 0
	for _, s := range n.Secrets {
		ok |= subtle.ConstantTimeCompare(b[8:], nonceMAC(s, w))
	}
	if ok == 0 {
		return fmt.Errorf("%w: not issued here", ErrBadNonce)
	}
	return nil
}
