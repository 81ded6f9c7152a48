package jwtauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/replay"
)

// FuzzNormalizeHTU checks the htu normaliser: it never panics, its output
// is a fixed point, carries no query or fragment, and a URL and its
// normal form compare equal however they are given (the second call
// refuses a query or fragment, so the output has none).
func FuzzNormalizeHTU(f *testing.F) {
	for _, s := range []string{
		"https://api.example.com/v1/things", "HTTPS://API.Example.COM:443/v1/things", "http://a:80", "http://a:/",
		"http://[::1]:8080/x", "http://[::1]:80/", "https://a/p?q=1#f", "https://u:p@a/", "/relative", "mailto:x@y",
		"https://a/%2F%zz", "https://a/%2f", "http://a:8080/x/../y", "https://xn--bcher-kva.example/", "https:///p", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := normalizeHTU(s, true)
		if err != nil {
			return
		}
		n2, err := normalizeHTU(n, false)
		if err != nil {
			t.Fatalf("normalizeHTU(normalizeHTU(%q) = %q) = %v; want its own normal form", s, n, err)
		}
		if n2 != n {
			t.Fatalf("normalizeHTU(%q) = %q, then %q; want a fixed point", s, n, n2)
		}
		if n3, err := normalizeHTU(s, false); err == nil && n3 != n {
			t.Fatalf("normalizeHTU(%q) = %q with the query stripped and %q without", s, n, n3)
		}
	})
}

// FuzzDPoPProof feeds arbitrary proofs to the verifier: it never panics,
// refuses with a credential error or accepts, and never accepts a proof
// twice.
func FuzzDPoPProof(f *testing.F) {
	for _, s := range dpopSeeds(f) {
		f.Add(s)
	}
	f.Add("e30.e30.")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	now := time.Unix(1800000000, 0)
	f.Fuzz(func(t *testing.T, proof string) {
		v := &DPoPVerifier{Replay: &replay.Memory{Now: func() time.Time { return now }}, Now: func() time.Time { return now }}
		req := DPoPRequest{Proofs: []string{proof}, Method: "GET", URL: "https://api.example.com/v1/things"}
		p, err := v.Verify(context.Background(), req)
		if err != nil {
			return
		}
		if p.JKT == "" || p.ID == "" {
			t.Fatalf("Verify(%q) = %+v; want a thumbprint and a jti", proof, p)
		}
		if _, err := v.Verify(context.Background(), req); err == nil {
			t.Fatalf("Verify(%q) accepted twice", proof)
		}
	})
}

// dpopSeeds returns valid proofs (ES256 low-S and high-S, EdDSA, with
// ath and nonce claims) for GET https://api.example.com/v1/things at
// 1800000000, so that the fuzzer starts from proofs that pass.
func dpopSeeds(f *testing.F) []string {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	var out []string
	for i, k := range []struct {
		alg string
		key crypto.Signer
	}{{"ES256", ec}, {"EdDSA", ed}} {
		pub, err := jwk.FromPublic(k.key.Public(), "", "")
		if err != nil {
			f.Fatal(err)
		}
		set, _ := jwk.MarshalSet(*pub)
		var doc struct{ Keys []json.RawMessage }
		_ = json.Unmarshal(set, &doc)
		h, _ := json.Marshal(map[string]any{"alg": k.alg, "typ": "dpop+jwt", "jwk": doc.Keys[0]})
		for j, extra := range []string{"", `,"ath":"fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo","nonce":"n"`} {
			c := fmt.Sprintf(`{"jti":"seed-%d-%d","htm":"GET","htu":"https://api.example.com/v1/things","iat":1800000000%s}`, i, j, extra)
			p, err := jws.Sign(k.alg, k.key, h, []byte(c))
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, p)
		}
	}
	return out
}
