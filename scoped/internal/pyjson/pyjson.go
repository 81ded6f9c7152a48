// Package pyjson decodes JSON exactly as CPython's json.loads does (with
// its default, strict settings) and encodes values back as
// json.dumps(obj, separators=(",", ":")) with ensure_ascii does. Django's
// signing module serialises with these functions, so a Go reader of Django
// tokens must accept what they accept (NaN, Infinity, integers of any
// size, duplicate keys, lone surrogates) and nothing more.
//
// Object member order is kept, as Python dicts keep insertion order; a
// duplicate key keeps its first position and takes its last value.
package pyjson

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind is the Python type a decoded value has.
type Kind uint8

// The kinds json.loads produces.
const (
	Null   Kind = iota // None
	Bool               // bool
	Int                // int (arbitrary precision)
	Float              // float (including NaN and ±Infinity)
	String             // str
	Array              // list
	Object             // dict
)

// TypeName returns the Python type name of k, as type(v).__name__ gives.
func (k Kind) TypeName() string {
	return [...]string{"NoneType", "bool", "int", "float", "str", "list", "dict"}[k]
}

// Member is one key of an object.
type Member struct {
	Key   string
	Value *Value
}

// Value is a decoded JSON value. Strings hold the Python str: code points
// encoded as UTF-8, except that lone surrogates (which json.loads accepts
// from \uD800-style escapes) are kept as their 3-byte generalised UTF-8
// form so that they survive a round trip.
type Value struct {
	Kind    Kind
	Bool    bool
	Int     *big.Int // Kind Int
	Float   float64  // Kind Float
	Str     string   // Kind String
	Items   []*Value // Kind Array
	Members []Member // Kind Object, in insertion order
}

// Get returns the value of key in an object, or nil.
func (v *Value) Get(key string) *Value {
	if v == nil || v.Kind != Object {
		return nil
	}
	for _, m := range v.Members {
		if m.Key == key {
			return m.Value
		}
	}
	return nil
}

// Truthy reports Python's bool(v).
func (v *Value) Truthy() bool {
	switch v.Kind {
	case Bool:
		return v.Bool
	case Int:
		return v.Int.Sign() != 0
	case Float:
		return v.Float != 0
	case String:
		return v.Str != ""
	case Array:
		return len(v.Items) > 0
	case Object:
		return len(v.Members) > 0
	}
	return false
}

// Error is a decoding failure. Class is the Python exception class
// json.loads raises ("JSONDecodeError", "ValueError" for an integer with
// too many digits, "RecursionError" for nesting that is too deep).
type Error struct {
	Class string
	Msg   string
	Pos   int // offset in code points
}

// Error describes the failure and where it happened.
func (e *Error) Error() string { return fmt.Sprintf("pyjson: %s at char %d", e.Msg, e.Pos) }

// MaxDepth is the deepest nesting Parse accepts. CPython raises
// RecursionError somewhat below its recursion limit of 1000.
const MaxDepth = 500

// maxIntDigits is CPython's default int_max_str_digits (3.11+).
const maxIntDigits = 4300

// ParseLatin1 decodes data as json.loads(data.decode("latin-1")) does:
// every byte is one code point.
func ParseLatin1(data []byte) (*Value, error) {
	return parse(data, true)
}

// Parse decodes s, a Python str given as UTF-8, as json.loads(s) does.
func Parse(s string) (*Value, error) {
	return parse([]byte(strings.ToValidUTF8(s, "\uFFFD")), false)
}

func parse(data []byte, latin1 bool) (*Value, error) {
	p := &parser{s: data, latin1: latin1}
	p.ws()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i != len(p.s) {
		return nil, p.fail("Extra data")
	}
	return v, nil
}

// parser reads bytes: in latin-1 mode each byte is a code point; otherwise
// the input is valid UTF-8, whose multi-byte sequences only ever occur
// inside strings, where they are copied through.
type parser struct {
	s      []byte
	i      int
	latin1 bool
}

func (p *parser) fail(msg string) error { return &Error{Class: "JSONDecodeError", Msg: msg, Pos: p.i} }

func (p *parser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) lit(word string) bool {
	if len(p.s)-p.i < len(word) {
		return false
	}
	for j := 0; j < len(word); j++ {
		if p.s[p.i+j] != word[j] {
			return false
		}
	}
	p.i += len(word)
	return true
}

func (p *parser) value(depth int) (*Value, error) {
	if depth >= MaxDepth {
		return nil, &Error{Class: "RecursionError", Msg: "maximum recursion depth exceeded while decoding a JSON document", Pos: p.i}
	}
	if p.i >= len(p.s) {
		return nil, p.fail("Expecting value")
	}
	switch c := p.s[p.i]; {
	case c == '"':
		p.i++
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return &Value{Kind: String, Str: s}, nil
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == 'n' && p.lit("null"):
		return &Value{Kind: Null}, nil
	case c == 't' && p.lit("true"):
		return &Value{Kind: Bool, Bool: true}, nil
	case c == 'f' && p.lit("false"):
		return &Value{Kind: Bool}, nil
	case c == 'N' && p.lit("NaN"):
		return &Value{Kind: Float, Float: math.NaN()}, nil
	case c == 'I' && p.lit("Infinity"):
		return &Value{Kind: Float, Float: math.Inf(1)}, nil
	case c == '-' && p.i+1 < len(p.s) && p.s[p.i+1] == 'I':
		p.i++
		if p.lit("Infinity") {
			return &Value{Kind: Float, Float: math.Inf(-1)}, nil
		}
		p.i--
		return nil, p.fail("Expecting value")
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	}
	return nil, p.fail("Expecting value")
}

func isDigit(r byte) bool { return '0' <= r && r <= '9' }

// number matches -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)? as the C
// scanner does: a fraction or exponent that does not complete is left for
// the caller (and becomes "Extra data").
func (p *parser) number() (*Value, error) {
	start := p.i
	i := p.i
	if p.s[i] == '-' {
		i++
	}
	switch {
	case i < len(p.s) && p.s[i] == '0':
		i++
	case i < len(p.s) && '1' <= p.s[i] && p.s[i] <= '9':
		for i < len(p.s) && isDigit(p.s[i]) {
			i++
		}
	default:
		return nil, p.fail("Expecting value")
	}
	isFloat := false
	if i+1 < len(p.s) && p.s[i] == '.' && isDigit(p.s[i+1]) {
		i += 2
		for i < len(p.s) && isDigit(p.s[i]) {
			i++
		}
		isFloat = true
	}
	if i < len(p.s) && (p.s[i] == 'e' || p.s[i] == 'E') {
		j := i + 1
		if j < len(p.s) && (p.s[j] == '+' || p.s[j] == '-') {
			j++
		}
		if j < len(p.s) && isDigit(p.s[j]) {
			for j < len(p.s) && isDigit(p.s[j]) {
				j++
			}
			i = j
			isFloat = true
		}
	}
	text := string(p.s[start:i])
	p.i = i
	if isFloat {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, p.fail("Expecting value")
		}
		// ParseFloat returns ±Inf or ±0 on range errors, as float() does.
		return &Value{Kind: Float, Float: f}, nil
	}
	digits := len(text)
	if text[0] == '-' {
		digits--
	}
	if digits > maxIntDigits {
		return nil, &Error{Class: "ValueError", Msg: "Exceeds the limit (4300 digits) for integer string conversion", Pos: start}
	}
	n, ok := new(big.Int).SetString(text, 10)
	if !ok {
		return nil, p.fail("Expecting value")
	}
	return &Value{Kind: Int, Int: n}, nil
}

func (p *parser) hex4() (rune, bool) {
	if len(p.s)-p.i < 4 {
		return 0, false
	}
	var r rune
	for j := 0; j < 4; j++ {
		c := p.s[p.i+j]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	p.i += 4
	return r, true
}

// str reads a string body after its opening quote.
func (p *parser) str() (string, error) {
	var b strings.Builder
	for {
		if p.i >= len(p.s) {
			return "", p.fail("Unterminated string starting at")
		}
		c := p.s[p.i]
		p.i++
		switch {
		case c == '"':
			return b.String(), nil
		case c < 0x20:
			p.i--
			return "", p.fail("Invalid control character at")
		case c >= 0x80 && p.latin1:
			writeRune(&b, rune(c))
			continue
		case c != '\\':
			b.WriteByte(c)
			continue
		}
		if p.i >= len(p.s) {
			return "", p.fail("Unterminated string starting at")
		}
		e := p.s[p.i]
		p.i++
		switch e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.fail("Invalid \\uXXXX escape")
			}
			if 0xd800 <= r && r <= 0xdbff && p.i+1 < len(p.s) && p.s[p.i] == '\\' && p.s[p.i+1] == 'u' {
				save := p.i
				p.i += 2
				r2, ok := p.hex4()
				if !ok {
					return "", p.fail("Invalid \\uXXXX escape")
				}
				if 0xdc00 <= r2 && r2 <= 0xdfff {
					r = 0x10000 + (r-0xd800)<<10 + (r2 - 0xdc00)
				} else {
					p.i = save
				}
			}
			writeRune(&b, r)
		default:
			p.i -= 2
			return "", p.fail("Invalid \\escape")
		}
	}
}

// writeRune writes r as UTF-8, and a surrogate code point as its 3-byte
// generalised UTF-8 form (which utf8.EncodeRune would replace).
func writeRune(b *strings.Builder, r rune) {
	if 0xd800 <= r && r <= 0xdfff {
		b.WriteByte(byte(0xe0 | r>>12))
		b.WriteByte(byte(0x80 | (r>>6)&0x3f))
		b.WriteByte(byte(0x80 | r&0x3f))
		return
	}
	b.WriteRune(r)
}

// decodeRune reverses writeRune.
func decodeRune(s string) (rune, int) {
	if len(s) >= 3 && s[0] == 0xed && s[1] >= 0xa0 && s[1] <= 0xbf && s[2]&0xc0 == 0x80 {
		return rune(s[0]&0x0f)<<12 | rune(s[1]&0x3f)<<6 | rune(s[2]&0x3f), 3
	}
	return utf8.DecodeRuneInString(s)
}

func (p *parser) array(depth int) (*Value, error) {
	p.i++
	v := &Value{Kind: Array, Items: []*Value{}}
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return v, nil
	}
	for {
		p.ws()
		item, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v.Items = append(v.Items, item)
		p.ws()
		if p.i >= len(p.s) {
			return nil, p.fail("Expecting ',' delimiter")
		}
		switch p.s[p.i] {
		case ']':
			p.i++
			return v, nil
		case ',':
			p.i++
		default:
			return nil, p.fail("Expecting ',' delimiter")
		}
	}
}

func (p *parser) object(depth int) (*Value, error) {
	p.i++
	v := &Value{Kind: Object, Members: []Member{}}
	var index map[string]int // built once an object grows, to keep duplicates linear
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return v, nil
	}
	for {
		p.ws()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, p.fail("Expecting property name enclosed in double quotes")
		}
		p.i++
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.ws()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, p.fail("Expecting ':' delimiter")
		}
		p.i++
		p.ws()
		val, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if index == nil && len(v.Members) >= 8 {
			index = make(map[string]int, 16)
			for j, m := range v.Members {
				index[m.Key] = j
			}
		}
		j := -1
		if index != nil {
			if k, ok := index[key]; ok {
				j = k
			}
		} else {
			for k := range v.Members {
				if v.Members[k].Key == key {
					j = k
					break
				}
			}
		}
		if j >= 0 {
			v.Members[j].Value = val
		} else {
			if index != nil {
				index[key] = len(v.Members)
			}
			v.Members = append(v.Members, Member{Key: key, Value: val})
		}
		p.ws()
		if p.i >= len(p.s) {
			return nil, p.fail("Expecting ',' delimiter")
		}
		switch p.s[p.i] {
		case '}':
			p.i++
			return v, nil
		case ',':
			p.i++
		default:
			return nil, p.fail("Expecting ',' delimiter")
		}
	}
}
