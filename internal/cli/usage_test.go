package cli

import (
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/memstore"
)

// TestUsageCommandsServer runs client update, client usage and audit
// list over a real server's admin API: the PATCH, the usage answer and
// the audit list, with the command's actor.
func TestUsageCommandsServer(t *testing.T) {
	token := strings.Repeat("A", 43)
	st := memstore.New()
	if err := st.CreateClient(t.Context(), &store.Client{ID: "billing", Name: "billing", Audiences: []string{"https://api.example.com"}}); err != nil {
		t.Fatal(err)
	}
	srv, err := authserver.New(authserver.Config{Issuer: "https://auth.example.com", Clients: st, Signer: usageTestSigner{},
		AdminTokenHash: authserver.HashSecret(token)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.AdminHandler())
	defer hs.Close()
	env := map[string]string{"M2M_ADMIN_TOKEN": token}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"client", "update", "billing", "--quota-hourly", "5", "--quota-mode", "monitor", "--json"}, `"quota_hourly":5`},
		{[]string{"client", "update", "billing", "--name", "invoices", "--json"}, `"name":"invoices"`},
		{[]string{"client", "usage", "billing", "--json"}, `"quota":\{"hourly":5,"daily":0,"mode":"monitor"`},
		{[]string{"client", "usage", "billing"}, "quota: +monitor; this hour 0 of 5, today 0 of unlimited"},
		{[]string{"audit", "list", "--client", "billing", "--json"}, `"code":"client.updated","actor":"admin-token:cli:`},
	} {
		code, out, stderr := run(t, env, "", append(tc.args, "--server", hs.URL)...)
		if code != 0 || !matches(out, tc.want) {
			t.Errorf("m2m %s --server = %d, %q, %q; want %q", strings.Join(tc.args, " "), code, out, stderr, tc.want)
		}
	}
	code, _, stderr := run(t, env, "", "client", "usage", "nobody", "--server", hs.URL)
	if code != 1 || !strings.Contains(stderr, `client "nobody" not found`) {
		t.Errorf("client usage nobody --server = %d, %q; want exit 1, not found", code, stderr)
	}
}

// usageTestSigner signs nothing: the admin API never signs.
type usageTestSigner struct{}

func (usageTestSigner) Sign(string, []byte) (string, string, error) { return "", "", nil }
func (usageTestSigner) JWKS() []byte                                { return []byte(`{"keys":[]}`) }
func (usageTestSigner) PublicKeys() (*jwk.Set, uint64)              { return jwk.NewSet(), 0 }

func matches(s, pattern string) bool { return regexp.MustCompile(pattern).MatchString(s) }
