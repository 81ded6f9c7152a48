package jwtauth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/replay"
)

// An API that accepts DPoP-bound access tokens with their proofs (and
// unbound tokens as Bearer): Config.DPoP verifies the proofs, PublicURL is
// what their htu must name. A request without credentials is offered both
// schemes.
func ExampleAccessTokens_dPoP() {
	issuerKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := jwk.FromPublic(&issuerKey.PublicKey, "k1", "ES256")
	tokens, err := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer:     "https://issuer.example",
		Audiences:  []string{"https://api.example.com"},
		Algorithms: []string{"ES256"},
		Keys:       jwk.NewStaticKeySet(jwk.NewSet(*pub)), // jwk.NewRemoteKeySet(jwksURL) in production
		DPoP:       &jwtauth.DPoPVerifier{Replay: &replay.Memory{}, Algorithms: []string{"ES256", "EdDSA"}},
		PublicURL:  "https://api.example.com",
	})
	if err != nil {
		panic(err)
	}
	auth := &httpauth.Middleware{Verifiers: []m2m.Verifier{tokens}}
	api := auth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := m2m.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s via %s", p.Subject, p.Scheme)
	}))

	w := httptest.NewRecorder()
	api.ServeHTTP(w, httptest.NewRequest("GET", "/things", nil))
	fmt.Println(w.Code, w.Header().Values("WWW-Authenticate"))

	// The client's key, a token bound to it (as m2m serve --dpop issues),
	// and a proof for this request and token (as clientcred makes).
	clientKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cpub, _ := jwk.FromPublic(&clientKey.PublicKey, "", "")
	now := time.Now().Unix()
	claims, _ := json.Marshal(map[string]any{"iss": "https://issuer.example", "aud": "https://api.example.com",
		"sub": "worker", "exp": now + 300, "cnf": map[string]string{"jkt": cpub.Thumbprint}})
	token, _ := jws.Sign("ES256", issuerKey, jws.HeaderJSON("ES256", "k1", "at+jwt"), claims)
	set, _ := jwk.MarshalSet(*cpub)
	var doc struct{ Keys []json.RawMessage }
	_ = json.Unmarshal(set, &doc)
	header, _ := json.Marshal(map[string]any{"alg": "ES256", "typ": "dpop+jwt", "jwk": doc.Keys[0]})
	sum := sha256.Sum256([]byte(token))
	pclaims, _ := json.Marshal(map[string]any{"jti": "Gq3b9fVb0T1sWJ7k", "htm": "GET",
		"htu": "https://api.example.com/things", "iat": now, "ath": base64.RawURLEncoding.EncodeToString(sum[:])})
	proof, _ := jws.Sign("ES256", clientKey, header, pclaims)

	r := httptest.NewRequest("GET", "/things", nil)
	r.Header.Set("Authorization", "DPoP "+token)
	r.Header.Set("DPoP", proof)
	w = httptest.NewRecorder()
	api.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Body)

	// The same token as a bearer token, as a thief would send it.
	r = httptest.NewRequest("GET", "/things", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	w = httptest.NewRecorder()
	api.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Values("WWW-Authenticate")[1])
	// Output:
	// 401 [DPoP algs="ES256 EdDSA" Bearer]
	// 200 hello worker via dpop
	// 401 Bearer error="invalid_token", error_description="the token is bound to a key (cnf) and is not accepted as a bearer token"
}
