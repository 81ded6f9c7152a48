package authserver_test

import (
	"context"
	"log"
	"net/http"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/keyring"
	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/sqlstore"
)

// docs/server.md: the token server assembled in Go, as m2m serve does it.
// (Compiled, not run: it names system paths and a port.)
func Example_docsAssemble() {
	ctx := context.Background()
	var master []byte // at least 32 random bytes, the same on every replica

	st, _ := sqlstore.Open(ctx, "sqlite:///var/lib/m2m/m2m.db")
	kr, _ := keyring.New(ctx, keyring.Config{Store: st, Master: master})
	go kr.Run(ctx)
	srv, err := authserver.New(authserver.Config{Issuer: "https://auth.example.com", Clients: st, Signer: kr})
	secret, err := authserver.CreateClient(ctx, st, &store.Client{Name: "billing", Audiences: []string{"https://api.example.com"}}, nil)
	http.ListenAndServe(":8080", srv.Handler())

	_, _ = secret, err
	log.Print("unreachable")
}
