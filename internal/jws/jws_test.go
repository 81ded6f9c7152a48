package jws

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
)

type keypair struct{ priv, pub any }

func keys(t testing.TB) map[string]keypair {
	t.Helper()
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ec521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	secret := []byte("0123456789abcdef0123456789abcdef")
	return map[string]keypair{
		"HS256": {secret, secret}, "HS384": {secret, secret}, "HS512": {secret, secret},
		"RS256": {rk, &rk.PublicKey}, "RS384": {rk, &rk.PublicKey}, "RS512": {rk, &rk.PublicKey},
		"PS256": {rk, &rk.PublicKey}, "PS384": {rk, &rk.PublicKey}, "PS512": {rk, &rk.PublicKey},
		"ES256": {ec256, &ec256.PublicKey}, "ES384": {ec384, &ec384.PublicKey}, "ES512": {ec521, &ec521.PublicKey},
		"EdDSA": {edPriv, edPub},
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	ks := keys(t)
	for alg, kp := range ks {
		t.Run(alg, func(t *testing.T) {
			tok, err := Sign(alg, kp.priv, HeaderJSON(alg, "k1", "JWT"), []byte(`{"sub":"x"}`))
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			parsed, err := Parse(tok, 0)
			if err != nil {
				t.Fatalf("Parse(%q) = %v", tok, err)
			}
			if parsed.Header.Alg != alg || parsed.Header.Kid != "k1" || string(parsed.Payload) != `{"sub":"x"}` {
				t.Fatalf("Parse = %+v", parsed)
			}
			if err := parsed.Verify(kp.pub); err != nil {
				t.Fatalf("Verify = %v; want nil", err)
			}
			// Flip one bit of the payload.
			bad := *parsed
			bad.SigningInput = strings.Replace(parsed.SigningInput, ".", ".e", 1)
			if err := bad.Verify(kp.pub); !errors.Is(err, ErrSignature) {
				t.Errorf("Verify(tampered) = %v; want ErrSignature", err)
			}
		})
	}
}

func TestKeyConfusion(t *testing.T) {
	ks := keys(t)
	rsaPub := ks["RS256"].pub.(*rsa.PublicKey)
	tests := []struct {
		name string
		alg  string
		key  any
	}{
		{"RSA public key as HMAC secret", "HS256", rsaPub},
		{"EC key for RSA alg", "RS256", ks["ES256"].pub},
		{"P-384 key for ES256", "ES256", ks["ES384"].pub},
		{"Ed25519 key for ES256", "ES256", ks["EdDSA"].pub},
		{"HMAC secret for EdDSA", "EdDSA", []byte("secret")},
		{"string key for HS256", "HS256", "secret"},
	}
	for _, tt := range tests {
		err := VerifySignature(tt.alg, tt.key, "a.b", []byte("sig"))
		if !errors.Is(err, ErrKeyType) {
			t.Errorf("%s: VerifySignature = %v; want ErrKeyType", tt.name, err)
		}
	}
}

func TestParseRejects(t *testing.T) {
	enc := func(s string) string { return b64.EncodeToString([]byte(s)) }
	tests := []struct {
		name, tok string
		want      error
	}{
		{"two segments", enc(`{"alg":"HS256"}`) + "." + enc(`{}`), ErrMalformed},
		{"four segments", enc(`{"alg":"HS256"}`) + ".e30.x.y", ErrMalformed},
		{"empty", "", ErrMalformed},
		{"padded base64", enc(`{"alg":"HS256"}`) + ".e30=.", ErrMalformed},
		{"header not JSON", enc(`nope`) + ".e30.", ErrMalformed},
		{"header an array", enc(`["alg"]`) + ".e30.", ErrMalformed},
		{"header null", enc(`null`) + ".e30.", ErrMalformed},
		{"no alg", enc(`{"typ":"JWT"}`) + ".e30.", ErrMalformed},
		{"alg not a string", enc(`{"alg":1}`) + ".e30.", ErrMalformed},
		{"alg none", enc(`{"alg":"none"}`) + ".e30.", ErrAlgorithm},
		{"alg NONE", enc(`{"alg":"NONE"}`) + ".e30.", ErrAlgorithm},
		{"crit", enc(`{"alg":"HS256","crit":["exp"]}`) + ".e30.", ErrUnsupported},
		{"alg in upper case only", enc(`{"ALG":"HS256"}`) + ".e30.", ErrMalformed},
		{"kid not a string", enc(`{"alg":"HS256","kid":1}`) + ".e30.", ErrMalformed},
		{"too large", strings.Repeat("a", DefaultMaxTokenBytes+1), ErrTooLarge},
		{"the CVE-2025-30204 shape", "Bearer " + strings.Repeat(".", 20000), ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse(tt.tok, 0); !errors.Is(err, tt.want) {
				t.Errorf("Parse = %v; want %v", err, tt.want)
			}
		})
	}
}

// TestHeaderNamesCaseSensitive checks that header parameters are read by
// their exact names, as PyJWT reads them: encoding/json alone would let
// "ALG" or "TYP" override "alg" or "typ".
func TestHeaderNamesCaseSensitive(t *testing.T) {
	enc := func(s string) string { return b64.EncodeToString([]byte(s)) }
	tests := []struct {
		header string
		want   Header
	}{
		{`{"alg":"HS256","ALG":"RS256"}`, Header{Alg: "HS256"}},
		{`{"alg":"HS256","typ":"JWT","TYP":"at+jwt","Kid":"k2","CTY":"x"}`, Header{Alg: "HS256", Typ: "JWT"}},
		{`{"alg":"HS256","kid":"k1","cty":"JWT","Crit":["exp"]}`, Header{Alg: "HS256", Kid: "k1", Cty: "JWT"}},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			tok, err := Parse(enc(tt.header)+".e30.", 0)
			if err != nil {
				t.Fatalf("Parse(%s) = %v", tt.header, err)
			}
			if got := tok.Header; got.Alg != tt.want.Alg || got.Kid != tt.want.Kid || got.Typ != tt.want.Typ || got.Cty != tt.want.Cty || len(got.Crit) != 0 {
				t.Errorf("Parse(%s).Header = %+v; want %+v", tt.header, got, tt.want)
			}
		})
	}
}

// TestHeaderCacheBound checks that big headers are not cached, so that
// distinct big headers cannot pin memory.
func TestHeaderCacheBound(t *testing.T) {
	enc := func(s string) string { return b64.EncodeToString([]byte(s)) }
	big := enc(`{"alg":"HS256","kid":"` + strings.Repeat("k", 1000) + `"}`)
	if _, err := Parse(big+".e30.", 0); err != nil {
		t.Fatal(err)
	}
	headerCache.RLock()
	_, cached := headerCache.m[big]
	headerCache.RUnlock()
	if cached {
		t.Errorf("a %d-byte encoded header was cached; want only up to %d bytes", len(big), headerCacheMaxKey)
	}
}

// TestNilKeys checks that typed nil keys (a KeyFunc that looked up a
// missing key, say) and keys without a curve or modulus are ErrKeyType,
// not a panic.
func TestNilKeys(t *testing.T) {
	tests := []struct {
		alg       string
		pub, priv any
	}{
		{"RS256", (*rsa.PublicKey)(nil), (*rsa.PrivateKey)(nil)},
		{"RS256", &rsa.PublicKey{}, &rsa.PrivateKey{}},
		{"PS256", (*rsa.PublicKey)(nil), (*rsa.PrivateKey)(nil)},
		{"ES256", (*ecdsa.PublicKey)(nil), (*ecdsa.PrivateKey)(nil)},
		{"ES256", &ecdsa.PublicKey{}, &ecdsa.PrivateKey{}},
		{"HS256", []byte(nil), []byte(nil)},
		{"EdDSA", ed25519.PublicKey(nil), ed25519.PrivateKey(nil)},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %T", tt.alg, tt.pub), func(t *testing.T) {
			if err := VerifySignature(tt.alg, tt.pub, "a.b", make([]byte, 64)); err == nil {
				t.Errorf("VerifySignature(%s, %#v) = nil; want an error", tt.alg, tt.pub)
			}
			if _, err := Sign(tt.alg, tt.priv, HeaderJSON(tt.alg, "", ""), []byte("{}")); err == nil {
				t.Errorf("Sign(%s, %#v) = nil error; want an error", tt.alg, tt.priv)
			}
		})
	}
}

func TestUnknownAlgorithm(t *testing.T) {
	if err := VerifySignature("HS1", []byte("k"), "a.b", nil); !errors.Is(err, ErrAlgorithm) {
		t.Errorf("VerifySignature(HS1) = %v; want ErrAlgorithm", err)
	}
	if _, err := Sign("none", nil, []byte(`{"alg":"none"}`), nil); !errors.Is(err, ErrAlgorithm) {
		t.Errorf("Sign(none) = %v; want ErrAlgorithm", err)
	}
}

func TestShortRSAKeyRefused(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Skip("cannot generate a 1024-bit key:", err)
	}
	tok, err := Sign("RS256", k, HeaderJSON("RS256", "", ""), []byte("{}"))
	if err != nil {
		t.Skip("cannot sign with a 1024-bit key:", err)
	}
	p, _ := Parse(tok, 0)
	if err := p.Verify(&k.PublicKey); !errors.Is(err, ErrKeyType) {
		t.Errorf("Verify with a 1024-bit key = %v; want ErrKeyType", err)
	}
}

func FuzzParse(f *testing.F) {
	ks := keys(f)
	for _, alg := range []string{"HS256", "ES256", "EdDSA"} {
		tok, _ := Sign(alg, ks[alg].priv, HeaderJSON(alg, "k", "at+jwt"), []byte(`{"sub":"a","exp":1}`))
		f.Add(tok)
	}
	for _, tok := range vectorTokens(f) {
		f.Add(tok)
		f.Add(tok + "\n")
	}
	f.Add("e30.e30.")
	f.Add("..")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := Parse(s, 0)
		if err != nil {
			return
		}
		// One spelling: the accepted input is exactly the canonical
		// encoding of what it decodes to.
		e := base64.RawURLEncoding
		if want := e.EncodeToString(tok.RawHeader) + "." + e.EncodeToString(tok.Payload) + "." + e.EncodeToString(tok.Signature); s != want {
			t.Fatalf("Parse accepted %q, another spelling of %q", s, want)
		}
		for _, kp := range ks {
			_ = tok.Verify(kp.pub)
		}
	})
}

func BenchmarkParseVerifyHS256(b *testing.B) {
	key := []byte("0123456789abcdef0123456789abcdef")
	tok, _ := Sign("HS256", key, HeaderJSON("HS256", "", "JWT"), []byte(`{"sub":"device","exp":2000000000,"iat":1700000000}`))
	b.ReportAllocs()
	for b.Loop() {
		p, err := Parse(tok, 0)
		if err != nil || p.Verify(key) != nil {
			b.Fatal("verify failed")
		}
	}
}
