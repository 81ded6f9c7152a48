package jwtauth_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/replay"
)

// BenchmarkDPoP compares the verification of a DPoP proof (every check,
// the replay insert included, in a fresh in-memory cache) with its floor:
// the bare signature check of the same algorithm (hash + verify) and the
// replay insert alone. Each iteration verifies another proof (another
// jti), as a server does. Goal: verify <= 1.2 x (bare-signature +
// replay-insert).
func BenchmarkDPoP(b *testing.B) {
	const pool = 4096
	ctx := context.Background()
	now := func() time.Time { return dpopNow }
	for _, a := range []struct {
		alg  string
		priv any
		pub  any
	}{
		{"ES256", testKeys.ec, &testKeys.ec.PublicKey},
		{"EdDSA", testKeys.ed, testKeys.ed.Public().(ed25519.PublicKey)},
	} {
		proofs := make([]string, pool)
		for i := range proofs {
			c := validClaims()
			c["jti"] = fmt.Sprintf("bench-%s-%016x", a.alg, i)
			proofs[i] = makeProof(b, proofSpec{alg: a.alg, key: a.priv, claims: c})
		}
		b.Run(a.alg+"/verify", func(b *testing.B) {
			v := &jwtauth.DPoPVerifier{Replay: &replay.Memory{Now: now}, Now: now}
			req := jwtauth.DPoPRequest{Proofs: make([]string, 1), Method: "GET", URL: dpopURL}
			i := 0
			b.ReportAllocs()
			cpuLoop(b, func() {
				if i == pool {
					i, v.Replay = 0, &replay.Memory{Now: now}
				}
				req.Proofs[0] = proofs[i]
				i++
				if _, err := v.Verify(ctx, req); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run(a.alg+"/bare-signature", func(b *testing.B) {
			t, err := jws.Parse(proofs[0], 0)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			cpuLoop(b, func() {
				if err := jws.VerifySignature(a.alg, a.pub, t.SigningInput, t.Signature); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
	b.Run("replay-insert", func(b *testing.B) {
		keys := make([]string, pool)
		for i := range keys {
			keys[i] = fmt.Sprintf("dpop:B5e2rDvzwcOIaklUnKuxBMj7hylxJHayFEVgoqGq4lY:bench-%016x", i)
		}
		r := &replay.Memory{Now: now}
		exp := dpopNow.Add(time.Minute)
		i := 0
		b.ReportAllocs()
		cpuLoop(b, func() {
			if i == pool {
				i, r = 0, &replay.Memory{Now: now}
			}
			if first, err := r.Use(ctx, keys[i], exp); err != nil || !first {
				b.Fatal(first, err)
			}
			i++
		})
	})
}
