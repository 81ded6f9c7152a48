package jsonstr

import (
	"encoding/json"
	"testing"
)

var cases = []string{
	"",
	"plain ascii",
	`quote " backslash \ slash /`,
	"<script>&amp;</script>",
	"\x00\x01\x1f\x7f\b\f\n\r\t",
	"caf\u00e9 \u65e5\u672c \U0001F600",
	"\u2028\u2029",
	"bad utf-8 \xff\xfe \xc3 end",
	"truncated \xe2\x80",
	"\xed\xa0\x80 surrogate",
	"at+jwt",
	"https://api.example.test/a?b=c&d=e",
}

func TestAppendMatchesMarshal(t *testing.T) {
	for _, s := range cases {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := Append(nil, s); string(got) != string(want) {
			t.Errorf("Append(%q) = %s; want %s", s, got, want)
		}
	}
}

func TestAppendKeepsPrefix(t *testing.T) {
	if got := string(Append([]byte(`{"a":`), "x<y")); got != `{"a":"x\u003cy"` {
		t.Errorf(`Append({"a":, "x<y") = %s; want {"a":"x\u003cy"`, got)
	}
}

func TestAppendAllocs(t *testing.T) {
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { Append(buf[:0], "caf\u00e9 <\xff> \u2028") }); n != 0 {
		t.Errorf("Append into a large enough buffer: %v allocations; want 0", n)
	}
}

// FuzzAppend checks Append against json.Marshal on arbitrary strings,
// valid UTF-8 or not.
func FuzzAppend(f *testing.F) {
	for _, s := range cases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := Append(nil, s); string(got) != string(want) {
			t.Fatalf("Append(%q) = %s; want %s", s, got, want)
		}
	})
}

func BenchmarkAppend(b *testing.B) {
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = Append(buf[:0], "https://api.example.test")
	}
}
