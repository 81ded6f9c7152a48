package jws

import (
	"crypto/ecdsa"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/m2mkit/m2m/internal/jws/jwstest"
)

// tweakLast returns seg with the unused low bits of its last base64url
// character set, which decodes to the same bytes under a lenient decoder.
func tweakLast(t *testing.T, seg string) string {
	t.Helper()
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var unused int
	switch len(seg) % 4 {
	case 2:
		unused = 4
	case 3:
		unused = 2
	default:
		t.Fatalf("segment %q has no unused bits (length %d mod 4 = %d)", seg, len(seg), len(seg)%4)
	}
	i := strings.IndexByte(alpha, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(alpha[i|1<<unused-1])
}

// TestParseOneSpelling checks that every other spelling of a valid token is
// refused: the regression tests for whitespace (Go's decoders skip \r and
// \n) and for non-canonical base64url in each segment.
func TestParseOneSpelling(t *testing.T) {
	ks := keys(t)
	// Payload and signature lengths with unused bits: 11 bytes -> 15
	// chars (2 unused bits); HS256's 32-byte MAC -> 43 chars (2 unused
	// bits); the header {"alg":"HS256"} is 15 bytes -> 20 chars (none), so
	// the header case uses a 16-byte header.
	tok, err := Sign("HS256", ks["HS256"].priv, []byte(`{"alg":"HS256"} `), []byte(`{"sub":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(tok, 0); err != nil {
		t.Fatalf("Parse(valid) = %v", err)
	}
	if err := mustParse(t, tok).Verify(ks["HS256"].pub); err != nil {
		t.Fatalf("Verify(valid) = %v", err)
	}
	seg := strings.Split(tok, ".")
	join := func(a, b, c string) string { return a + "." + b + "." + c }
	tests := []struct{ name, token string }{
		{"line feed in the header", seg[0][:5] + "\n" + seg[0][5:] + "." + seg[1] + "." + seg[2]},
		{"CRLF in the payload", join(seg[0], seg[1][:4]+"\r\n"+seg[1][4:], seg[2])},
		{"carriage return at the end", tok + "\r"},
		{"line feed at the end", tok + "\n"},
		{"space in the signature", join(seg[0], seg[1], seg[2][:3]+" "+seg[2][3:])},
		{"tab before", "\t" + tok},
		{"padding", join(seg[0], seg[1]+"=", seg[2])},
		{"standard alphabet", join(seg[0], seg[1], strings.NewReplacer("-", "+", "_", "/").Replace(seg[2])+"+")},
		{"non-canonical header", join(tweakLast(t, seg[0]), seg[1], seg[2])},
		{"non-canonical payload", join(seg[0], tweakLast(t, seg[1]), seg[2])},
		{"non-canonical signature", join(seg[0], seg[1], tweakLast(t, seg[2]))},
		{"NUL", tok[:10] + "\x00" + tok[10:]},
		{"non-ASCII", tok[:10] + "é" + tok[10:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.token == tok {
				t.Fatal("the case does not change the token")
			}
			if _, err := Parse(tt.token, 0); !errors.Is(err, ErrMalformed) {
				t.Errorf("Parse(%q) = %v; want ErrMalformed", tt.token, err)
			}
		})
	}
}

func mustParse(t *testing.T, tok string) *Token {
	t.Helper()
	p, err := Parse(tok, 0)
	if err != nil {
		t.Fatalf("Parse(%q) = %v", tok, err)
	}
	return p
}

// TestHighS checks, for each curve, that Sign emits low-S, that the
// high-S twin of a valid signature is refused by Verify and
// VerifySignature, and accepted by VerifyAllowHighS only.
func TestHighS(t *testing.T) {
	ks := keys(t)
	for _, alg := range []string{"ES256", "ES384", "ES512"} {
		t.Run(alg, func(t *testing.T) {
			pub := ks[alg].pub.(*ecdsa.PublicKey)
			for range 20 { // each signature is low-S; their twins are high-S
				tok, err := Sign(alg, ks[alg].priv, HeaderJSON(alg, "k", ""), []byte(`{"sub":"x"}`))
				if err != nil {
					t.Fatal(err)
				}
				p := mustParse(t, tok)
				if err := p.Verify(pub); err != nil {
					t.Fatalf("Verify(low-S) = %v", err)
				}
				twin := mustParse(t, jwstest.HighSTwin(t, tok))
				if !highS(orderOf(pub.Curve), twin.Signature[len(twin.Signature)/2:]) {
					t.Fatalf("Sign made a high-S signature: %s", tok)
				}
				if err := twin.Verify(pub); !errors.Is(err, ErrSignature) {
					t.Fatalf("Verify(high-S twin) = %v; want ErrSignature", err)
				}
				if err := VerifySignature(alg, pub, twin.SigningInput, twin.Signature); !errors.Is(err, ErrSignature) {
					t.Fatalf("VerifySignature(high-S twin) = %v; want ErrSignature", err)
				}
				if err := twin.VerifyAllowHighS(pub); err != nil {
					t.Fatalf("VerifyAllowHighS(high-S twin) = %v; want nil", err)
				}
			}
		})
	}
}

// vectorTokens returns the compact JWS strings in the interop vector files.
func vectorTokens(t testing.TB) []string {
	var out []string
	re := regexp.MustCompile(`"(eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)"`)
	for _, f := range []string{"../../jwtauth/testdata/microdot_pyjwt.json", "../../jwtauth/testdata/auth0.json"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(data), -1) {
			out = append(out, m[1])
		}
	}
	if len(out) == 0 {
		t.Fatal("no tokens in the vector files")
	}
	return out
}
