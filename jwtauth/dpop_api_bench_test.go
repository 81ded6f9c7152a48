package jwtauth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkAccessTokensDPoPBearer is the API side in one run: a request
// with a (cached) bearer token through the middleware, and the same with
// a DPoP-bound token and a fresh ES256 proof (the proof verified, its ath
// and key checked against the token, its jti inserted in the in-memory
// replay cache). The difference is the price of DPoP per request; compare
// it with BenchmarkDPoP's bare-signature + replay-insert floor.
func BenchmarkAccessTokensDPoPBearer(b *testing.B) {
	const pool = 4096
	const url = "https://api.example.com/v1/things"
	bound := boundToken(b)
	unbound := mint(b, "ES256", "ec1", "at+jwt", testKeys.ec, with(baseClaims(), "iat", dpopNow.Unix()-10, "exp", dpopNow.Unix()+3600))
	proofs := make([]string, pool)
	for i := range proofs {
		proofs[i] = apiProof(b, fmt.Sprintf("bench-%016x", i), "GET", url, bound)
	}
	serve := func(h http.Handler, authz, proof string) {
		r := httptest.NewRequest("GET", "/v1/things", nil)
		r.Header.Set("Authorization", authz)
		if proof != "" {
			r.Header.Set("DPoP", proof)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("status %d %s", w.Code, w.Body)
		}
	}
	b.Run("Bearer", func(b *testing.B) {
		api := newDPoPAPI(b, nil)
		b.ReportAllocs()
		cpuLoop(b, func() { serve(api.handler, "Bearer "+unbound, "") })
	})
	b.Run("DPoP", func(b *testing.B) {
		api := newDPoPAPI(b, nil)
		i := 0
		b.ReportAllocs()
		cpuLoop(b, func() {
			if i == pool {
				i, api = 0, newDPoPAPI(b, nil)
			}
			serve(api.handler, "DPoP "+bound, proofs[i])
			i++
		})
	})
}
