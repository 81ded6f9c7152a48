package jwtauth

import (
	"encoding/json"
	"unicode/utf16"
	"unicode/utf8"
)

// parseObject is the fast path of ParseClaims: it decodes a JSON object
// into the values encoding/json produces with UseNumber (string, bool,
// nil, json.Number, []any, map[string]any), in one pass and without
// reflection. ok is false when the input is invalid or outside what the
// fast path handles (invalid UTF-8, unpaired surrogate escapes, deep
// nesting); the caller then falls back to encoding/json, which has the
// final word. FuzzParseObject checks that the two agree.
func parseObject(data []byte) (m map[string]any, ok bool) {
	p := objParser{data: data}
	p.ws()
	if p.pos >= len(p.data) || p.data[p.pos] != '{' {
		return nil, false
	}
	m, ok = p.object(0)
	if !ok {
		return nil, false
	}
	p.ws()
	return m, p.pos == len(p.data)
}

// maxFastDepth bounds the nesting the fast path follows.
const maxFastDepth = 32

type objParser struct {
	data []byte
	pos  int
}

func (p *objParser) ws() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// object parses an object; p.pos is at '{'.
func (p *objParser) object(depth int) (map[string]any, bool) {
	if depth > maxFastDepth {
		return nil, false
	}
	p.pos++
	m := make(map[string]any, 8)
	p.ws()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return m, true
	}
	for {
		p.ws()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, false
		}
		k, ok := p.key()
		if !ok {
			return nil, false
		}
		p.ws()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, false
		}
		p.pos++
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		m[k] = v
		p.ws()
		if p.pos >= len(p.data) {
			return nil, false
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return m, true
		default:
			return nil, false
		}
	}
}

// key parses an object key, reusing constant strings for the registered
// claim names.
func (p *objParser) key() (string, bool) {
	start := p.pos + 1
	if raw, ok := p.plainString(); ok {
		switch string(raw) {
		case "sub":
			return "sub", true
		case "exp":
			return "exp", true
		case "iat":
			return "iat", true
		case "nbf":
			return "nbf", true
		case "iss":
			return "iss", true
		case "aud":
			return "aud", true
		case "jti":
			return "jti", true
		}
		return string(raw), true
	}
	p.pos = start - 1
	return p.str()
}

// plainString parses a string without escapes; p.pos is at '"'. On
// success p.pos is past the closing quote.
func (p *objParser) plainString() ([]byte, bool) {
	start := p.pos + 1
	for i := start; i < len(p.data); i++ {
		c := p.data[i]
		switch {
		case c == '"':
			raw := p.data[start:i]
			if !utf8.Valid(raw) {
				return nil, false
			}
			p.pos = i + 1
			return raw, true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// str parses any string; p.pos is at '"'.
func (p *objParser) str() (string, bool) {
	if raw, ok := p.plainString(); ok {
		return string(raw), true
	}
	i := p.pos + 1
	buf := make([]byte, 0, 32)
	for i < len(p.data) {
		c := p.data[i]
		switch {
		case c == '"':
			if !utf8.Valid(buf) {
				return "", false
			}
			p.pos = i + 1
			return string(buf), true
		case c < 0x20:
			return "", false
		case c != '\\':
			buf = append(buf, c)
			i++
			continue
		}
		if i+1 >= len(p.data) {
			return "", false
		}
		switch e := p.data[i+1]; e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := hex4(p.data[i+2:])
			if !ok {
				return "", false
			}
			if utf16.IsSurrogate(r) {
				// Only a valid pair is handled here.
				if len(p.data) < i+12 || p.data[i+6] != '\\' || p.data[i+7] != 'u' {
					return "", false
				}
				r2, ok := hex4(p.data[i+8:])
				if !ok {
					return "", false
				}
				r = utf16.DecodeRune(r, r2)
				if r == utf8.RuneError {
					return "", false
				}
				i += 6
			}
			buf = utf8.AppendRune(buf, r)
			i += 6
			continue
		default:
			return "", false
		}
		i += 2
	}
	return "", false
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func (p *objParser) value(depth int) (any, bool) {
	p.ws()
	if p.pos >= len(p.data) {
		return nil, false
	}
	switch c := p.data[p.pos]; {
	case c == '"':
		return p.str()
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	}
	return nil, false
}

func (p *objParser) literal(lit string) bool {
	if len(p.data)-p.pos < len(lit) || string(p.data[p.pos:p.pos+len(lit)]) != lit {
		return false
	}
	p.pos += len(lit)
	return true
}

func (p *objParser) array(depth int) (any, bool) {
	if depth > maxFastDepth {
		return nil, false
	}
	p.pos++
	a := []any{}
	p.ws()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return a, true
	}
	for {
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		a = append(a, v)
		p.ws()
		if p.pos >= len(p.data) {
			return nil, false
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return a, true
		default:
			return nil, false
		}
	}
}

// number parses a JSON number (RFC 8259 section 6) into a json.Number.
func (p *objParser) number() (any, bool) {
	d, i := p.data, p.pos
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	default:
		return nil, false
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return nil, false
		}
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return nil, false
		}
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	}
	n := json.Number(d[p.pos:i])
	p.pos = i
	return n, true
}
