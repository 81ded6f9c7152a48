package pyjson

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"os"
	"testing"
)

// TestCPythonGolden compares ParseLatin1 and Encode with CPython's
// json.loads and json.dumps on the inputs of testdata/cpython_golden.json:
// the value's serialisation on success, the exception class on failure.
func TestCPythonGolden(t *testing.T) {
	data, err := os.ReadFile("testdata/cpython_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		ProducedBy string `json:"produced_by"`
		Cases      []struct {
			In    string  `json:"in"`
			OK    *string `json:"ok"`
			Error *string `json:"error"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	for _, c := range g.Cases {
		in, err := base64.StdEncoding.DecodeString(c.In)
		if err != nil {
			t.Fatal(err)
		}
		v, err := ParseLatin1(in)
		switch {
		case c.OK != nil && err != nil:
			t.Errorf("ParseLatin1(%q) = %v; want %s", in, err, *c.OK)
		case c.OK != nil:
			if got := string(Encode(v)); got != *c.OK {
				t.Errorf("Encode(ParseLatin1(%q)) = %s; want %s", in, got, *c.OK)
			}
		case err == nil:
			t.Errorf("ParseLatin1(%q) = %s; want %s", in, Encode(v), *c.Error)
		default:
			var pe *Error
			if !errors.As(err, &pe) || pe.Class != *c.Error {
				t.Errorf("ParseLatin1(%q) = %v; want a %s", in, err, *c.Error)
			}
		}
	}
}

func TestFloatRepr(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{
		{0, "0.0"}, {math.Copysign(0, -1), "-0.0"}, {1, "1.0"}, {0.1, "0.1"}, {1.5e-5, "1.5e-05"},
		{1e-4, "0.0001"}, {1e16, "1e+16"}, {1234567890123456, "1234567890123456.0"},
		{10.000999927520752, "10.000999927520752"}, {math.NaN(), "NaN"}, {math.Inf(-1), "-Infinity"},
		{1e308, "1e+308"}, {5e-324, "5e-324"}, {123.456, "123.456"},
	}
	for _, tt := range tests {
		if got := FloatRepr(tt.f); got != tt.want {
			t.Errorf("FloatRepr(%v) = %q; want %q", tt.f, got, tt.want)
		}
	}
}

func TestDepthLimit(t *testing.T) {
	deep := make([]byte, 0, 2*MaxDepth+2)
	for i := 0; i <= MaxDepth; i++ {
		deep = append(deep, '[')
	}
	for i := 0; i <= MaxDepth; i++ {
		deep = append(deep, ']')
	}
	_, err := ParseLatin1(deep)
	var pe *Error
	if !errors.As(err, &pe) || pe.Class != "RecursionError" {
		t.Errorf("ParseLatin1(%d nested lists) = %v; want RecursionError", MaxDepth+1, err)
	}
	if _, err := ParseLatin1(deep[1 : len(deep)-1]); err != nil {
		t.Errorf("ParseLatin1(%d nested lists) = %v; want ok", MaxDepth, err)
	}
}

func TestDuplicateKeysManyMembers(t *testing.T) {
	// More than 8 members switches to the index; order and last-wins hold.
	in := `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"a":10,"j":11,"i":12}`
	v, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":10,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":12,"j":11}`
	if got := string(Encode(v)); got != want {
		t.Errorf("Encode(Parse(%s)) = %s; want %s", in, got, want)
	}
}

func FuzzParse(f *testing.F) {
	data, err := os.ReadFile("testdata/cpython_golden.json")
	if err != nil {
		f.Fatal(err)
	}
	var g struct {
		Cases []struct {
			In string `json:"in"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &g); err != nil {
		f.Fatal(err)
	}
	for i, c := range g.Cases {
		if i%10 == 0 {
			b, _ := base64.StdEncoding.DecodeString(c.In)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := ParseLatin1(in)
		if err != nil {
			return
		}
		// What Encode writes, Parse reads back to the same text.
		out := Encode(v)
		v2, err := Parse(string(out))
		if err != nil {
			t.Fatalf("Parse(Encode(ParseLatin1(%q))) = %v", in, err)
		}
		if again := Encode(v2); string(again) != string(out) {
			t.Fatalf("round trip %s != %s", again, out)
		}
	})
}
