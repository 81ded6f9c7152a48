package jwtauth_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	jwt "github.com/golang-jwt/jwt/v5"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/jwtauth"
)

// The benchmarks verify one device token {sub, exp, iat} (HS256, 32-byte
// key) with m2m, with golang-jwt/v5, and with a bare HMAC-SHA256 over the
// signing input (the floor: no JSON, no claims).

func benchToken(b *testing.B) (string, *jwtauth.DeviceTokens) {
	d := &jwtauth.DeviceTokens{Keys: []m2m.Secret{key1}, Now: func() time.Time { return t0 }}
	tok, err := d.Issue("alice")
	if err != nil {
		b.Fatal(err)
	}
	return tok, d
}

func BenchmarkHS256Verify(b *testing.B) {
	tok, d := benchToken(b)
	ctx := context.Background()
	b.Run("m2m/Validator", func(b *testing.B) {
		v := d.Validator()
		keys := jwtauth.Secrets(key1)
		b.ReportAllocs()
		cpuLoop(b, func() {
			if _, err := v.Verify(ctx, tok, keys); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("m2m/DeviceTokens", func(b *testing.B) {
		b.ReportAllocs()
		cpuLoop(b, func() {
			if _, err := d.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
		})
	})
	at := func() time.Time { return t0 }
	keyFunc := func(*jwt.Token) (any, error) { return key1, nil }
	b.Run("golang-jwt/MapClaims", func(b *testing.B) {
		p := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(at), jwt.WithExpirationRequired())
		b.ReportAllocs()
		cpuLoop(b, func() {
			if _, err := p.ParseWithClaims(tok, jwt.MapClaims{}, keyFunc); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("golang-jwt/RegisteredClaims", func(b *testing.B) {
		p := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(at), jwt.WithExpirationRequired())
		b.ReportAllocs()
		cpuLoop(b, func() {
			if _, err := p.ParseWithClaims(tok, &jwt.RegisteredClaims{}, keyFunc); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("bare-HMAC-SHA256", func(b *testing.B) {
		b.ReportAllocs()
		var sig [sha256.Size]byte
		cpuLoop(b, func() {
			i := strings.LastIndexByte(tok, '.')
			n, err := base64.RawURLEncoding.Decode(sig[:], []byte(tok[i+1:]))
			if err != nil || n != sha256.Size {
				b.Fatal("bad signature segment")
			}
			mac := hmac.New(sha256.New, key1)
			mac.Write([]byte(tok[:i]))
			if !hmac.Equal(mac.Sum(nil), sig[:]) {
				b.Fatal("mismatch")
			}
		})
	})
}

func BenchmarkHS256Issue(b *testing.B) {
	_, d := benchToken(b)
	b.Run("m2m", func(b *testing.B) {
		b.ReportAllocs()
		cpuLoop(b, func() {
			if _, err := d.Issue("alice"); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("golang-jwt", func(b *testing.B) {
		b.ReportAllocs()
		cpuLoop(b, func() {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice", "exp": t0.Unix() + 3600, "iat": t0.Unix()})
			if _, err := tok.SignedString(key1); err != nil {
				b.Fatal(err)
			}
		})
	})
}

// BenchmarkTokenAuth is a whole bearer check through the m2m.Verifier:
// header parsing, verification and the Principal.
func BenchmarkTokenAuth(b *testing.B) {
	tok, d := benchToken(b)
	ta := &jwtauth.TokenAuth{Check: d.CheckToken}
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	cpuLoop(b, func() {
		if _, err := ta.Verify(r); err != nil {
			b.Fatal(err)
		}
	})
}
