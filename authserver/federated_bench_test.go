package authserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/federation/federationtest"
	"github.com/m2mkit/m2m/internal/benchcpu"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/ratelimit"
	"github.com/m2mkit/m2m/store"
)

// BenchmarkTokenGrants issues one token through Server.ServeHTTP
// (httptest, ES256 signing keys, in-memory store) with each way of
// authenticating, in one run: client_secret_basic, a private_key_jwt
// client assertion (ES256, a fresh jti each time; signing excluded) and
// token exchange of an external ES256 identity token matching a trust
// policy (the issuer's keys and the policies cached, as in a running
// server). It reports cpu-ns/op too.
func BenchmarkTokenGrants(b *testing.B) {
	f := newFedFixture(b, fedOptions{rateLimit: ratelimit.Limit{Rate: 1e9, Burst: 1e9}, cachePolicies: true})
	ctx := context.Background()
	basic := &store.Client{Name: "basic", Audiences: []string{"https://api.example.com"}, Scopes: []string{"read"}}
	secret, err := authserver.CreateClient(ctx, f.st, basic, nil)
	if err != nil {
		b.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := jwk.FromPublic(&key.PublicKey, "w1", "ES256")
	doc, _ := jwk.MarshalSet(*pub)
	signer := &store.Client{ID: "signer", Name: "signer", Audiences: []string{"https://api.example.com"}, Scopes: []string{"read"},
		AuthMethod: store.AuthMethodPrivateKeyJWT, JWKS: doc}
	if _, err := authserver.CreateClient(ctx, f.st, signer, nil); err != nil {
		b.Fatal(err)
	}
	ext := f.issuer.Token(goodClaims())
	// Warm the issuer's key cache, as a running server has it.
	if status, body := f.post(b, fedForm("token_exchange", ext, nil)); status != 200 {
		b.Fatalf("token exchange: %d %v", status, body)
	}

	run := func(b *testing.B, body func(i int) string, basicAuth bool) {
		bodies := make([]string, b.N)
		for i := range bodies {
			bodies[i] = body(i)
		}
		h := f.as.Handler()
		b.ReportAllocs()
		b.ResetTimer()
		start := benchcpu.Now()
		for i := range b.N {
			r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(bodies[i]))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if basicAuth {
				r.SetBasicAuth(basic.ID, secret)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
		benchcpu.Report(b, start)
	}
	b.Run("client_secret_basic", func(b *testing.B) {
		run(b, func(int) string { return "grant_type=client_credentials" }, true)
	})
	b.Run("private_key_jwt", func(b *testing.B) {
		now := f.clock()
		run(b, func(i int) string {
			a := federationtest.Sign(key, "w1", map[string]any{"iss": "signer", "sub": "signer", "aud": f.srv.URL + "/oauth/token",
				"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "b" + strconv.Itoa(i) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)})
			return fedForm("client_assertion", a, nil).Encode()
		}, false)
	})
	b.Run("token_exchange", func(b *testing.B) {
		body := fedForm("token_exchange", ext, url.Values{"audience": {"https://api.example.com"}}).Encode()
		run(b, func(int) string { return body }, false)
	})
}
