package jws

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"math/big"
	"testing"
)

// bigIntSign and bigIntVerify are the ecdsa.Sign / ecdsa.Verify path that
// ecdsaSignRaw and ecdsaVerifyRaw replaced, kept to compare against.
func bigIntSign(k *ecdsa.PrivateKey, digest []byte, size int) ([]byte, error) {
	r, s, err := ecdsa.Sign(rand.Reader, k, digest)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 2*size)
	r.FillBytes(out[:size])
	s.FillBytes(out[size:])
	return out, nil
}

func bigIntVerify(k *ecdsa.PublicKey, digest, sig []byte) bool {
	half := len(sig) / 2
	return ecdsa.Verify(k, digest, new(big.Int).SetBytes(sig[:half]), new(big.Int).SetBytes(sig[half:]))
}

// BenchmarkES256 compares the ES256 signature primitives: ecdsa.Sign with
// big.Int results against ecdsa.SignASN1 plus DER->r||s, and ecdsa.Verify
// with big.Int inputs against r||s->DER plus ecdsa.VerifyASN1. cpu-ns/op
// is the benchmark thread's own CPU time, steadier than ns/op on a shared
// machine.
func BenchmarkES256(b *testing.B) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	d := sha256.Sum256([]byte("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0"))
	sig, err := ecdsaSignRaw(nil, k, d[:], 32)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("sign/bigint", func(b *testing.B) {
		b.ReportAllocs()
		cpuLoop(b, func() {
			if _, err := bigIntSign(k, d[:], 32); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("sign/asn1", func(b *testing.B) {
		b.ReportAllocs()
		cpuLoop(b, func() {
			if _, err := ecdsaSignRaw(nil, k, d[:], 32); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("verify/bigint", func(b *testing.B) {
		b.ReportAllocs()
		cpuLoop(b, func() {
			if !bigIntVerify(&k.PublicKey, d[:], sig) {
				b.Fatal("verify failed")
			}
		})
	})
	b.Run("verify/asn1", func(b *testing.B) {
		b.ReportAllocs()
		cpuLoop(b, func() {
			if !ecdsaVerifyRaw(&k.PublicKey, d[:], sig) {
				b.Fatal("verify failed")
			}
		})
	})
}
