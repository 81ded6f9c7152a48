package jws

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"math/big"
	"testing"
)

// TestES256SignatureForm signs until a high-bit r and a short (leading
// zero byte) r and s have been seen: every signature is exactly 64 bytes,
// low-S (s <= n/2, so its top bit is never set), and verifies through both
// the raw path and ecdsa.Verify with big.Ints.
func TestES256SignatureForm(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("input"))
	var highR, shortR, shortS bool
	for i := 0; i < 2000 && !(highR && shortR && shortS); i++ {
		sig, err := ecdsaSignRaw(nil, k, d[:], 32)
		if err != nil {
			t.Fatal(err)
		}
		if len(sig) != 64 {
			t.Fatalf("ecdsaSignRaw(P-256) = %d bytes; want 64", len(sig))
		}
		highR = highR || sig[0]&0x80 != 0
		if highS(orderOf(k.Curve), sig[32:]) {
			t.Fatalf("ecdsaSignRaw = %x: high-S; want low-S always", sig)
		}
		shortR = shortR || sig[0] == 0
		shortS = shortS || sig[32] == 0
		if !ecdsaVerifyRaw(&k.PublicKey, d[:], sig) {
			t.Fatalf("ecdsaVerifyRaw(%x) = false; want true", sig)
		}
		if !bigIntVerify(&k.PublicKey, d[:], sig) {
			t.Fatalf("ecdsa.Verify(r, s of %x) = false; want true", sig)
		}
		bad := bytes.Clone(sig)
		bad[63] ^= 1
		if ecdsaVerifyRaw(&k.PublicKey, d[:], bad) {
			t.Fatalf("ecdsaVerifyRaw(%x with a flipped bit) = true; want false", sig)
		}
	}
	if !highR || !shortR || !shortS {
		t.Errorf("after 2000 signatures: high r %v, short r %v, short s %v; want all seen", highR, shortR, shortS)
	}
}

// TestDERConversion checks rawToDER against encoding/asn1 and derToRaw as
// its inverse, on edge values: zero, high bit set, leading zero bytes,
// and P-521's 66-byte integers (whose SEQUENCE needs a long-form length).
func TestDERConversion(t *testing.T) {
	pad := func(n int, b ...byte) []byte { return append(make([]byte, n-len(b)), b...) }
	ff := bytes.Repeat([]byte{0xff}, 66)
	tests := []struct {
		name string
		r, s []byte
	}{
		{"small", pad(32, 1), pad(32, 2)},
		{"high bit", pad(32, 0x80), append([]byte{0x80}, make([]byte, 31)...)},
		{"all ones", ff[:32], ff[:32]},
		{"leading zeros", pad(32, 0, 0x7f, 1), pad(32, 0, 0x80, 1)},
		{"zero", make([]byte, 32), make([]byte, 32)},
		{"P-384", ff[:48], pad(48, 5)},
		{"P-521", pad(66, 0x01, 0xff, 0xff), ff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rawToDER(nil, tt.r, tt.s)
			want, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(tt.r), new(big.Int).SetBytes(tt.s)})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("rawToDER(%x, %x) = %x; want %x", tt.r, tt.s, got, want)
			}
			r, s := make([]byte, len(tt.r)), make([]byte, len(tt.s))
			if !derToRaw(got, r, s) || !bytes.Equal(r, tt.r) || !bytes.Equal(s, tt.s) {
				t.Errorf("derToRaw(%x) = %x, %x; want %x, %x", got, r, s, tt.r, tt.s)
			}
		})
	}
}

func TestDERToRawRejects(t *testing.T) {
	tests := []struct {
		name string
		der  []byte
	}{
		{"empty", nil},
		{"not a sequence", []byte{0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}},
		{"short", []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01}},
		{"trailing data", []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00}},
		{"extra element", []byte{0x30, 0x09, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}},
		{"negative r", []byte{0x30, 0x06, 0x02, 0x01, 0x80, 0x02, 0x01, 0x01}},
		{"non-minimal r", []byte{0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01}},
		{"empty s", []byte{0x30, 0x05, 0x02, 0x01, 0x01, 0x02, 0x00}},
		{"non-minimal length", []byte{0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}},
		{"too long for the curve", append([]byte{0x30, 0x25, 0x02, 0x21, 0x01}, append(make([]byte, 32), 0x02, 0x01, 0x01)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if derToRaw(tt.der, make([]byte, 32), make([]byte, 32)) {
				t.Errorf("derToRaw(%x) = true; want false", tt.der)
			}
		})
	}
}

// TestES256VerifyRejectsOddSizes checks that signatures of the wrong size
// are refused without a panic, through the exported path and the raw one.
func TestES256VerifyRejectsOddSizes(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := sha256.Sum256([]byte("input"))
	for _, n := range []int{0, 1, 63, 65, 2*maxECIntBytes + 1, 1000} {
		sig := bytes.Repeat([]byte{0xff}, n)
		if ecdsaVerifyRaw(&k.PublicKey, d[:], sig) {
			t.Errorf("ecdsaVerifyRaw(%d bytes) = true; want false", n)
		}
		if err := VerifySignature("ES256", &k.PublicKey, "a.b", sig); err == nil {
			t.Errorf("VerifySignature(ES256, %d bytes) = nil; want an error", n)
		}
	}
}

// FuzzDERConversion checks that derToRaw inverts rawToDER for any r and s
// that fit, and never panics on arbitrary DER.
func FuzzDERConversion(f *testing.F) {
	f.Add(bytes.Repeat([]byte{0xff}, 64))
	f.Add(make([]byte, 64))
	f.Add([]byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, s := make([]byte, maxECIntBytes), make([]byte, maxECIntBytes)
		derToRaw(b, r, s) // must not panic
		if len(b) == 0 || len(b) > 2*maxECIntBytes || len(b)%2 != 0 {
			return
		}
		half := len(b) / 2
		der := rawToDER(nil, b[:half], b[half:])
		r, s = make([]byte, half), make([]byte, half)
		if !derToRaw(der, r, s) || !bytes.Equal(r, b[:half]) || !bytes.Equal(s, b[half:]) {
			t.Fatalf("derToRaw(rawToDER(%x)) = %x %x", b, r, s)
		}
	})
}
