package scoped

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m/internal/benchcpu"
	"github.com/m2mkit/m2m/scoped/djangosign"
)

// loop runs f b.N times (b.Loop) and reports allocations and cpu-ns/op:
// the shared build machines are heavily loaded, so wall-clock ns/op swings
// widely while CPU time per operation is steadier (see package benchcpu).
func loop(b *testing.B, f func()) {
	b.ReportAllocs()
	benchcpu.Loop(b, f)
}

var benchToken = Token{User: 42, MaxAge: 300 * time.Second, Endpoints: []Endpoint{
	{"GET", "/api/v1/projects/"}, {"POST", "/api/v1/uploads/"}}}

// BenchmarkIssue signs a two-endpoint token (Issuer.Issue).
func BenchmarkIssue(b *testing.B) {
	iss := &Issuer{Secret: testSecret, Now: clockAt(t0)}
	loop(b, func() {
		if _, err := iss.Issue(benchToken); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkParseToken verifies a token without a request.
func BenchmarkParseToken(b *testing.B) {
	iss := &Issuer{Secret: testSecret, Now: clockAt(t0)}
	tok, _ := iss.Issue(benchToken)
	v := &Verifier{Secret: testSecret, Now: clockAt(t0 + 1)}
	ctx := context.Background()
	loop(b, func() {
		if _, err := v.ParseToken(ctx, tok); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkVerify is the middleware's path: header, signature, payload,
// policy, endpoint match and Principal.
func BenchmarkVerify(b *testing.B) {
	iss := &Issuer{Secret: testSecret, Now: clockAt(t0)}
	tok, _ := iss.Issue(benchToken)
	v := &Verifier{Secret: testSecret, Now: clockAt(t0 + 1)}
	r := httptest.NewRequest("GET", "/api/v1/projects/7", nil)
	r.Header.Set("Authorization", "TmpToken "+tok)
	loop(b, func() {
		if _, err := v.Verify(r); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkVerifyLegacySHA1 verifies a SHA-1 token on a site that also
// accepts them (two HMACs are computed).
func BenchmarkVerifyLegacySHA1(b *testing.B) {
	iss := &Issuer{Secret: testSecret, Algorithm: djangosign.SHA1, Now: clockAt(t0)}
	tok, _ := iss.Issue(benchToken)
	v := &Verifier{Secret: testSecret, LegacySHA1: true, Now: clockAt(t0 + 1)}
	r := httptest.NewRequest("GET", "/api/v1/projects/7", nil)
	r.Header.Set("Authorization", "TmpToken "+tok)
	loop(b, func() {
		if _, err := v.Verify(r); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkVerifyBadSignature is the cost of refusing a forged token.
func BenchmarkVerifyBadSignature(b *testing.B) {
	iss := &Issuer{Secret: testSecret, Now: clockAt(t0)}
	tok, _ := iss.Issue(benchToken)
	tok = tok[:len(tok)-1] + "A"
	v := &Verifier{Secret: testSecret, Now: clockAt(t0 + 1)}
	r := httptest.NewRequest("GET", "/api/v1/projects/7", nil)
	r.Header.Set("Authorization", "TmpToken "+tok)
	loop(b, func() {
		if _, err := v.Verify(r); err == nil {
			b.Fatal("accepted")
		}
	})
}

// BenchmarkDjangoLoadsCompressed is signing.loads of a compressed value.
func BenchmarkDjangoLoadsCompressed(b *testing.B) {
	s := &djangosign.Signer{Key: testSecret, Now: clockAt(t0)}
	tok, _ := s.Sign([]byte(`{"endpoints":{"GET":[`+strings.Repeat(`"/api/v1/projects/",`, 20)+`"/"]}}`), true)
	loop(b, func() {
		if _, err := s.Loads(tok, 60); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkBareHMACSHA256 is the floor: Django's key derivation plus one
// HMAC-SHA256 over a token's signed value and its base64 encoding, with
// nothing else.
func BenchmarkBareHMACSHA256(b *testing.B) {
	iss := &Issuer{Secret: testSecret, Now: clockAt(t0)}
	tok, _ := iss.Issue(benchToken)
	value := []byte(tok[:strings.LastIndexByte(tok, ':')])
	salt := []byte(DefaultSalt + "signer")
	loop(b, func() {
		kh := sha256.New()
		kh.Write(salt)
		kh.Write(testSecret)
		m := hmac.New(sha256.New, kh.Sum(nil))
		m.Write(value)
		_ = base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	})
}
