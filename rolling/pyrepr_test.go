package rolling

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode"
)

// pyReprJSON returns Python's str() of the value a JSON text decodes to
// with json.loads: str for a string, repr for everything else (which is
// what str() gives for lists and dicts). Object key order is kept.
func pyReprJSON(raw []byte, top bool) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var b strings.Builder
	if err := pyReprValue(dec, &b, top); err != nil {
		return "", err
	}
	return b.String(), nil
}

func pyReprValue(dec *json.Decoder, b *strings.Builder, top bool) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	return pyReprToken(dec, tok, b, top)
}

func pyReprToken(dec *json.Decoder, tok json.Token, b *strings.Builder, top bool) error {
	switch v := tok.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if v {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case string:
		if top {
			b.WriteString(v)
		} else {
			b.WriteString(pyStrRepr(v))
		}
	case json.Number:
		s := v.String()
		if strings.ContainsAny(s, ".eE") {
			f, err := v.Float64()
			if err != nil {
				return err
			}
			s = pyFloatRepr(f)
		}
		b.WriteString(s)
	case json.Delim:
		open, close := "[", "]"
		if v == '{' {
			open, close = "{", "}"
		}
		b.WriteString(open)
		for i := 0; dec.More(); i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			if v == '{' {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				b.WriteString(pyStrRepr(k.(string)))
				b.WriteString(": ")
			}
			if err := pyReprValue(dec, b, false); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
		b.WriteString(close)
	default:
		return fmt.Errorf("unexpected JSON token %v", tok)
	}
	return nil
}

// pyStrRepr is Python 3's repr(str).
func pyStrRepr(s string) string {
	quote := '\''
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		quote = '"'
	}
	var b strings.Builder
	b.WriteRune(quote)
	for _, r := range s {
		switch {
		case r == quote || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < ' ' || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x7f || unicode.IsPrint(r):
			b.WriteRune(r)
		case r <= 0xff:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteRune(quote)
	return b.String()
}

func TestPyRepr(t *testing.T) {
	tests := []struct{ json, want string }{
		{`"abc"`, "abc"},
		{`12345`, "12345"},
		{`1.5`, "1.5"},
		{`3.0`, "3.0"},
		{`1e16`, "1e+16"},
		{`0.0001`, "0.0001"},
		{`0.00001`, "1e-05"},
		{`true`, "True"},
		{`null`, "None"},
		{`["a", 1, "it's", "\"q\"", null, [true]]`, `['a', 1, "it's", '"q"', None, [True]]`},
		{`{"b": 1, "a": "x\n"}`, `{'b': 1, 'a': 'x\n'}`},
		{`["é\u0000\u00a0😀"]`, `['é\x00\xa0😀']`},
	}
	for _, tt := range tests {
		got, err := pyReprJSON([]byte(tt.json), true)
		if err != nil || got != tt.want {
			t.Errorf("pyReprJSON(%s) = %q, %v; want %q", tt.json, got, err, tt.want)
		}
	}
}
