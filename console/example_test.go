package console_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/console"
	"github.com/m2mkit/m2m/keyring"
	"github.com/m2mkit/m2m/store/memstore"
)

// The console in front of a token server's admin API, as `m2m serve`
// mounts it on its admin listener.
func ExampleNew() {
	ctx := context.Background()
	st := memstore.New()
	master := make([]byte, keyring.MinMasterSize)
	rand.Read(master)
	kr, err := keyring.New(ctx, keyring.Config{Store: st, Master: master})
	if err != nil {
		log.Fatal(err)
	}
	adminToken := rand.Text()
	srv, err := authserver.New(authserver.Config{
		Issuer: "https://auth.example.com", Clients: st, Signer: kr, KeyRotator: kr,
		AdminTokenHash: authserver.HashSecret(adminToken),
	})
	if err != nil {
		log.Fatal(err)
	}
	c, err := console.New(console.Config{Admin: srv.AdminHandler(), AdminToken: m2m.Secret(adminToken)})
	if err != nil {
		log.Fatal(err)
	}
	admin := c.Wrap(srv.AdminHandler()) // /console/ and the admin API; serve it to operators only

	w := httptest.NewRecorder()
	admin.ServeHTTP(w, httptest.NewRequest("GET", "/console/clients", nil))
	fmt.Println(w.Code, w.Header().Get("Location"))
	// Output: 303 /console/signin
}

var _ http.Handler = (*console.Console)(nil)
