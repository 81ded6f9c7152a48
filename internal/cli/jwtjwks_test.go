package cli

import (
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
)

// TestJWTVerifyJWKSAsTheAPI checks that m2m jwt verify --jwks answers
// each token as the API middleware (jwtauth.AccessTokens) configured the
// same way does: valid, or refused with the same reason code (exit 1).
func TestJWTVerifyJWKSAsTheAPI(t *testing.T) {
	k := newES256(t)
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	jwksPath := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(jwksPath, set, 0o600); err != nil {
		t.Fatal(err)
	}
	const iss, aud, now = "https://auth.example.com/", "https://api.example.com", 1700000000
	claims := func(drop string, scope string) string {
		c := map[string]any{"iss": iss, "aud": aud, "sub": "c1", "client_id": "c1", "iat": now, "exp": now + 600, "jti": "j1", "scope": scope}
		delete(c, drop)
		b, _ := json.Marshal(c)
		return string(b)
	}
	tokens := map[string]string{
		"rfc9068":        signES256(t, k, "k1", "at+jwt", claims("", "read write")),
		"typ JWT":        signES256(t, k, "k1", "JWT", claims("", "read write")),
		"no client_id":   signES256(t, k, "k1", "at+jwt", claims("client_id", "read")),
		"no jti":         signES256(t, k, "k1", "at+jwt", claims("jti", "read")),
		"only read":      signES256(t, k, "k1", "at+jwt", claims("", "read")),
		"other audience": signES256(t, k, "k1", "at+jwt", strings.Replace(claims("", "read"), aud, "https://other", 1)),
	}
	tokens["high-S twin"] = highSTwin(t, tokens["rfc9068"])
	for _, tc := range []struct {
		name   string
		token  string
		flags  []string
		config jwtauth.Config
		want   m2m.Reason // "" for valid
	}{
		{"generic accepts typ JWT", "typ JWT", nil, jwtauth.Config{}, ""},
		{"rfc9068 refuses typ JWT", "typ JWT", []string{"--profile", "rfc9068"}, jwtauth.Config{Profile: jwtauth.ProfileRFC9068}, "x"},
		{"rfc9068 accepts", "rfc9068", []string{"--profile", "rfc9068"}, jwtauth.Config{Profile: jwtauth.ProfileRFC9068}, ""},
		{"rfc9068 needs client_id", "no client_id", []string{"--profile", "rfc9068"}, jwtauth.Config{Profile: jwtauth.ProfileRFC9068}, "x"},
		{"rfc9068 needs jti", "no jti", []string{"--profile", "rfc9068"}, jwtauth.Config{Profile: jwtauth.ProfileRFC9068}, "x"},
		{"scope granted", "rfc9068", []string{"--require-scope", "write"}, jwtauth.Config{RequiredScopes: []string{"write"}}, ""},
		{"scope missing", "only read", []string{"--require-scope", "read write"}, jwtauth.Config{RequiredScopes: []string{"read", "write"}}, "x"},
		{"client allowed", "rfc9068", []string{"--allow-client", "c1"}, jwtauth.Config{AllowedClients: []string{"c1"}}, ""},
		{"client not allowed", "rfc9068", []string{"--allow-client", "c2"}, jwtauth.Config{AllowedClients: []string{"c2"}}, "x"},
		{"audience", "other audience", nil, jwtauth.Config{}, "x"},
		{"high-S refused", "high-S twin", nil, jwtauth.Config{}, "x"},
		{"high-S with --allow-high-s", "high-S twin", []string{"--allow-high-s"}, jwtauth.Config{AllowHighS: true}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The API's answer.
			cfg := tc.config
			cfg.Issuer, cfg.Audiences, cfg.Algorithms = iss, []string{aud}, []string{"ES256", "EdDSA", "RS256"}
			cfg.Keys, err = jwk.Open(jwksPath)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Now = func() time.Time { return time.Unix(now+1, 0) }
			api, err := jwtauth.NewAccessTokens(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var want m2m.Reason
			if _, err := api.VerifyToken(t.Context(), tokens[tc.token]); err != nil {
				want = m2m.ReasonOf(err)
			}
			if (want == "") != (tc.want == "") {
				t.Fatalf("the API answers %q; the case expects valid=%v", want, tc.want == "")
			}
			// The command's answer.
			args := append([]string{"jwt", "verify", "--jwks", jwksPath, "--issuer", iss, "--audience", aud,
				"--now", fmt.Sprint(now + 1), "--token", tokens[tc.token], "--json"}, tc.flags...)
			code, stdout, stderr := run(t, nil, "", args...)
			var out map[string]any
			if err := json.Unmarshal([]byte(stdout), &out); err != nil {
				t.Fatalf("m2m %s: stdout %q, stderr %q", strings.Join(args, " "), stdout, stderr)
			}
			got, _ := out["error"].(string)
			wantCode := 0
			if want != "" {
				wantCode = 1
			}
			if code != wantCode || m2m.Reason(got) != want {
				t.Errorf("m2m jwt verify --jwks %s = exit %d, error %q; want exit %d, %q as the API answers", strings.Join(tc.flags, " "), code, got, wantCode, want)
			}
		})
	}
	// The API needs an issuer and an audience; so does --jwks.
	code, _, stderr := run(t, nil, "", "jwt", "verify", "--jwks", jwksPath, "--token", tokens["rfc9068"])
	if code != 2 || !strings.Contains(stderr, "--jwks needs --issuer") || !strings.Contains(stderr, "--jwks needs --audience") {
		t.Errorf("jwt verify --jwks without --issuer and --audience = %d, %q; want exit 2 naming both", code, stderr)
	}
	code, _, stderr = run(t, map[string]string{"M2M_SECRET": "0123456789abcdef0123456789abcdef"}, "", "jwt", "verify", "--token", "x", "--require-scope", "a")
	if code != 2 || !strings.Contains(stderr, "--require-scope applies to --jwks only") {
		t.Errorf("jwt verify --require-scope without --jwks = %d, %q; want exit 2", code, stderr)
	}
}

// highSTwin returns tok (ES256, low-S) with its signature's s replaced by
// n-s: the same signature's second spelling.
func highSTwin(t *testing.T, tok string) string {
	t.Helper()
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil || len(sig) != 64 {
		t.Fatalf("not an ES256 signature: %v", err)
	}
	sv := new(big.Int).SetBytes(sig[32:])
	sv.Sub(elliptic.P256().Params().N, sv)
	sv.FillBytes(sig[32:])
	return tok[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}
