package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/m2mkit/m2m/clientcred"
	"github.com/m2mkit/m2m/dynamic"
	"github.com/m2mkit/m2m/federation"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/keyring"
	"github.com/m2mkit/m2m/rolling"
	"github.com/m2mkit/m2m/scoped"
	"github.com/m2mkit/m2m/scoped/djangosign"
	"github.com/m2mkit/m2m/store"
)

// goFieldNames returns the exported field names of the library
// configurations the commands fill in: names a CLI user never typed.
func goFieldNames() map[string]bool {
	names := map[string]bool{}
	for _, v := range []any{clientcred.Config{}, clientcred.RetryPolicy{}, jwtauth.Validator{}, jwtauth.DeviceTokens{},
		dynamic.Sealed{}, dynamic.Compat{}, rolling.Config{}, rolling.M2MToken{}, scoped.Issuer{}, scoped.Verifier{},
		djangosign.Signer{}, keyring.Config{}, store.Client{}, store.TrustPolicy{}, federation.PresetArgs{}} {
		t := reflect.TypeOf(v)
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() {
				names[f.Name] = true
			}
		}
	}
	return names
}

// TestErrorsNameFlags runs every command with each required input
// missing or wrong and fails when the error names a Go field (ClientID,
// SkipAudience, ...) instead of the flag or environment variable that
// the user sets.
func TestErrorsNameFlags(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile("creds.json", []byte(`{"client_id":"","client_secret":""}`), 0o600); err != nil {
		t.Fatal(err)
	}
	fields := goFieldNames()
	word := regexp.MustCompile(`[A-Za-z][A-Za-z0-9_]*`)
	secret := map[string]string{"M2M_SECRET": "0123456789abcdef0123456789abcdef"}
	idOnly := map[string]string{"M2M_CLIENT_ID": "id"}
	both := map[string]string{"M2M_CLIENT_ID": "id", "M2M_CLIENT_SECRET": "s"}
	for _, tc := range []struct {
		env  map[string]string
		args string
		want string // a flag or variable the message must name
	}{
		{nil, "token", "M2M_CLIENT_ID"},
		{nil, "token", "M2M_CLIENT_SECRET"},
		{nil, "token", "--audience"},
		{nil, "token", "--token-url"},
		{idOnly, "token --token-url http://127.0.0.1:1 --audience a", "M2M_CLIENT_SECRET"},
		{both, "token --token-url http://127.0.0.1:1 --issuer http://127.0.0.1:1 --audience a", "--issuer"},
		{both, "token --token-url ftp://x --audience a", "--token-url"},
		{both, "token --issuer x --audience a", "--issuer"},
		{both, "token --domain a/b --audience a", "--domain"},
		{both, "token --token-url http://127.0.0.1:1", "--audience"},
		{nil, "token --credentials-file creds.json --token-url http://127.0.0.1:1 --audience a", "creds.json"},
		{nil, "request GET http://127.0.0.1:1/", "M2M_CLIENT_ID"},
		{nil, "request GET http://127.0.0.1:1/", "--audience"},
		{nil, "jwt issue", "--subject"},
		{nil, "jwt issue --subject a", "--secret-file"},
		{secret, "jwt issue --subject a --algorithm RS256", "--algorithm"},
		{nil, "jwt verify", "--token"},
		{nil, "jwt verify --token x", "--secret-file"},
		{nil, "dynamic encode", "--secret-file"},
		{secret, "dynamic decode", "--token"},
		{nil, "rolling generate", "--secret-file"},
		{map[string]string{"M2M_SECRET": "seed"}, "rolling generate --mode m2m_token", "ttl"},
		{secret, "rolling generate --algorithm md5", "algorithm"},
		{nil, "scoped issue", "--user"},
		{nil, "scoped issue --user 1", "--allow"},
		{nil, "scoped issue --user 1 --allow GET:/", "--secret-file"},
		{nil, "scoped verify", "--token"},
		{nil, "basic verify", "--htpasswd-file"},
		{nil, "secret init", "--secret-file"},
		{nil, "client create", "--name"},
		{nil, "client create --name n", "--audience"},
		{nil, "client create --name n --audience a --server http://127.0.0.1:1 --data " + filepath.Join(dir, "none"), "--admin-token-file"},
		{nil, "client list --server http://127.0.0.1:1 --data " + filepath.Join(dir, "none"), "M2M_ADMIN_TOKEN"},
		{nil, "key rotate --server http://127.0.0.1:1 --data " + filepath.Join(dir, "none"), "--admin-token-file"},
		{secret, "jwt verify --token x --algorithm none", "--algorithm"},
		{secret, "jwt verify --token x --jwks nonexistent.json --issuer i --audience a", "nonexistent.json"},
		{secret, "jwt verify --token x --jwks nonexistent.json --issuer i --audience a --profile x", "--profile"},
		{secret, "dynamic decode --token x --mode compat --rand-chars abc", "rand"},
		{secret, "scoped issue --user 1 --allow GET:/ --algorithm md5", "--algorithm"},
		{nil, "basic hash --cost 99", "--cost"},
		{map[string]string{"M2M_SECRET": "short"}, "jwt issue --subject a", "M2M_SECRET"},
		{map[string]string{"M2M_SECRET": "short"}, "dynamic encode", "M2M_SECRET"},
		{nil, "revoke", "--token"},
		{nil, "revoke --jti x", "--until"},
		{nil, "trust create", "--name"},
		{nil, "trust create --name n", "--audience"},
		{nil, "trust create --name n --audience a", "--client"},
		{nil, "trust create --name n --audience a --client c", "--issuer"},
		{nil, "trust create --name n --audience a --client c --issuer https://i.example", "--subject"},
		{nil, "trust create --name n --audience a --client c --preset kubernetes --namespace a --service-account b", "--issuer"},
		{nil, "trust create --name n --audience a --client c --issuer https://i.example --subject s --data " + filepath.Join(dir, "none"), "--data"},
		{nil, "trust list --server http://127.0.0.1:1 --data " + filepath.Join(dir, "none"), "M2M_ADMIN_TOKEN"},
	} {
		t.Run(tc.args+" "+tc.want, func(t *testing.T) {
			code, _, stderr := run(t, tc.env, "", strings.Fields(tc.args)...)
			if code == 0 {
				t.Fatalf("m2m %s = exit 0; want a refusal", tc.args)
			}
			for _, w := range word.FindAllString(stderr, -1) {
				if fields[w] && w != strings.ToLower(w) {
					t.Errorf("m2m %s: stderr names the Go field %s: %q", tc.args, w, stderr)
				}
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("m2m %s: stderr %q; want it to name %s", tc.args, stderr, tc.want)
			}
		})
	}
}
