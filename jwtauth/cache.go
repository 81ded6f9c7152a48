package jwtauth

import (
	"time"

	"github.com/m2mkit/m2m/internal/vcache"
)

// verifyCache remembers verified tokens by the SHA-256 of the whole
// token ([vcache.Cache]); entries lapse at the token's exp.
type verifyCache = vcache.Cache[*VerifiedToken]

func newVerifyCache(size int) *verifyCache {
	return vcache.New(size, func(vt *VerifiedToken) time.Time { return vt.Claims.ExpiresAt })
}

// tokenDigest is the SHA-256 of token (the verification cache's key, and
// DPoP's ath), without copying the token.
func tokenDigest(token string) [32]byte { return vcache.Digest(token) }
