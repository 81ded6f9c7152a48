package djangosign

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/m2mkit/m2m/scoped/internal/pyjson"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// B62Encode is Django's b62_encode: digits 0-9A-Za-z, "0" for zero, a "-"
// prefix for negative numbers.
func B62Encode(n int64) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	u := uint64(n)
	if neg {
		u = uint64(-n)
	}
	var buf [12]byte
	i := len(buf)
	for u > 0 {
		i--
		buf[i] = base62[u%62]
		u /= 62
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}

// B62Decode is Django's b62_decode, for any length.
func B62Decode(s string) (*big.Int, error) {
	if s == "0" {
		return new(big.Int), nil
	}
	if s == "" {
		return nil, &Error{Class: "IndexError", msg: "empty timestamp", django: "string index out of range"}
	}
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	n := new(big.Int)
	var d big.Int
	for i := 0; i < len(s); i++ {
		k := strings.IndexByte(base62, s[i])
		if k < 0 {
			return nil, &Error{Class: "ValueError", msg: "timestamp is not base62", django: "substring not found"}
		}
		n.Mul(n, big.NewInt(62))
		n.Add(n, d.SetInt64(int64(k)))
	}
	if neg {
		n.Neg(n)
	}
	return n, nil
}

var b64Value = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/" {
		t[c] = byte(i)
	}
	t['-'], t['_'] = 62, 63
	return t
}()

// B64Decode is Django's b64_decode: add "=" padding to a multiple of four,
// then base64.urlsafe_b64decode, which skips characters outside the
// alphabet and stops at a complete padding sequence, exactly as CPython's
// binascii.a2b_base64 in its non-strict mode.
func B64Decode(s string) ([]byte, error) {
	pad := (4 - len(s)%4) % 4
	out := make([]byte, 0, (len(s)+pad)*3/4)
	var quad, pads, left, valid int
	for i := 0; i < len(s)+pad; i++ {
		c := byte('=')
		if i < len(s) {
			c = s[i]
		}
		if c == '=' {
			if quad >= 2 {
				pads++
				if quad+pads >= 4 {
					return out, nil
				}
			}
			continue
		}
		v := b64Value[c]
		if v == 0xff {
			continue
		}
		valid++
		pads = 0
		switch quad {
		case 0:
			quad, left = 1, int(v)
		case 1:
			out = append(out, byte(left<<2|int(v)>>4))
			quad, left = 2, int(v)&0x0f
		case 2:
			out = append(out, byte(left<<4|int(v)>>2))
			quad, left = 3, int(v)&0x03
		case 3:
			out = append(out, byte(left<<6|int(v)))
			quad, left = 0, 0
		}
	}
	if quad == 1 {
		return nil, &Error{Class: "Error", msg: "bad base64 payload", django: fmt.Sprintf("Invalid base64-encoded string: number of data characters (%d) cannot be 1 more than a multiple of 4", valid)}
	}
	if quad != 0 {
		return nil, &Error{Class: "Error", msg: "bad base64 payload", django: "Incorrect padding"}
	}
	return out, nil
}

// PythonJSON encodes v with encoding/json and rewrites the text as
// Python's json.dumps(v, separators=(",", ":")) would write the same
// value: object key order kept, non-ASCII and DEL as \u escapes. Numbers
// keep the text encoding/json gave them.
func PythonJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("djangosign: encoding payload: %w", err)
	}
	return PythonizeJSON(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// PythonizeJSON rewrites JSON text in Python's compact ensure_ascii form,
// keeping key order and number literals as written.
func PythonizeJSON(text []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var b strings.Builder
	if err := pythonize(dec, &b); err != nil {
		return nil, fmt.Errorf("djangosign: encoding payload: %w", err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("djangosign: encoding payload: trailing data")
	}
	return []byte(b.String()), nil
}

func pythonize(dec *json.Decoder, b *strings.Builder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		closer := json.Delim(']')
		if t == '{' {
			closer = '}'
		}
		b.WriteByte(byte(t))
		for i := 0; dec.More(); i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			if t == '{' {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				pyjson.Quote(b, k.(string))
				b.WriteByte(':')
			}
			if err := pythonize(dec, b); err != nil {
				return err
			}
		}
		if end, err := dec.Token(); err != nil || end != closer {
			return fmt.Errorf("unbalanced JSON")
		}
		b.WriteByte(byte(closer))
	case string:
		pyjson.Quote(b, t)
	case json.Number:
		b.WriteString(t.String())
	case bool:
		if t {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case nil:
		b.WriteString("null")
	}
	return nil
}
