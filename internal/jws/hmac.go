package jws

import (
	"crypto"
	"hash"
	"sync"
)

// macState is a reusable hash state for HMAC: verifying an HS* token then
// allocates nothing for the MAC, where crypto/hmac.New allocates the two
// hash states and the padded keys on every call.
type macState struct {
	h          hash.Hash
	ipad, opad [128]byte
	inner      [64]byte
}

var macPools = map[crypto.Hash]*sync.Pool{}

func init() {
	for _, a := range algorithms {
		if a.fam == famHMAC {
			newH := a.newH
			macPools[a.hash] = &sync.Pool{New: func() any { return &macState{h: newH()} }}
		}
	}
}

// hmacSum computes HMAC (RFC 2104) of msg under key with a's hash into
// out and returns the MAC.
func hmacSum(a algorithm, key, msg []byte, out *[64]byte) []byte {
	pool := macPools[a.hash]
	st := pool.Get().(*macState)
	defer pool.Put(st)
	h := st.h
	bs := h.BlockSize()
	if len(key) > bs {
		h.Reset()
		h.Write(key)
		key = h.Sum(st.inner[:0])
	}
	for i := range bs {
		var k byte
		if i < len(key) {
			k = key[i]
		}
		st.ipad[i] = k ^ 0x36
		st.opad[i] = k ^ 0x5c
	}
	h.Reset()
	h.Write(st.ipad[:bs])
	h.Write(msg)
	inner := h.Sum(st.inner[:0])
	h.Reset()
	h.Write(st.opad[:bs])
	h.Write(inner)
	sum := h.Sum(out[:0])
	// Do not leave key material in the pooled state.
	clear(st.ipad[:])
	clear(st.opad[:])
	clear(st.inner[:])
	h.Reset()
	return sum
}
