package jwtauth

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseObject(t *testing.T) {
	tests := []struct {
		in string
		ok bool // whether the fast path handles it
	}{
		{`{}`, true},
		{` {"sub":"alice","exp":1700003600} `, true},
		{`{"a":[1,-2.5e+3,true,false,null,{"b":"c"}],"d":{}}`, true},
		{`{"s":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}`, true},
		{`{"k\u0041":1}`, true},
		{`{"a":1,"a":2}`, true},
		{`{"a":"\ud800"}`, false},        // lone surrogate: encoding/json decides
		{"{\"a\":\"\xff\"}", false},      // invalid UTF-8: encoding/json decides
		{`{"a":01}`, false},              // invalid number
		{`{"a":1.}`, false},              // invalid number
		{`{"a":-}`, false},               // invalid number
		{`{"a":1,}`, false},              // trailing comma
		{`{"a":1} x`, false},             // trailing data
		{`{"a" 1}`, false},               // missing colon
		{`[1]`, false},                   // not an object
		{`{"a":"x` + "\n" + `"}`, false}, // control character
		{`{"a":tru}`, false},             // bad literal
		{`{"a":"\x"}`, false},            // bad escape
		{strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40), false}, // deep
	}
	for _, tt := range tests {
		m, ok := parseObject([]byte(tt.in))
		if ok != tt.ok {
			t.Errorf("parseObject(%q) ok = %v; want %v", tt.in, ok, tt.ok)
			continue
		}
		if ok {
			want, err := decodeObject([]byte(tt.in))
			if err != nil {
				t.Errorf("parseObject(%q) accepted what encoding/json refuses: %v", tt.in, err)
			} else if diff := cmp.Diff(want, m); diff != "" {
				t.Errorf("parseObject(%q) (-encoding/json +fast):\n%s", tt.in, diff)
			}
		}
	}
}

// FuzzParseObject checks the fast claims parser against encoding/json:
// whatever the fast path accepts, encoding/json accepts with the same
// result.
func FuzzParseObject(f *testing.F) {
	for _, s := range []string{`{"sub":"alice","exp":1700003600}`, `{"a":[1,-2.5e+3,true,false,null,{"b":"c"}]}`,
		`{"s":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}`, `{"a":"\ud800\u0041"}`, "{\"a\":\"\xc3\xa9\"}", `{"aud":["x","y"],"nbf":1e3}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, ok := parseObject(data)
		if !ok {
			return
		}
		want, err := decodeObject(data)
		if err != nil {
			t.Fatalf("parseObject(%q) accepted what encoding/json refuses: %v", data, err)
		}
		if diff := cmp.Diff(want, m); diff != "" {
			t.Fatalf("parseObject(%q) (-encoding/json +fast):\n%s", data, diff)
		}
	})
}
