package rolling

import "crypto/sha512"

// The Mersenne Twister MT19937 as CPython's Modules/_randommodule.c
// implements it: init_genrand, init_by_array, genrand_uint32 and
// random_random (genrand_res53). Only the m2m_token compatibility mode uses
// it; it is not a cryptographic generator.
const (
	mtN         = 624
	mtM         = 397
	mtMatrixA   = 0x9908b0df
	mtUpperMask = 0x80000000
	mtLowerMask = 0x7fffffff
)

type mt19937 struct {
	mt  [mtN]uint32
	idx int
}

func (r *mt19937) initGenrand(s uint32) {
	mt := &r.mt
	mt[0] = s
	for i := 1; i < mtN; i++ {
		mt[i] = 1812433253*(mt[i-1]^(mt[i-1]>>30)) + uint32(i)
	}
	r.idx = mtN
}

func (r *mt19937) initByArray(key []uint32) {
	r.initGenrand(19650218)
	mt := &r.mt
	i, j := 1, 0
	k := max(mtN, len(key))
	for ; k > 0; k-- {
		mt[i] = (mt[i] ^ ((mt[i-1] ^ (mt[i-1] >> 30)) * 1664525)) + key[j] + uint32(j)
		i++
		j++
		if i >= mtN {
			mt[0] = mt[mtN-1]
			i = 1
		}
		if j >= len(key) {
			j = 0
		}
	}
	for k = mtN - 1; k > 0; k-- {
		mt[i] = (mt[i] ^ ((mt[i-1] ^ (mt[i-1] >> 30)) * 1566083941)) - uint32(i)
		i++
		if i >= mtN {
			mt[0] = mt[mtN-1]
			i = 1
		}
	}
	mt[0] = 0x80000000
}

func (r *mt19937) uint32() uint32 {
	mt := &r.mt
	if r.idx >= mtN {
		var kk int
		for kk = 0; kk < mtN-mtM; kk++ {
			y := (mt[kk] & mtUpperMask) | (mt[kk+1] & mtLowerMask)
			mt[kk] = mt[kk+mtM] ^ (y >> 1) ^ (-(y & 1) & mtMatrixA)
		}
		for ; kk < mtN-1; kk++ {
			y := (mt[kk] & mtUpperMask) | (mt[kk+1] & mtLowerMask)
			mt[kk] = mt[kk+(mtM-mtN)] ^ (y >> 1) ^ (-(y & 1) & mtMatrixA)
		}
		y := (mt[mtN-1] & mtUpperMask) | (mt[0] & mtLowerMask)
		mt[mtN-1] = mt[mtM-1] ^ (y >> 1) ^ (-(y & 1) & mtMatrixA)
		r.idx = 0
	}
	y := mt[r.idx]
	r.idx++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

// float64 is random.random(): a float in [0, 1) with 53-bit resolution.
func (r *mt19937) float64() float64 {
	a := r.uint32() >> 5
	b := r.uint32() >> 6
	return (float64(a)*67108864.0 + float64(b)) * (1.0 / 9007199254740992.0)
}

// seedBytes seeds r as CPython 3's random.seed(s) does for a str with the
// default version 2: the integer int.from_bytes(utf8(s) + sha512(utf8(s)),
// "big") is split into 32-bit words, least significant first, and passed
// to init_by_array. s is the UTF-8 encoding of the seed string; scratch is reused for the key words when large enough.
func (r *mt19937) seedBytes(s []byte, scratch []uint32) {
	sum := sha512.Sum512(s)
	// The big-endian byte string b = utf8(s) || sum. Word w (least
	// significant first) is the big-endian uint32 ending len(b)-4w bytes in.
	n := len(s) + len(sum)
	byteAt := func(i int) byte {
		if i < len(s) {
			return s[i]
		}
		return sum[i-len(s)]
	}
	// Leading zero bytes do not count: CPython sizes the key from the
	// integer's bit length. The SHA-512 suffix makes the integer non-zero.
	start := 0
	for start < n && byteAt(start) == 0 {
		start++
	}
	words := (n - start + 3) / 4
	key := scratch
	if cap(key) < words {
		key = make([]uint32, words)
	}
	key = key[:words]
	for w := range words {
		end := n - 4*w
		var v uint32
		for i := max(end-4, start); i < end; i++ {
			v = v<<8 | uint32(byteAt(i))
		}
		key[w] = v
	}
	r.initByArray(key)
}
