package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/clientcred"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/replay"
)

// TestTokenAndRequestDPoPKey runs the real commands: m2m token and m2m
// request with --dpop-key against m2m serve --dpop --dpop-nonce (the
// token request needs the server's nonce: one retry), and an API that
// requires DPoP proofs with its own nonces. The key file is created 0600
// on first use and the same key binds every token.
func TestTokenAndRequestDPoPKey(t *testing.T) {
	dir := t.TempDir()
	data, creds, keyFile := filepath.Join(dir, "data"), filepath.Join(dir, "creds.json"), filepath.Join(dir, "dpop-key.pem")
	if code, _, stderr := run(t, nil, "", "init", "--data", data); code != 0 {
		t.Fatalf("m2m init: exit %d: %s", code, stderr)
	}
	const aud = "https://api.example.com"
	if code, _, stderr := run(t, nil, "", "client", "create", "--data", data, "--name", "w", "--audience", aud,
		"--scope", "read", "--require-dpop", "--credentials-file", creds); code != 0 {
		t.Fatalf("client create: exit %d: %s", code, stderr)
	}
	p := startServe(t, nil, "--data", data, "--addr", "127.0.0.1:0", "--dpop", "--dpop-nonce")
	defer p.stop()
	tokenURL := p.url + "/oauth/token"

	code, stdout, stderr := run(t, nil, "", "token", "--token-url", tokenURL, "--audience", aud, "--credentials-file", creds, "--dpop-key", keyFile, "--json")
	if code != 0 {
		t.Fatalf("m2m token --dpop-key: exit %d: %s", code, stderr)
	}
	var tok struct{ AccessToken, TokenType string }
	var raw map[string]any
	json.Unmarshal([]byte(stdout), &raw)
	tok.AccessToken, _ = raw["access_token"].(string)
	tok.TokenType, _ = raw["token_type"].(string)
	if tok.TokenType != "DPoP" {
		t.Fatalf("token_type = %q; want DPoP", tok.TokenType)
	}
	fi, err := os.Stat(keyFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("--dpop-key file: %v, %v; want mode 0600", fi, err)
	}
	key, err := clientcred.LoadDPoPKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}

	// The API: tokens of this server, DPoP with nonces of its own.
	nonces, _ := jwtauth.NewHMACNonces()
	apiSrv := httptest.NewUnstartedServer(nil)
	tokens, err := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer: p.url, Audiences: []string{aud}, Algorithms: []string{"ES256", "EdDSA"},
		Keys:      jwk.NewRemoteKeySet(p.url + "/.well-known/jwks.json"),
		DPoP:      &jwtauth.DPoPVerifier{Replay: &replay.Memory{}, Nonces: nonces},
		PublicURL: "http://" + apiSrv.Listener.Addr().String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	auth := &httpauth.Middleware{Verifiers: []m2m.Verifier{tokens}}
	apiSrv.Config.Handler = auth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pr, _ := m2m.FromContext(r.Context())
		jkt, _ := pr.Claims["cnf"].(map[string]any)["jkt"].(string)
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, pr.Scheme+" "+jkt+" "+string(b))
	}))
	apiSrv.Start()
	defer apiSrv.Close()

	code, stdout, stderr = run(t, nil, "", "request", "POST", apiSrv.URL+"/orders", "--token-url", tokenURL, "--audience", aud,
		"--credentials-file", creds, "--dpop-key", keyFile, "--json-body", `{"n":1}`)
	if want := "dpop " + key.Thumbprint() + ` {"n":1}`; code != 0 || stdout != want {
		t.Fatalf("m2m request --dpop-key = exit %d %q (%s); want 0 %q", code, stdout, stderr, want)
	}
	// Without the key the client (--require-dpop) gets no token.
	if code, _, stderr := run(t, nil, "", "request", "GET", apiSrv.URL+"/orders", "--token-url", tokenURL, "--audience", aud,
		"--credentials-file", creds); code != 1 || !strings.Contains(stderr, "invalid_dpop_proof") {
		t.Errorf("m2m request without --dpop-key = exit %d %s; want 1 invalid_dpop_proof", code, stderr)
	}
	// A key file that is not a key is refused without quoting it.
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, []byte("not a key at all"), 0o600)
	if code, _, stderr := run(t, nil, "", "token", "--token-url", tokenURL, "--audience", aud, "--credentials-file", creds, "--dpop-key", bad); code != 1 ||
		!strings.Contains(stderr, "--dpop-key") || strings.Contains(stderr, "not a key at all") {
		t.Errorf("m2m token --dpop-key BAD = exit %d %s; want 1 naming the flag", code, stderr)
	}
}
