// Package jwstest holds helpers for tests of code that verifies compact
// JWS: the other spellings of a valid token that m2m must refuse.
package jwstest

import (
	"crypto/elliptic"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
)

// HighSTwin returns the other spelling of an ES256/384/512 token: its
// signature (r, s) replaced by (r, n-s), which a verifier that does not
// refuse high-S ECDSA signatures also accepts.
func HighSTwin(t testing.TB, token string) string {
	t.Helper()
	i := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
	if err != nil {
		t.Fatalf("jwstest: signature of %q: %v", token, err)
	}
	var curve elliptic.Curve
	switch len(sig) {
	case 64:
		curve = elliptic.P256()
	case 96:
		curve = elliptic.P384()
	case 132:
		curve = elliptic.P521()
	default:
		t.Fatalf("jwstest: a %d-byte signature is not ES256/384/512", len(sig))
	}
	half := len(sig) / 2
	s := new(big.Int).SetBytes(sig[half:])
	s.Sub(curve.Params().N, s).FillBytes(sig[half:])
	return token[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}
