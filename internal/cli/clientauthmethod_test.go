package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// TestClientCreatePrivateKeyJWT registers private_key_jwt clients from
// the command line: with a JWK Set file or a jwks_uri, no secret made or
// printed; a JWK Set with a private key, a missing key set, or
// --credentials-file (there is no secret to write) are refused naming
// the flag, before the database.
func TestClientCreatePrivateKeyJWT(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if code, _, stderr := run(t, nil, "", "init", "--data", data); code != 0 {
		t.Fatalf("m2m init: exit %d: %s", code, stderr)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	writeSet := func(name string, key any) string {
		b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	public, private := writeSet("public.json", &k.PublicKey), writeSet("private.json", k)
	base := []string{"client", "create", "--data", data, "--name", "worker", "--audience", "https://api.example.com", "--json"}

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"jwks file", []string{"--id", "w1", "--auth-method", "private_key_jwt", "--jwks", public}, 0, `"token_endpoint_auth_method":"private_key_jwt"`},
		{"jwks uri", []string{"--id", "w2", "--auth-method", "private_key_jwt", "--jwks-uri", "https://worker.example.com/jwks.json"}, 0, `"jwks_uri":"https://worker.example.com/jwks.json"`},
		{"private key in the set", []string{"--id", "w3", "--auth-method", "private_key_jwt", "--jwks", private}, 2, "--jwks"},
		{"no key set", []string{"--id", "w4", "--auth-method", "private_key_jwt"}, 2, "--jwks"},
		{"key set without the method", []string{"--id", "w5", "--jwks", public}, 2, "--jwks"},
		{"unknown method", []string{"--id", "w6", "--auth-method", "client_secret_jwt"}, 2, "--auth-method"},
		{"credentials file", []string{"--id", "w7", "--auth-method", "private_key_jwt", "--jwks", public, "--credentials-file", filepath.Join(dir, "creds.json")}, 2, "--credentials-file"},
		{"missing jwks file", []string{"--id", "w8", "--auth-method", "private_key_jwt", "--jwks", filepath.Join(dir, "nope.json")}, 2, "--jwks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, nil, "", append(base, tc.args...)...)
			if code != tc.code {
				t.Fatalf("client create %s = exit %d; want %d\nstdout: %s\nstderr: %s", strings.Join(tc.args, " "), code, tc.code, stdout, stderr)
			}
			out := stderr
			if code == 0 {
				out = stdout
				if strings.Contains(stdout, "client_secret") {
					t.Errorf("a private_key_jwt client was given a secret: %s", stdout)
				}
			}
			if !strings.Contains(strings.ReplaceAll(out, " ", ""), strings.ReplaceAll(tc.want, " ", "")) {
				t.Errorf("client create %s printed %q; want it to contain %s", strings.Join(tc.args, " "), out, tc.want)
			}
		})
	}
}
