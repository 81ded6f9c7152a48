package djangosign

import (
	"bytes"
	"encoding/json"
	"errors"
	"hash"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"
)

var testKey = []byte("fn)t*+$)ugeyip6-#txyy$5wf2ervc0d2n#h)qb)y5@ly$t*@w")

func at(sec int64) func() time.Time { return func() time.Time { return time.Unix(sec, 0) } }

func TestB64Decode(t *testing.T) {
	// Expected values from CPython's base64.urlsafe_b64decode(s + pad).
	tests := []struct {
		in, want, class string
	}{
		{"ImhlbGxvIg", `"hello"`, ""},
		{"Imh!lb:GxvIg", "", "Error"},
		{"a", "", "Error"},
		{"ab=c", "", "Error"},
		{"ab==cd", "i", ""},
		{"abc=de", "i\xb7", ""},
		{"YW=Jj", "abc", ""},
		{"-_-_", "\xfb\xff\xbf", ""},
		{"+/+/", "\xfb\xff\xbf", ""},
		{"YQ", "a", ""},
		{"Y W J j", "abc", ""},
		{"YWJj=", "abc", ""},
		{"====", "", ""},
		{"é", "", ""},
	}
	for _, tt := range tests {
		got, err := B64Decode(tt.in)
		var de *Error
		switch {
		case tt.class != "" && (!errors.As(err, &de) || de.Class != tt.class):
			t.Errorf("B64Decode(%q) = %q, %v; want a %s", tt.in, got, err, tt.class)
		case tt.class == "" && (err != nil || string(got) != tt.want):
			t.Errorf("B64Decode(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := B64Decode("a"); err == nil || !strings.Contains(err.(*Error).DjangoMessage(), "(1) cannot be 1 more than a multiple of 4") {
		t.Errorf("B64Decode(\"a\") message = %v", err)
	}
}

func TestB62(t *testing.T) {
	for _, n := range []int64{0, 1, 61, 62, -1, -62, 1700000000, 4102444800, 1<<62 - 1} {
		s := B62Encode(n)
		got, err := B62Decode(s)
		if err != nil || got.Int64() != n {
			t.Errorf("B62Decode(B62Encode(%d) = %q) = %v, %v", n, s, got, err)
		}
	}
	if got := B62Encode(1700000000); got != "1r31eq" {
		t.Errorf("B62Encode(1700000000) = %q; want 1r31eq", got)
	}
	for _, tt := range []struct{ in, class string }{{"", "IndexError"}, {"1r3.eq", "ValueError"}, {"é", "ValueError"}} {
		if _, err := B62Decode(tt.in); err == nil || err.(*Error).Class != tt.class {
			t.Errorf("B62Decode(%q) = %v; want a %s", tt.in, err, tt.class)
		}
	}
	if got, _ := B62Decode("-"); got.Sign() != 0 {
		t.Errorf("B62Decode(\"-\") = %v; want 0 (as Django)", got)
	}
	long, err := B62Decode("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz")
	if err != nil || long.Cmp(new(big.Int).Lsh(big.NewInt(1), 180)) <= 0 {
		t.Errorf("B62Decode(32 z) = %v, %v; want a number above 2^180", long, err)
	}
}

func TestUnsignRules(t *testing.T) {
	s := &Signer{Key: testKey, Now: at(1700000000)}
	tok, err := s.Dumps(map[string]int{"a": 1}, false)
	if err != nil {
		t.Fatal(err)
	}
	old := &Signer{Key: []byte("old key"), Now: at(1700000000)}
	oldTok, _ := old.Dumps("x", false)
	sha1Tok, _ := (&Signer{Key: testKey, Algorithm: SHA1, Now: at(1700000000)}).Dumps("x", false)
	tests := []struct {
		name   string
		s      Signer
		tok    string
		maxAge float64
		class  string
	}{
		{"fresh", Signer{Key: testKey, Now: at(1700000005)}, tok, 10, ""},
		{"age equal to max_age", Signer{Key: testKey, Now: at(1700000010)}, tok, 10, ""},
		{"one second older", Signer{Key: testKey, Now: at(1700000011)}, tok, 10, "SignatureExpired"},
		{"future timestamp is valid (Django)", Signer{Key: testKey, Now: at(1600000000)}, tok, 10, ""},
		{"no max age", Signer{Key: testKey, Now: at(1900000000)}, tok, NoMaxAge, ""},
		{"other salt", Signer{Key: testKey, Salt: "other", Now: at(1700000000)}, tok, NoMaxAge, "BadSignature"},
		{"old key without fallback", Signer{Key: testKey, Now: at(1700000000)}, oldTok, NoMaxAge, "BadSignature"},
		{"old key as fallback", Signer{Key: testKey, Fallbacks: [][]byte{[]byte("old key")}, Now: at(1700000000)}, oldTok, NoMaxAge, ""},
		{"sha1 without legacy", Signer{Key: testKey, Now: at(1700000000)}, sha1Tok, NoMaxAge, "BadSignature"},
		{"sha1 with legacy", Signer{Key: testKey, LegacySHA1: true, Now: at(1700000000)}, sha1Tok, NoMaxAge, ""},
		{"sha1 site refuses sha256", Signer{Key: testKey, Algorithm: SHA1, LegacySHA1: true}, tok, NoMaxAge, "BadSignature"},
		{"too long", Signer{Key: testKey, MaxTokenBytes: 20}, tok, NoMaxAge, "TooLarge"},
		{"no separator", Signer{Key: testKey}, "abc", NoMaxAge, "BadSignature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := tt.s.Unsign(tt.tok, tt.maxAge)
			class := ""
			if err != nil {
				var de *Error
				if !errors.As(err, &de) {
					t.Fatalf("Unsign = %v; not an *Error", err)
				}
				class = de.Class
				if strings.Contains(de.Error(), tt.tok) || (len(tt.tok) > 10 && strings.Contains(de.Error(), tt.tok[len(tt.tok)-10:])) {
					t.Errorf("Error() = %q quotes the token", de.Error())
				}
			}
			if class != tt.class {
				t.Errorf("Unsign(%q, %v) = %v; want class %q", tt.tok, tt.maxAge, err, tt.class)
			}
		})
	}
	_, _, err = (&Signer{Key: testKey, Now: at(1700000011)}).Unsign(tok, 10)
	if !errors.Is(err, ErrExpired) || !errors.Is(err, ErrBadSignature) {
		t.Errorf("errors.Is(%v, ErrExpired/ErrBadSignature) = false; want true (SignatureExpired is a BadSignature)", err)
	}
	if _, _, err := (&Signer{}).Unsign(tok, NoMaxAge); err == nil {
		t.Error("Unsign with no key = nil error")
	}
}

// TestZlibBomb checks that a validly signed payload inflating past
// MaxPayloadBytes is refused without inflating it all.
func TestZlibBomb(t *testing.T) {
	big := bytes.Repeat([]byte("0"), 2<<20) // 2 MiB
	s := &Signer{Key: testKey, Now: at(1700000000), MaxTokenBytes: 64 << 10}
	tok, err := s.Sign(big, true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, ".") || len(tok) > 64<<10 {
		t.Fatalf("token is %d bytes, compressed %v", len(tok), strings.HasPrefix(tok, "."))
	}
	_, _, err = s.Unsign(tok, NoMaxAge)
	var de *Error
	if !errors.As(err, &de) || de.Class != "TooLarge" {
		t.Errorf("Unsign(zlib bomb) = %v; want TooLarge", err)
	}
	s.MaxPayloadBytes = 16 << 20
	if data, _, err := s.Unsign(tok, NoMaxAge); err != nil || len(data) != len(big) {
		t.Errorf("Unsign(zlib bomb) with a 16 MiB limit = %d bytes, %v", len(data), err)
	}
}

func TestLoadsPayloadErrors(t *testing.T) {
	s := &Signer{Key: testKey, Now: at(1700000000)}
	sign := func(payload string) string {
		value := payload + ":" + B62Encode(1700000000)
		return value + ":" + string(signature(mustHasher(SHA256), DefaultSalt, testKey, value))
	}
	tests := []struct{ name, tok, class, want string }{
		{"not JSON", sign("bm90IGpzb24"), "JSONDecodeError", ""},
		{"bad zlib", sign(".bm90IHpsaWI"), "error", ""},
		{"bad base64", sign("a"), "Error", ""},
		{"no timestamp", func() string {
			v := "ImhlbGxvIg"
			return v + ":" + string(signature(mustHasher(SHA256), DefaultSalt, testKey, v))
		}(), "ValueError", ""},
		{"NaN survives", sign("W05hTixJbmZpbml0eV0"), "", "[NaN,Infinity]"},
		{"latin-1 bytes", sign("Ium_Ig"), "", `"\u00e9\u00bf"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Loads(tt.tok, NoMaxAge)
			class := ""
			var de *Error
			if errors.As(err, &de) {
				class = de.Class
			} else if err != nil {
				t.Fatalf("Loads = %v; not an *Error", err)
			}
			if class != tt.class || tt.class == "" && string(got) != tt.want {
				t.Errorf("Loads(%q) = %s, %v; want %q %s", tt.tok, got, err, tt.class, tt.want)
			}
		})
	}
}

func mustHasher(a Algorithm) func() hash.Hash {
	h, err := hasher(a)
	if err != nil {
		panic(err)
	}
	return h
}

func TestPythonJSON(t *testing.T) {
	type payload struct {
		User  int      `json:"user"`
		Name  string   `json:"name"`
		Paths []string `json:"paths"`
	}
	got, err := PythonJSON(payload{7, "Zoë <&> \x7f 😀", []string{"/a"}})
	want := `{"user":7,"name":"Zo\u00eb <&> \u007f \ud83d\ude00","paths":["/a"]}`
	if err != nil || string(got) != want {
		t.Errorf("PythonJSON = %s, %v; want %s", got, err, want)
	}
}

// seedTokens returns every token in the shared vector file.
func seedTokens(tb testing.TB) []string {
	data, err := os.ReadFile("../testdata/django_signing.json")
	if err != nil {
		tb.Fatal(err)
	}
	var f struct {
		Vectors []struct {
			Input map[string]json.RawMessage `json:"input"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, v := range f.Vectors {
		for _, k := range []string{"token", "authorization_header"} {
			var s string
			if json.Unmarshal(v.Input[k], &s) == nil && s != "" {
				out = append(out, strings.TrimPrefix(strings.TrimPrefix(s, "TmpToken "), "tmptoken "))
			}
		}
	}
	return out
}

// FuzzUnsign feeds arbitrary tokens to Unsign and Inspect.
func FuzzUnsign(f *testing.F) {
	for _, s := range seedTokens(f) {
		f.Add(s)
	}
	s := &Signer{Key: testKey, LegacySHA1: true, Now: at(1700000000)}
	f.Fuzz(func(t *testing.T, tok string) {
		if _, _, err := s.Unsign(tok, 10); err != nil {
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("Unsign(%q) = %v; not an *Error", tok, err)
			}
		}
		_, _ = Inspect(tok)
	})
}

// FuzzLoadsSigned signs arbitrary payload parts (plain or "."-compressed)
// so that the base64, zlib and JSON decoders behind a valid signature are
// reached, and checks the size cap.
func FuzzLoadsSigned(f *testing.F) {
	for _, s := range seedTokens(f) {
		if p, _, ok := strings.Cut(s, ":"); ok {
			f.Add(p)
		}
	}
	f.Add("." + strings.TrimSuffix(string(must64(zlibCompress(bytes.Repeat([]byte("1"), 100000)))), "="))
	s := &Signer{Key: testKey, Now: at(1700000000), MaxPayloadBytes: 4096}
	f.Fuzz(func(t *testing.T, payload string) {
		if strings.Contains(payload, ":") {
			return
		}
		value := payload + ":" + B62Encode(1700000000)
		tok := value + ":" + string(signature(mustHasher(SHA256), DefaultSalt, testKey, value))
		data, _, err := s.Unsign(tok, NoMaxAge)
		if err != nil {
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("Unsign = %v; not an *Error", err)
			}
			return
		}
		if len(data) > s.MaxPayloadBytes {
			t.Fatalf("Unsign returned %d bytes; cap %d", len(data), s.MaxPayloadBytes)
		}
		_, _ = s.Loads(tok, NoMaxAge)
	})
}
