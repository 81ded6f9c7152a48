package cli

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// TestServeDPoP runs the real command with --dpop (and --dpop-nonce): a
// token request with a proof gets a DPoP-bound token (token_type DPoP,
// cnf.jkt the proof key's thumbprint), one without a proof a Bearer
// token; with --dpop-nonce a proof without the server's nonce is refused
// with use_dpop_nonce and a DPoP-Nonce header, and accepted with it; a
// replayed proof is refused.
func TestServeDPoP(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if code, _, stderr := run(t, nil, "", "init", "--data", data); code != 0 {
		t.Fatalf("m2m init: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := run(t, nil, "", "client", "create", "--data", data, "--name", "w", "--audience", "https://api.example.com", "--json")
	if code != 0 {
		t.Fatalf("client create: exit %d: %s", code, stderr)
	}
	var creds struct{ ClientID, ClientSecret string }
	var raw map[string]any
	json.Unmarshal([]byte(stdout), &raw)
	creds.ClientID, _ = raw["client_id"].(string)
	creds.ClientSecret, _ = raw["client_secret"].(string)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	thumb, err := (&jose.JSONWebKey{Key: &key.PublicKey}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	jkt := base64.RawURLEncoding.EncodeToString(thumb)
	proof := func(htu, nonce string) string {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
		if err != nil {
			t.Fatal(err)
		}
		jti := make([]byte, 16)
		rand.Read(jti)
		claims := map[string]any{"htm": "POST", "htu": htu, "iat": time.Now().Unix(), "jti": base64.RawURLEncoding.EncodeToString(jti)}
		if nonce != "" {
			claims["nonce"] = nonce
		}
		b, _ := json.Marshal(claims)
		obj, err := signer.Sign(b)
		if err != nil {
			t.Fatal(err)
		}
		s, err := obj.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	type answer struct {
		status    int
		tokenType string
		token     string
		errCode   string
		nonce     string
	}
	post := func(tokenURL, dpop string) answer {
		t.Helper()
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {creds.ClientID}, "client_secret": {creds.ClientSecret}}
		req, _ := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if dpop != "" {
			req.Header.Set("DPoP", dpop)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
			Error       string `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&body)
		return answer{resp.StatusCode, body.TokenType, body.AccessToken, body.Error, resp.Header.Get("DPoP-Nonce")}
	}
	cnfJKT := func(tok string) string {
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf("not a JWT: %q", tok)
		}
		b, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var c struct {
			Cnf struct {
				JKT string `json:"jkt"`
			} `json:"cnf"`
		}
		json.Unmarshal(b, &c)
		return c.Cnf.JKT
	}

	t.Run("dpop", func(t *testing.T) {
		p := startServe(t, nil, "--data", data, "--addr", "127.0.0.1:0", "--dpop")
		defer p.stop()
		tokenURL := p.url + "/oauth/token"
		if a := post(tokenURL, ""); a.status != 200 || !strings.EqualFold(a.tokenType, "Bearer") {
			t.Errorf("without a proof = %d %q %s; want a Bearer token", a.status, a.tokenType, a.errCode)
		}
		pr := proof(tokenURL, "")
		a := post(tokenURL, pr)
		if a.status != 200 || a.tokenType != "DPoP" || cnfJKT(a.token) != jkt {
			t.Fatalf("with a proof = %d %q %s, cnf.jkt %q; want a DPoP token bound to %s", a.status, a.tokenType, a.errCode, cnfJKT(a.token), jkt)
		}
		if a := post(tokenURL, pr); a.status != 400 || a.errCode != "invalid_dpop_proof" {
			t.Errorf("the same proof again = %d %s; want 400 invalid_dpop_proof", a.status, a.errCode)
		}
		if a := post(tokenURL, proof("https://elsewhere.example/oauth/token", "")); a.status != 400 || a.errCode != "invalid_dpop_proof" {
			t.Errorf("a proof for another URL = %d %s; want 400 invalid_dpop_proof", a.status, a.errCode)
		}
	})
	t.Run("dpop-nonce", func(t *testing.T) {
		p := startServe(t, nil, "--data", data, "--addr", "127.0.0.1:0", "--dpop", "--dpop-nonce")
		defer p.stop()
		tokenURL := p.url + "/oauth/token"
		a := post(tokenURL, proof(tokenURL, ""))
		if a.status != 400 || a.errCode != "use_dpop_nonce" || a.nonce == "" {
			t.Fatalf("a proof without a nonce = %d %s, DPoP-Nonce %q; want 400 use_dpop_nonce with a nonce", a.status, a.errCode, a.nonce)
		}
		if b := post(tokenURL, proof(tokenURL, a.nonce)); b.status != 200 || b.tokenType != "DPoP" {
			t.Errorf("a proof with the server's nonce = %d %q %s; want a DPoP token", b.status, b.tokenType, b.errCode)
		}
	})
	if code, _, stderr := run(t, nil, "", "serve", "--data", data, "--addr", "127.0.0.1:0", "--dpop-nonce"); code != 2 || !strings.Contains(stderr, "--dpop-nonce needs --dpop") {
		t.Errorf("serve --dpop-nonce without --dpop = exit %d, %q; want 2", code, stderr)
	}
}
