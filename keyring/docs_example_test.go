package keyring_test

import (
	"context"
	"log"
	"net/http"
	"time"

	"github.com/m2mkit/m2m/keyring"
	"github.com/m2mkit/m2m/store/memstore"
)

// docs/server.md: a keyring that signs tokens and publishes the JWKS, as
// authserver uses it. (Compiled, not run.)
func Example_docsKeyring() {
	ctx := context.Background()
	s := memstore.New()
	var master []byte // at least 32 random bytes, the same on every replica
	var w http.ResponseWriter
	claimsJSON := []byte(`{"sub":"billing"}`)

	kr, err := keyring.New(ctx, keyring.Config{
		Store:       s,              // any store.Keys
		Master:      master,         // 32-byte secret shared by all replicas
		MaxTokenTTL: 24 * time.Hour, // never issue tokens that live longer
		RotateEvery: 30 * 24 * time.Hour,
	})
	if err != nil {
		log.Fatal(err)
	}
	go kr.Run(ctx) // reload every 5 s, apply due transitions, scheduled rotation

	token, kid, err := kr.Sign("at+jwt", claimsJSON) // no I/O, no lock
	w.Write(kr.JWKS())                               // GET /.well-known/jwks.json

	_, _, _ = token, kid, err
}
