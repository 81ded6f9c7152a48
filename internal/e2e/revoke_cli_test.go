package e2e

import (
	"context"
	"errors"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/m2mkit/m2m/internal/testbackend"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/redisstore"
	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/sqlstore"
)

// TestRevokeCLI revokes a token with "m2m revoke" while "m2m serve" runs
// and checks that a resource server's jwtauth.RevocableTokens, reading the
// same revocation store, refuses it while it accepts another token: with
// the database, and with Redis when M2M_TEST_REDIS_ADDR is set.
func TestRevokeCLI(t *testing.T) {
	t.Run("database", func(t *testing.T) {
		data := filepath.Join(t.TempDir(), "m2m-data")
		s := startServer(t, data)
		st, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(data, "m2m.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		testRevokeCLI(t, s, st, "database")
	})
	t.Run("redis", func(t *testing.T) {
		addr := testbackend.RedisAddr(t)
		data := filepath.Join(t.TempDir(), "m2m-data")
		prefix := "m2m-e2e-revoke-" + filepath.Base(t.TempDir()) + ":"
		redisURL := "redis://" + addr + "/0"
		s := startServer(t, data, "--redis", redisURL, "--redis-prefix", prefix)
		rc, err := redisstore.Config{}.Open(context.Background(), redisURL)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		testRevokeCLI(t, s, &redisstore.Revocations{Client: rc, Prefix: prefix + "revoked:"}, "redis", "--redis", redisURL, "--redis-prefix", prefix)
	})
}

func testRevokeCLI(t *testing.T, s *server, revs store.Revocations, where string, revokeArgs ...string) {
	c := s.createClient("--name", "worker", "--audience", audience)
	cfg := clientcredentials.Config{
		ClientID: c.ClientID, ClientSecret: c.ClientSecret, TokenURL: s.url + "/oauth/token",
		EndpointParams: url.Values{"audience": {audience}},
	}
	ctx := context.Background()
	tokens, err := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer: s.url, Audiences: []string{audience}, Algorithms: []string{"ES256"},
		Keys: jwk.NewRemoteKeySet(s.url + "/.well-known/jwks.json"),
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := jwtauth.NewRevocableTokens(tokens, jwtauth.RevocationConfig{Revocations: revs, CacheTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	var toks [2]string
	for i := range toks {
		tok, err := cfg.Token(ctx)
		if err != nil {
			t.Fatalf("Token() = %v", err)
		}
		toks[i] = tok.AccessToken
		if _, err := v.VerifyToken(ctx, toks[i]); err != nil {
			t.Fatalf("VerifyToken(token %d) before m2m revoke = %v; want nil", i, err)
		}
	}

	cmd := exec.Command(m2mBin, append([]string{"revoke", "--token", "-", "--data", s.data}, revokeArgs...)...)
	cmd.Stdin = strings.NewReader(toks[0] + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "("+where+")") {
		t.Fatalf("m2m revoke = %v, %q; want exit 0, revoked in the %s", err, out, where)
	}
	_, err = v.VerifyToken(ctx, toks[0])
	if ce := (*m2m.CredentialError)(nil); !errors.As(err, &ce) || ce.Reason != m2m.ReasonRevoked {
		t.Errorf("VerifyToken(revoked token) = %v; want %s", err, m2m.ReasonRevoked)
	}
	if _, err := v.VerifyToken(ctx, toks[1]); err != nil {
		t.Errorf("VerifyToken(other token) = %v; want nil", err)
	}
}
