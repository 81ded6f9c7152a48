package pyjson

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

const hexDigits = "0123456789abcdef"

// Encode returns v as json.dumps(v, separators=(",", ":")) writes it with
// the default ensure_ascii=True and allow_nan=True.
func Encode(v *Value) []byte {
	var b strings.Builder
	encode(&b, v)
	return []byte(b.String())
}

func encode(b *strings.Builder, v *Value) {
	switch v.Kind {
	case Null:
		b.WriteString("null")
	case Bool:
		if v.Bool {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case Int:
		b.WriteString(v.Int.String())
	case Float:
		b.WriteString(FloatRepr(v.Float))
	case String:
		Quote(b, v.Str)
	case Array:
		b.WriteByte('[')
		for i, it := range v.Items {
			if i > 0 {
				b.WriteByte(',')
			}
			encode(b, it)
		}
		b.WriteByte(']')
	case Object:
		b.WriteByte('{')
		for i, m := range v.Members {
			if i > 0 {
				b.WriteByte(',')
			}
			Quote(b, m.Key)
			b.WriteByte(':')
			encode(b, m.Value)
		}
		b.WriteByte('}')
	}
}

// Quote writes s as a JSON string the way Python's ensure_ascii encoder
// does: printable ASCII as is, \" \\ \n \r \t \b \f, every other code
// point as \uxxxx (lower-case hex, astral code points as surrogate pairs).
func Quote(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, n := decodeRune(s[i:])
		i += n
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r >= 0x20 && r < 0x7f:
			b.WriteByte(byte(r))
		case r > 0xffff:
			r -= 0x10000
			u4(b, 0xd800+(r>>10))
			u4(b, 0xdc00+(r&0x3ff))
		default:
			u4(b, r)
		}
	}
	b.WriteByte('"')
}

func u4(b *strings.Builder, r rune) {
	b.WriteString(`\u`)
	b.WriteByte(hexDigits[r>>12&0xf])
	b.WriteByte(hexDigits[r>>8&0xf])
	b.WriteByte(hexDigits[r>>4&0xf])
	b.WriteByte(hexDigits[r&0xf])
}

// FloatRepr formats f as Python's repr(float) and json.dumps do: the
// shortest round-tripping digits, positional notation for exponents from
// -4 to 15 (with ".0" when integral), scientific otherwise ("1e+16",
// "1.5e-05"), and NaN, Infinity, -Infinity.
func FloatRepr(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	// 'e' with shortest precision gives d.ddddde±XX.
	s := strconv.FormatFloat(f, 'e', -1, 64)
	mant, expStr, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(expStr)
	if exp < -4 || exp >= 16 {
		sign := "+"
		if exp < 0 {
			sign = "-"
			exp = -exp
		}
		e := strconv.Itoa(exp)
		if len(e) < 2 {
			e = "0" + e
		}
		return mant + "e" + sign + e
	}
	s = strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// Float64 returns Python's float(v) for an Int or Float (and a bool), and
// false when the conversion would raise OverflowError or v is not numeric.
func (v *Value) Float64() (float64, bool) {
	switch v.Kind {
	case Float:
		return v.Float, true
	case Bool:
		if v.Bool {
			return 1, true
		}
		return 0, true
	case Int:
		f, _ := new(big.Float).SetInt(v.Int).Float64()
		if math.IsInf(f, 0) {
			return 0, false
		}
		return f, true
	}
	return 0, false
}
