package authserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/internal/npmpeer"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/keyring"
	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/memstore"
)

// TestPrivateKeyJWTOauth4webapi drives private_key_jwt with an
// independent client library, panva's oauth4webapi in Node: it discovers
// the server's metadata over HTTPS (a test CA given to Node in
// NODE_EXTRA_CA_CERTS, no insecure option), signs its own client
// assertion and gets a token, which then verifies; the same client with
// another key is refused invalid_client.
func TestPrivateKeyJWTOauth4webapi(t *testing.T) {
	npmpeer.Node(t)
	ctx := context.Background()
	st := memstore.New()
	kr, err := keyring.New(ctx, keyring.Config{Store: st, Master: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	ts.StartTLS()
	defer ts.Close()
	as, err := authserver.New(authserver.Config{Issuer: ts.URL, Clients: st, Signer: kr})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = as.Handler()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	registered := newECKey(t)
	pub, err := jwk.FromPublic(&registered.PublicKey, "worker-key", "ES256")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jwk.MarshalSet(*pub)
	if err != nil {
		t.Fatal(err)
	}
	c := &store.Client{Name: "worker", Audiences: []string{"https://api.example.com"}, Scopes: []string{"read", "write"},
		AuthMethod: store.AuthMethodPrivateKeyJWT, JWKS: doc}
	if _, err := authserver.CreateClient(ctx, st, c, nil); err != nil {
		t.Fatal(err)
	}

	run := func(t *testing.T, key *ecdsa.PrivateKey) map[string]any {
		t.Helper()
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		out, err := npmpeer.Run(t, 30*time.Second, []string{
			"NODE_EXTRA_CA_CERTS=" + caFile,
			"M2M_ISSUER=" + ts.URL, "M2M_CLIENT_ID=" + c.ID, "M2M_KID=worker-key",
			"M2M_KEY_PEM=" + string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
			"M2M_AUDIENCE=https://api.example.com", "M2M_SCOPE=read",
		}, "private_key_jwt.mjs")
		if err != nil {
			t.Fatal(err)
		}
		var res map[string]any
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("node printed %q: %v", out, err)
		}
		return res
	}

	t.Run("token", func(t *testing.T) {
		res := run(t, registered)
		tok, _ := res["access_token"].(string)
		if tok == "" || res["scope"] != "read" {
			t.Fatalf("oauth4webapi got %v; want an access token with scope read", res)
		}
		v := jwtauth.Validator{Algorithms: []string{"ES256"}, Issuer: ts.URL, Audience: []string{"https://api.example.com"}, Types: []string{"at+jwt"}}
		keys, _ := kr.PublicKeys()
		claims, err := v.Verify(ctx, tok, jwtauth.PublicKeys(jwk.NewStaticKeySet(keys)))
		if err != nil {
			t.Fatalf("the token oauth4webapi got does not verify: %v", err)
		}
		if claims.Subject != c.ID {
			t.Errorf("sub = %q; want %q", claims.Subject, c.ID)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		res := run(t, newECKey(t))
		if res["error"] != "invalid_client" || res["status"] != float64(http.StatusUnauthorized) {
			t.Fatalf("oauth4webapi with another key got %v; want 401 invalid_client", res)
		}
	})
}

func newECKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
