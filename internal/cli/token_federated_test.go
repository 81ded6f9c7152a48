package cli

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/federation"
	"github.com/m2mkit/m2m/federation/federationtest"
	"github.com/m2mkit/m2m/keyring"
	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/memstore"
)

var compactJWT = regexp.MustCompile(`^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$`)

// TestTokenExternalIdentity runs "m2m token" with an external identity
// token (a file, as a Kubernetes pod has it, and GitHub Actions' OIDC
// token) against the real token server with a trust policy, in each of
// the three forms.
func TestTokenExternalIdentity(t *testing.T) {
	issuer := federationtest.NewIssuer(t)
	st := memstore.New()
	ctx := context.Background()
	kr, err := keyring.New(ctx, keyring.Config{Store: st, Master: []byte(strings.Repeat("t", 32))})
	if err != nil {
		t.Fatal(err)
	}
	c := &store.Client{ID: "deployer", Name: "deployer", Audiences: []string{"https://api.example.com"}, Scopes: []string{"deploy"}}
	if _, err := authserver.CreateClient(ctx, st, c, nil); err != nil {
		t.Fatal(err)
	}
	fv, err := federation.New(federation.Config{Client: issuer.HTTPClient(), Clients: st, Policies: federation.StaticPolicies{{
		Name: "ci", Issuer: issuer.URL, Audiences: []string{"https://auth.test"}, Subject: "repo:acme/app:*", ClientID: "deployer"}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	defer srv.Close()
	as, err := authserver.New(authserver.Config{Issuer: srv.URL, Clients: st, Signer: kr, Federation: fv})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = as.Handler()

	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(issuer.Token(map[string]any{"aud": "https://auth.test", "sub": "repo:acme/app:ref:refs/heads/main"})), 0o600); err != nil {
		t.Fatal(err)
	}
	var ghAudience string
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer gh-request-token" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		ghAudience = r.URL.Query().Get("audience")
		io.WriteString(w, `{"value":"`+issuer.Token(map[string]any{"aud": ghAudience, "sub": "repo:acme/app:ref:refs/heads/main"})+`"}`)
	}))
	defer gh.Close()
	env := map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": gh.URL + "/?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "gh-request-token"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	for _, grant := range []string{"client-credentials", "jwt-bearer", "token-exchange"} {
		for name, source := range map[string][]string{
			"file":           {"--assertion-file", tokenFile},
			"github-actions": {"--assertion-from", "github-actions", "--assertion-audience", "https://auth.test"},
		} {
			t.Run(grant+"/"+name, func(t *testing.T) {
				args := append([]string{"token", "--token-url", srv.URL + "/oauth/token", "--audience", "https://api.example.com", "--grant", grant}, source...)
				var stdout, stderr strings.Builder
				code := Run(&Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, LookupEnv: lookup}, args)
				if code != 0 || !compactJWT.MatchString(stdout.String()) {
					t.Fatalf("m2m %s = %d, stdout %q, stderr %q; want 0 and a token", strings.Join(args, " "), code, stdout.String(), stderr.String())
				}
				if name == "github-actions" && ghAudience != "https://auth.test" {
					t.Errorf("GitHub was asked for audience %q; want https://auth.test", ghAudience)
				}
			})
		}
	}
	t.Run("refused", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad")
		os.WriteFile(bad, []byte(issuer.Token(map[string]any{"aud": "https://auth.test", "sub": "repo:evil/app:x"})), 0o600)
		var stdout, stderr strings.Builder
		code := Run(&Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, LookupEnv: noEnv},
			[]string{"token", "--token-url", srv.URL + "/oauth/token", "--audience", "https://api.example.com", "--grant", "jwt-bearer", "--assertion-file", bad})
		if code != 1 || !strings.Contains(stderr.String(), "400 invalid_grant") {
			t.Errorf("exit %d, stderr %q; want 1 and invalid_grant", code, stderr.String())
		}
		if strings.Contains(stderr.String(), "eyJ") {
			t.Errorf("stderr shows the token: %q", stderr.String())
		}
	})
}
