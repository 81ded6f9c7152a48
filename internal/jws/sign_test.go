package jws

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"math/big"
	"testing"
)

// TestSignEncodedMatchesSign checks that a token signed with the encoded
// header is the token Sign makes of the header JSON, for every algorithm
// whose signature is deterministic, and that the others verify.
func TestSignEncodedMatchesSign(t *testing.T) {
	ks := keys(t)
	payload := []byte(`{"iss":"https://auth.example.test","sub":"c1","exp":2000000000}`)
	for alg, kp := range ks {
		t.Run(alg, func(t *testing.T) {
			hdr := HeaderJSON(alg, "k1", "at+jwt")
			enc := EncodeHeader(alg, "k1", "at+jwt")
			if want := b64.EncodeToString(hdr); enc != want {
				t.Fatalf("EncodeHeader = %s; want %s", enc, want)
			}
			a, err := Sign(alg, kp.priv, hdr, payload)
			if err != nil {
				t.Fatal(err)
			}
			b, err := SignEncoded(alg, kp.priv, enc, payload)
			if err != nil {
				t.Fatal(err)
			}
			switch alg {
			case "HS256", "HS384", "HS512", "EdDSA", "RS256", "RS384", "RS512":
				if a != b {
					t.Errorf("SignEncoded = %s; want Sign's %s", b, a)
				}
			}
			for _, tok := range []string{a, b} {
				p := mustParse(t, tok)
				if err := p.Verify(kp.pub); err != nil {
					t.Errorf("Verify(%s) = %v", tok, err)
				}
				if !bytes.Equal(p.RawHeader, hdr) || !bytes.Equal(p.Payload, payload) {
					t.Errorf("token %s carries %s %s; want %s %s", tok, p.RawHeader, p.Payload, hdr, payload)
				}
			}
		})
	}
	if _, err := SignEncoded("none", nil, "e30", nil); err == nil {
		t.Error("SignEncoded(none) = nil error; want ErrAlgorithm")
	}
}

// TestSignReusesNoToken signs many tokens in turn: each returned string
// keeps its value after the pooled buffer is reused.
func TestSignReusesNoToken(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	enc := EncodeHeader("HS256", "", "JWT")
	var toks []string
	for i := range 50 {
		tok, err := SignEncoded("HS256", key, enc, []byte(`{"n":`+string(rune('0'+i%10))+`}`))
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	for i, tok := range toks {
		if err := mustParse(t, tok).Verify(key); err != nil {
			t.Fatalf("token %d %s after later signatures: %v", i, tok, err)
		}
	}
}

// TestHeaderJSONEscaping checks HeaderJSON against encoding/json on
// values that need escaping.
func TestHeaderJSONEscaping(t *testing.T) {
	for _, kid := range []string{"plain", `q"u\o`, "<&>", "\x01\u2028\xff"} {
		want, _ := json.Marshal(struct {
			Alg string `json:"alg"`
			Kid string `json:"kid"`
			Typ string `json:"typ"`
		}{"ES256", kid, "at+jwt"})
		if got := HeaderJSON("ES256", kid, "at+jwt"); string(got) != string(want) {
			t.Errorf("HeaderJSON(ES256, %q, at+jwt) = %s; want %s", kid, got, want)
		}
	}
	if got := string(HeaderJSON("EdDSA", "", "")); got != `{"alg":"EdDSA"}` {
		t.Errorf(`HeaderJSON(EdDSA, "", "") = %s; want {"alg":"EdDSA"}`, got)
	}
}

// TestNegate checks n - s against math/big for each curve, on edge values
// and random ones.
func TestNegate(t *testing.T) {
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		o := orderOf(curve)
		n := curve.Params().N
		values := []*big.Int{big.NewInt(1), big.NewInt(255), big.NewInt(256), new(big.Int).Sub(n, big.NewInt(1)), new(big.Int).Rsh(n, 1)}
		for range 100 {
			v, err := rand.Int(rand.Reader, n)
			if err != nil {
				t.Fatal(err)
			}
			if v.Sign() > 0 {
				values = append(values, v)
			}
		}
		for _, v := range values {
			s := make([]byte, len(o.n))
			v.FillBytes(s)
			negate(s, o.n)
			if want := new(big.Int).Sub(n, v); new(big.Int).SetBytes(s).Cmp(want) != 0 {
				t.Fatalf("%s: negate(%x) = %x; want %x", curve.Params().Name, v, s, want)
			}
		}
	}
}

// TestSignAllocs pins the allocations of an ES256 signature outside
// crypto/ecdsa: SignEncoded costs one (the token) more than
// ecdsa.SignASN1 does.
func TestSignAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector drops sync.Pool items at random")
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("input"))
	base := testing.AllocsPerRun(200, func() { ecdsa.SignASN1(rand.Reader, k, d[:]) })
	enc := EncodeHeader("ES256", "k1", "at+jwt")
	payload := []byte(`{"iss":"https://auth.example.test","sub":"c1","aud":"https://api.example.test","exp":2000000000}`)
	got := testing.AllocsPerRun(200, func() { SignEncoded("ES256", k, enc, payload) })
	// Allowing half an allocation for ecdsa.SignASN1's own variation.
	t.Logf("SignEncoded %v allocs, SignASN1 %v", got, base)
	if got > base+1.5 {
		t.Errorf("SignEncoded(ES256): %v allocations; want at most ecdsa.SignASN1's %v + 1", got, base)
	}
}

// TestScratchPutZeroes checks that the pooled signing buffer, which held
// a token, is zeroed before it is reused.
func TestScratchPutZeroes(t *testing.T) {
	sc := scratchPool.Get().(*scratch)
	sc.buf = append(sc.buf[:0], "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"...)
	sc.digest[0], sc.sig[0] = 1, 1
	backing := sc.buf[:cap(sc.buf)]
	sc.put()
	if bytes.ContainsFunc(backing, func(r rune) bool { return r != 0 }) || sc.digest[0] != 0 || sc.sig[0] != 0 {
		t.Error("after put, the scratch buffer still holds the token; want it zeroed")
	}
}
