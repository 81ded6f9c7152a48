package jws

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"strings"
	"testing"
)

// TestHMACSum checks the pooled HMAC against crypto/hmac for keys shorter
// than, equal to and longer than the block size.
func TestHMACSum(t *testing.T) {
	hashes := map[string]func() hash.Hash{"HS256": sha256.New, "HS384": sha512.New384, "HS512": sha512.New}
	for alg, newH := range hashes {
		for _, klen := range []int{1, 32, 63, 64, 65, 127, 128, 129, 300} {
			key := []byte(strings.Repeat("k", klen-1) + "!")
			for _, msg := range []string{"", "a.b", strings.Repeat("x", 1000)} {
				want := hmac.New(newH, key)
				want.Write([]byte(msg))
				var out [64]byte
				got := hmacSum(algorithms[alg], key, []byte(msg), &out)
				if !hmac.Equal(got, want.Sum(nil)) {
					t.Errorf("%s key %d bytes msg %d bytes: hmacSum = %x; want %x", alg, klen, len(msg), got, want.Sum(nil))
				}
			}
		}
	}
}
