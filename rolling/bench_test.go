package rolling

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

var benchNow = time.Unix(1_700_000_010, 0)

// The floor: one HMAC-SHA-256 of 8 bytes with a reused keyed state.
func BenchmarkBareHMACSHA256(b *testing.B) {
	mac := hmac.New(sha256.New, testSeed)
	var msg [8]byte
	sum := make([]byte, 0, 32)
	b.ReportAllocs()
	for b.Loop() {
		mac.Reset()
		mac.Write(msg[:])
		sum = mac.Sum(sum[:0])
	}
}

// The same with hmac.New on every call.
func BenchmarkBareHMACSHA256New(b *testing.B) {
	var msg [8]byte
	b.ReportAllocs()
	for b.Loop() {
		mac := hmac.New(sha256.New, testSeed)
		mac.Write(msg[:])
		mac.Sum(nil)
	}
}

var benchConfigs = []struct {
	name string
	cfg  Config
}{
	{"totp-sha1-6", TOTP()},
	{"hmac-sha256-alnum12", Config{}},
	{"hmac-sha512-alnum12", Config{Algorithm: SHA512}},
	{"hmac-sha256-unicode64", Config{Alphabet: "αβγδεζηθ😀", Length: 64}},
}

func BenchmarkHMACGenerate(b *testing.B) {
	for _, bc := range benchConfigs {
		b.Run(bc.name, func(b *testing.B) {
			h := mustHMAC(b, string(testSeed), bc.cfg)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Generate(benchNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Verification of the current step's code with the default window of 1:
// the steady state of a server.
func BenchmarkHMACVerifyCurrent(b *testing.B) {
	for _, bc := range benchConfigs {
		b.Run(bc.name, func(b *testing.B) {
			h := mustHMAC(b, string(testSeed), bc.cfg)
			code, _ := h.Generate(benchNow)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Match(code, benchNow, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A wrong code: every step of the window is computed.
func BenchmarkHMACVerifyWrong(b *testing.B) {
	for _, bc := range benchConfigs {
		b.Run(bc.name, func(b *testing.B) {
			h := mustHMAC(b, string(testSeed), bc.cfg)
			code, _ := h.Generate(benchNow.Add(-time.Hour))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Match(code, benchNow, 1); err == nil {
					b.Fatal("matched")
				}
			}
		})
	}
}

func BenchmarkM2MTokenGenerate(b *testing.B) {
	m := &M2MToken{Seed: "VeryComplicatedSeedSoThatItIsReallyHardForTheAttackerToGuessIt", TTL: 3}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Generate(benchNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkM2MTokenVerifyCurrent(b *testing.B) {
	m := &M2MToken{Seed: "VeryComplicatedSeedSoThatItIsReallyHardForTheAttackerToGuessIt", TTL: 3}
	code, _ := m.Generate(benchNow)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Match(code, benchNow, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// Verifier.Check with throttling and the in-memory replay cache: each
// iteration generates and presents the code of a new step (the clock
// advances one period), so every check inserts into the cache. The
// generation (one allocation, about one HMAC) is included.
func BenchmarkVerifierCheckWithReplay(b *testing.B) {
	h := mustHMAC(b, string(testSeed), Config{})
	now := benchNow
	v := &Verifier{Keys: []Key{{"bot", h}}, Now: func() time.Time { return now }}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(30 * time.Second)
		code, _ := h.Generate(now)
		if _, err := v.Check(ctx, "bot", code); err != nil {
			b.Fatal(err)
		}
	}
}

// Verifier.Check without the replay cache (throttle peek, window, match):
// the steady-state cost of the Verifier itself.
func BenchmarkVerifierCheckNoReplay(b *testing.B) {
	h := mustHMAC(b, string(testSeed), Config{})
	v := &Verifier{Keys: []Key{{"bot", h}}, Now: func() time.Time { return benchNow }, InsecureAllowReplay: true}
	code, _ := h.Generate(benchNow)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Check(ctx, "bot", code); err != nil {
			b.Fatal(err)
		}
	}
}

// pquerna/otp for comparison (RFC 6238, SHA-1, 6 digits; base32 secret).
func BenchmarkPquernaTOTPGenerate(b *testing.B) {
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(testSeed)
	opts := totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := totp.GenerateCodeCustom(secret, benchNow, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPquernaTOTPValidate(b *testing.B) {
	for _, alg := range []struct {
		name string
		alg  otp.Algorithm
	}{{"sha1-6", otp.AlgorithmSHA1}, {"sha256-6", otp.AlgorithmSHA256}} {
		b.Run(alg.name, func(b *testing.B) {
			secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(testSeed)
			opts := totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: alg.alg}
			code, _ := totp.GenerateCodeCustom(secret, benchNow, opts)
			b.ReportAllocs()
			for b.Loop() {
				if ok, err := totp.ValidateCustom(code, secret, benchNow, opts); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	}
}

// TestTOTPMatchesPquerna cross-checks RFC mode against pquerna/otp.
func TestTOTPMatchesPquerna(t *testing.T) {
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(testSeed)
	for _, tc := range []struct {
		alg    Algorithm
		palg   otp.Algorithm
		digits otp.Digits
	}{{SHA1, otp.AlgorithmSHA1, otp.DigitsSix}, {SHA256, otp.AlgorithmSHA256, otp.DigitsEight}, {SHA512, otp.AlgorithmSHA512, otp.DigitsSix}} {
		h := mustHMAC(t, string(testSeed), Config{Algorithm: tc.alg, Alphabet: Digits, Length: tc.digits.Length()})
		for _, at := range []int64{0, 59, 1_700_000_010, 2_000_000_000} {
			want, err := totp.GenerateCodeCustom(secret, time.Unix(at, 0), totp.ValidateOpts{Period: 30, Digits: tc.digits, Algorithm: tc.palg})
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := h.Generate(time.Unix(at, 0)); got != want {
				t.Errorf("%s Generate(%d) = %q; pquerna/otp gives %q", tc.alg, at, got, want)
			}
		}
	}
}
