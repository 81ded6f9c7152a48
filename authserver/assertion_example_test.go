package authserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/replay"
	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/memstore"
)

// A private_key_jwt client registers its public key set; the server
// verifies its signed assertion once, and refuses the same assertion
// again.
func ExampleClientAssertions_Authenticate() {
	ctx := context.Background()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

	// The client's key pair; only the public JWK Set is registered.
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	pub, err := jwk.FromPublic(&priv.PublicKey, "key-1", "ES256")
	if err != nil {
		log.Fatal(err)
	}
	doc, err := jwk.MarshalSet(*pub)
	if err != nil {
		log.Fatal(err)
	}
	clients := memstore.New()
	if err := clients.CreateClient(ctx, &store.Client{ID: "billing", AuthMethod: store.AuthMethodPrivateKeyJWT, JWKS: doc}); err != nil {
		log.Fatal(err)
	}

	ca := &authserver.ClientAssertions{
		Audience: []string{"https://auth.example/oauth/token", "https://auth.example/"},
		Replay:   &replay.Memory{Now: func() time.Time { return now }},
		Now:      func() time.Time { return now },
	}

	// The client signs an assertion (any JOSE library does this).
	claims, _ := json.Marshal(map[string]any{
		"iss": "billing", "sub": "billing", "aud": "https://auth.example/oauth/token",
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "3f1c2a9e",
	})
	assertion := signES256(priv, `{"alg":"ES256","kid":"key-1"}`, claims)

	for range 2 {
		c, err := ca.Authenticate(ctx, authserver.ClientAssertionType, assertion, "", clients.GetClient)
		var refused *authserver.AssertionError
		switch {
		case errors.As(err, &refused):
			fmt.Println("invalid_client:", refused.Reason)
		case err != nil:
			log.Fatal(err)
		default:
			fmt.Println("authenticated", c.ID)
		}
	}
	// Output:
	// authenticated billing
	// invalid_client: replayed
}

// signES256 makes a compact JWS with crypto/ecdsa, as a client would.
func signES256(priv *ecdsa.PrivateKey, header string, payload []byte) string {
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString(payload)
	sig, err := ecdsaSign(priv, input)
	if err != nil {
		log.Fatal(err)
	}
	return input + "." + enc.EncodeToString(sig)
}

func ecdsaSign(priv *ecdsa.PrivateKey, input string) ([]byte, error) {
	h := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, priv, h[:])
	if err != nil {
		return nil, err
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out, nil
}
