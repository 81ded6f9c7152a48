package dynamic

// This file reproduces the base-36 and hexadecimal conversions of the
// dynamic-token crate, which uses the base-encode crate: a byte string is
// read as a big-endian integer, each leading zero byte becomes one '0', and
// the rest is written in the target base. Decoding a character uses the low
// byte of its code point (the crate's `c as u8`), so U+2665 counts as 'e'.

const (
	alphabet36  = "0123456789abcdefghijklmnopqrstuvwxyz"
	alphabet16  = "0123456789abcdef"
	maxU64Bytes = 8 // more bytes overflow u64 arithmetic in the crate
)

// digitValue returns the value of r in the first base characters of
// alphabet36 using the crate's low-byte rule. With ascii set, only the
// ASCII characters themselves count.
func digitValue(r rune, base int, ascii bool) (byte, bool) {
	if ascii && r >= 0x80 {
		return 0, false
	}
	c := byte(r) // low byte of the code point
	switch {
	case '0' <= c && c <= '9' && int(c-'0') < base:
		return c - '0', true
	case 'a' <= c && c <= 'z' && int(c-'a')+10 < base:
		return c - 'a' + 10, true
	}
	return 0, false
}

// baseDecode converts the digits of s (in base 36 or 16) to bytes: one
// zero byte per leading '0', then the minimal big-endian value. It reports
// false for an empty string or a character that is not a digit.
func baseDecode(s string, base int, ascii bool) ([]byte, bool) {
	if s == "" {
		return nil, false
	}
	var zeros int
	var val []byte // little-endian while building
	leading := true
	for _, r := range s {
		d, ok := digitValue(r, base, ascii)
		if !ok {
			return nil, false
		}
		if leading && d == 0 {
			zeros++
			continue
		}
		leading = false
		carry := int(d)
		for i := range val {
			x := int(val[i])*base + carry
			val[i] = byte(x)
			carry = x >> 8
		}
		for carry > 0 {
			val = append(val, byte(carry))
			carry >>= 8
		}
	}
	out := make([]byte, zeros+len(val))
	for i, b := range val {
		out[len(out)-1-i] = b
	}
	return out, true
}

// baseEncode writes b in base 36 or 16: one '0' per leading zero byte,
// then the big-endian value of the rest. An all-zero input longer than 4
// bytes gets one extra '0', as base-encode does.
func baseEncode(b []byte, base int) string {
	zeros := 0
	for zeros < len(b) && b[zeros] == 0 {
		zeros++
	}
	if zeros == len(b) {
		n := len(b)
		if n > 4 {
			n++
		}
		return zeroString(n)
	}
	num := append([]byte(nil), b[zeros:]...)
	var digits []byte // least significant first
	for len(num) > 0 {
		rem := 0
		for i := range num {
			x := rem<<8 | int(num[i])
			num[i] = byte(x / base)
			rem = x % base
		}
		digits = append(digits, alphabet36[rem])
		for len(num) > 0 && num[0] == 0 {
			num = num[1:]
		}
	}
	out := make([]byte, zeros+len(digits))
	for i := 0; i < zeros; i++ {
		out[i] = '0'
	}
	for i, d := range digits {
		out[len(out)-1-i] = d
	}
	return string(out)
}

func zeroString(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '0'
	}
	return string(b)
}

// crateU64 is the crate's base_36_str_to_u64: the bytes of s, each
// weighted by 256^max(p-i, 0) with p = n-1 (n < 12) or 12, summed in
// wrapping u64 arithmetic as the release build does. overflow reports
// that the debug build would have panicked (more than 8 bytes).
func crateU64(s string, ascii bool) (v uint64, ok, overflow bool) {
	b, ok := baseDecode(s, 36, ascii)
	if !ok {
		return 0, false, false
	}
	n := len(b)
	p := n - 1
	if n >= 12 {
		p = 12
	}
	for i, x := range b {
		k := p - i
		if k < 0 {
			k = 0
		}
		var w uint64
		if k < 8 {
			w = 1 << (8 * k)
		}
		v += uint64(x) * w
	}
	return v, true, n > maxU64Bytes
}

// hexToB36 is the crate's hex_to_b36: the bytes of a hex string written
// in base 36, or "" when s is empty or not hex.
func hexToB36(s string, ascii bool) string {
	b, ok := baseDecode(s, 16, ascii)
	if !ok {
		return ""
	}
	return baseEncode(b, 36)
}

// b36ToHex is the crate's base_36_parts_to_hex_dec for one part.
func b36ToHex(s string, ascii bool) string {
	b, ok := baseDecode(s, 36, ascii)
	if !ok {
		return ""
	}
	return baseEncode(b, 16)
}
