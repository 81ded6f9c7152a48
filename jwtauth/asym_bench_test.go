package jwtauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"
	"testing"
	"time"

	jwtv5 "github.com/golang-jwt/jwt/v5"

	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
)

// BenchmarkAccessTokens compares, on the same tokens, m2m's verification
// of a first-seen token (cache disabled: parse, key lookup, signature,
// claims), of a cached token (SHA-256 of the token, a map lookup, the
// time and key re-checks), golang-jwt/v5 with equivalent options, and
// the bare signature check (hash + verify, the floor).
func BenchmarkAccessTokens(b *testing.B) {
	k := testKeys
	type alg struct {
		name string
		priv any
		pub  any
	}
	algs := []alg{
		{"ES256", k.ec, &k.ec.PublicKey},
		{"EdDSA", k.ed, k.ed.Public().(ed25519.PublicKey)},
		{"RS256", k.rsa, &k.rsa.PublicKey},
	}
	now := time.Unix(1700000100, 0)
	for _, a := range algs {
		key := pubKey(b, a.pub, "k1")
		tok := mint(b, a.name, "k1", "", a.priv, baseClaims())
		newAT := func(cache int) *jwtauth.AccessTokens {
			at, err := jwtauth.NewAccessTokens(jwtauth.Config{
				Issuer: testIss, Audiences: []string{testAud}, Algorithms: []string{a.name},
				Keys: jwk.NewStaticKeySet(jwk.NewSet(key)), Now: func() time.Time { return now }, CacheSize: cache,
			})
			if err != nil {
				b.Fatal(err)
			}
			return at
		}
		ctx := context.Background()
		b.Run(a.name+"/first-seen", func(b *testing.B) {
			at := newAT(-1)
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				if _, err := at.VerifyToken(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start)
		})
		b.Run(a.name+"/cached", func(b *testing.B) {
			at := newAT(0)
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				if _, err := at.VerifyToken(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start)
		})
		b.Run(a.name+"/golang-jwt-v5", func(b *testing.B) {
			p := jwtv5.NewParser(jwtv5.WithValidMethods([]string{a.name}), jwtv5.WithIssuer(testIss),
				jwtv5.WithAudience(testAud), jwtv5.WithExpirationRequired(), jwtv5.WithIssuedAt(),
				jwtv5.WithTimeFunc(func() time.Time { return now }))
			keyfunc := func(t *jwtv5.Token) (any, error) { return a.pub, nil }
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				if _, err := p.Parse(tok, keyfunc); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start)
		})
		b.Run(a.name+"/bare-signature", func(b *testing.B) {
			t, err := jws.Parse(tok, 0)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				if err := jws.VerifySignature(a.name, a.pub, t.SigningInput, t.Signature); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start)
		})
		if a.name == "ES256" {
			// The floor of the floor: SHA-256 of the signing input and
			// crypto/ecdsa.Verify with r and s already decoded.
			b.Run(a.name+"/bare-ecdsa-verify", func(b *testing.B) {
				t, err := jws.Parse(tok, 0)
				if err != nil {
					b.Fatal(err)
				}
				r, s := new(big.Int).SetBytes(t.Signature[:32]), new(big.Int).SetBytes(t.Signature[32:])
				pub := a.pub.(*ecdsa.PublicKey)
				b.ReportAllocs()
				start := cpuTime()
				for b.Loop() {
					h := sha256.Sum256([]byte(t.SigningInput))
					if !ecdsa.Verify(pub, h[:], r, s) {
						b.Fatal("ecdsa.Verify = false")
					}
				}
				reportCPU(b, start)
			})
		}
	}
}

var (
	_ *ecdsa.PublicKey
	_ *rsa.PublicKey
)

// TestVerifyCachedNoAllocation checks that verifying a token seen before
// (a cache hit: digest, lookup, time claims, key still published)
// allocates nothing, for every public-key algorithm.
func TestVerifyCachedNoAllocation(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	k := testKeys
	now := time.Unix(1700000100, 0)
	for _, a := range []struct {
		name      string
		priv, pub any
	}{
		{"ES256", k.ec, &k.ec.PublicKey},
		{"EdDSA", k.ed, k.ed.Public().(ed25519.PublicKey)},
		{"RS256", k.rsa, &k.rsa.PublicKey},
	} {
		t.Run(a.name, func(t *testing.T) {
			tok := mint(t, a.name, "k1", "", a.priv, baseClaims())
			at, err := jwtauth.NewAccessTokens(jwtauth.Config{
				Issuer: testIss, Audiences: []string{testAud}, Algorithms: []string{a.name},
				Keys: jwk.NewStaticKeySet(jwk.NewSet(pubKey(t, a.pub, "k1"))), Now: func() time.Time { return now },
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if _, err := at.VerifyToken(ctx, tok); err != nil {
				t.Fatal(err)
			}
			n := testing.AllocsPerRun(100, func() {
				if _, err := at.VerifyToken(ctx, tok); err != nil {
					t.Fatal(err)
				}
			})
			if n != 0 {
				t.Errorf("cached VerifyToken: %v allocations; want 0", n)
			}
		})
	}
}
