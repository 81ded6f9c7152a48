package authserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/memstore"
)

// examplePost sends a form to h with client_secret_post credentials and decodes
// the JSON answer.
func examplePost(h http.Handler, path string, form url.Values) (int, map[string]any) {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var body map[string]any
	json.Unmarshal(w.Body.Bytes(), &body)
	return w.Code, body
}

// Introspection (RFC 7662) and revocation (RFC 7009) of a token, with
// memstore as the client and revocation store.
func ExampleRevokeClientTokens() {
	st := memstore.New()                                                             // sqlstore in production; Config.Revocations may be a redisstore.Revocations
	now := func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 5e8, time.UTC) } // a fixed clock, for the example
	srv, err := authserver.New(authserver.Config{
		Issuer: "https://auth.example.com", Clients: st, Signer: exampleSigner(),
		ClientCacheTTL: -1, // read the store on every request, for the example
		Now:            now,
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	secret, _ := authserver.CreateClient(ctx, st, &store.Client{ID: "billing", Audiences: []string{"https://api.example.com"}}, now)
	creds := url.Values{"client_id": {"billing"}, "client_secret": {secret}}
	form := func(k, v string) url.Values {
		f := url.Values{k: {v}}
		for k, v := range creds {
			f[k] = v
		}
		return f
	}
	_, tok := examplePost(srv, "/oauth/token", form("grant_type", "client_credentials"))
	token := tok["access_token"].(string)

	_, info := examplePost(srv, "/oauth/introspect", form("token", token))
	fmt.Println("active:", info["active"], "client_id:", info["client_id"])

	// Everything issued to the client so far (m2m client revoke-tokens).
	if _, err := authserver.RevokeClientTokens(ctx, st, "billing", now); err != nil {
		log.Fatal(err)
	}
	_, info = examplePost(srv, "/oauth/introspect", form("token", token))
	fmt.Println("after revoke-tokens:", info)

	code, _ := examplePost(srv, "/oauth/revoke", form("token", "not-a-token"))
	fmt.Println("revoking garbage:", code)
	// Output:
	// active: true client_id: billing
	// after revoke-tokens: map[active:false]
	// revoking garbage: 200
}
