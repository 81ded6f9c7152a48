package cli

import (
	"crypto/rand"
	"encoding/base64"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/keyring"
	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/memstore"
)

// TestTrustServer runs the trust commands with --server against a real
// token server's admin API: create, list, show and delete go through
// /admin/trust-policies with the admin token, and the server's refusals
// (an unknown client, an existing name, a missing policy) come back as
// the flag or the policy they are about.
func TestTrustServer(t *testing.T) {
	st := memstore.New()
	if err := st.CreateClient(t.Context(), &store.Client{ID: "deployer", Audiences: []string{"https://api.example.com"}}); err != nil {
		t.Fatal(err)
	}
	master := make([]byte, keyring.MinMasterSize)
	rand.Read(master)
	kr, err := keyring.New(t.Context(), keyring.Config{Store: st, Master: master})
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	token := base64.RawURLEncoding.EncodeToString(raw)
	hs := httptest.NewUnstartedServer(nil)
	srv, err := authserver.New(authserver.Config{Issuer: "http://" + hs.Listener.Addr().String(), Clients: st, Signer: kr,
		AdminTokenHash: authserver.HashSecret(token)})
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = srv.Handler()
	hs.Start()
	defer hs.Close()
	env := map[string]string{"M2M_ADMIN_TOKEN": token, "M2M_SERVER": hs.URL}
	create := []string{"trust", "create", "--preset", "gitlab", "--project", "group/app", "--tag", "v*",
		"--audience", "https://auth.example.com", "--client", "deployer", "--max-ttl", "10m"}

	for _, tc := range []struct {
		name string
		args []string
		code int
		out  string // in stdout when code is 0, else in stderr
	}{
		{"create", append(create, "--name", "release", "--json"), 0, `"subject":"project_path:group/app:ref_type:tag:ref:v*"`},
		{"create again", append(create, "--name", "release"), 1, `trust policy "release" already exists`},
		{"unknown client", append(create, "--name", "other", "--client", "nobody"), 1, "--client: no client has this id"},
		{"list", []string{"trust", "list", "--json"}, 0, `"trust_policies":[{"name":"release","issuer":"https://gitlab.com"`},
		{"show", []string{"trust", "show", "release"}, 0, "max_ttl:     10m0s"},
		{"delete", []string{"trust", "delete", "release", "--json"}, 0, `{"deleted":true,"name":"release"}`},
		{"show deleted", []string{"trust", "show", "release"}, 1, `trust policy "release" not found`},
		{"list empty", []string{"trust", "list", "--json"}, 0, `{"trust_policies":[]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, env, "", tc.args...)
			out := stdout
			if tc.code != 0 {
				out = stderr
			}
			if code != tc.code || !strings.Contains(out, tc.out) {
				t.Errorf("m2m %s = exit %d\nstdout: %s\nstderr: %s\nwant exit %d and %q", strings.Join(tc.args, " "), code, stdout, stderr, tc.code, tc.out)
			}
		})
	}
}
