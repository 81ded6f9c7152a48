package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m/internal/testbackend"

	"github.com/go-jose/go-jose/v4"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/m2mkit/m2m/store"
)

// The revoke scripts (testdata/script_serve*/revoke*.txtar) need one more
// script command:
//
//	introspect URL CREDS_JSON TOKEN_FILE
//	    POSTs the token in TOKEN_FILE to the RFC 7662 endpoint URL with the
//	    client credentials of CREDS_JSON (the output of "m2m client create
//	    --json") in HTTP Basic, and prints the answer's body to stdout; it
//	    fails unless the answer is 200. It sets $JTI and $EXP to the
//	    answer's jti and exp ("" and 0 for an inactive token).

// TestServeRedisScripts runs testdata/script_serve_redis/*.txtar as
// [TestServeScripts] runs its scripts, with $REDIS_ADDR set from
// M2M_TEST_REDIS_ADDR (host:port of a disposable Redis); without it the
// test is skipped.
func TestServeRedisScripts(t *testing.T) {
	addr := testbackend.RedisAddr(t)
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script_serve_redis",
		Setup: func(env *testscript.Env) error {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			env.Setenv("PORT", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
			env.Setenv("REDIS_ADDR", addr)
			return ln.Close()
		},
		Cmds: scriptCmds,
	})
}

func scriptIntrospect(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: introspect URL CREDS_JSON TOKEN_FILE")
	}
	var creds struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[1])), &creds))
	form := url.Values{"token": {strings.TrimSpace(ts.ReadFile(args[2]))}}
	req, err := http.NewRequest(http.MethodPost, args[0], strings.NewReader(form.Encode()))
	ts.Check(err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(creds.ClientID), url.QueryEscape(creds.ClientSecret))
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	ts.Check(err)
	if resp.StatusCode != http.StatusOK {
		ts.Fatalf("introspect: %s: %s", resp.Status, body)
	}
	var got struct {
		JTI string `json:"jti"`
		Exp int64  `json:"exp"`
	}
	ts.Check(json.Unmarshal(body, &got))
	ts.Setenv("JTI", got.JTI)
	ts.Setenv("EXP", strconv.FormatInt(got.Exp, 10))
	_, err = ts.Stdout().Write(body)
	ts.Check(err)
}

// TestStoreSignedToken checks the token check of m2m revoke --token on
// tokens the scripts cannot easily make: each must be refused as foreign.
func TestStoreSignedToken(t *testing.T) {
	tests := []struct {
		name, token string
	}{
		{"empty", ""},
		{"not a JWT", "not-a-token"},
		{"too long", strings.Repeat("a", 5000)},
		{"unsigned", "eyJhbGciOiJub25lIiwia2lkIjoiazEiLCJ0eXAiOiJhdCtqd3QifQ.eyJqdGkiOiJ4IiwiZXhwIjo0MDAwMDAwMDAwfQ."},
		{"HS256 with a kid", "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiYXQrand0In0.eyJqdGkiOiJ4IiwiZXhwIjo0MDAwMDAwMDAwfQ.c2ln"},
	}
	keys := []*store.SigningKey{{ID: "k1", Algorithm: "ES256", PublicJWK: []byte(`{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k1","alg":"ES256","use":"sig"}`)}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := storeSignedToken(tt.token, keys)
			if !errors.Is(err, errForeignToken) {
				t.Errorf("storeSignedToken(%.20q) = %v, %v; want errForeignToken", tt.token, c, err)
			}
		})
	}
}

// TestStoreSignedTokenSignature checks that only a signature by the
// store's key with the token's kid is accepted.
func TestStoreSignedTokenSignature(t *testing.T) {
	mine, other := newES256(t), newES256(t)
	payload := `{"jti":"j1","exp":4000000000,"iat":1700000000,"client_id":"worker"}`
	tests := []struct {
		name    string
		token   string
		keys    []*store.SigningKey
		wantJTI string
	}{
		{"signed by the store's key", signES256(t, mine, "k1", "at+jwt", payload), []*store.SigningKey{storeKey(t, other, "k0"), storeKey(t, mine, "k1")}, "j1"},
		{"typ JWT (auth0 profile)", signES256(t, mine, "k1", "JWT", payload), []*store.SigningKey{storeKey(t, mine, "k1")}, "j1"},
		{"another key with the same kid", signES256(t, other, "k1", "at+jwt", payload), []*store.SigningKey{storeKey(t, mine, "k1")}, ""},
		{"kid not in the store", signES256(t, mine, "k2", "at+jwt", payload), []*store.SigningKey{storeKey(t, mine, "k1")}, ""},
		{"no keys", signES256(t, mine, "k1", "at+jwt", payload), nil, ""},
		{"not an access token", signES256(t, mine, "k1", "dpop+jwt", payload), []*store.SigningKey{storeKey(t, mine, "k1")}, ""},
		{"no jti", signES256(t, mine, "k1", "at+jwt", `{"exp":4000000000}`), []*store.SigningKey{storeKey(t, mine, "k1")}, ""},
		{"no exp", signES256(t, mine, "k1", "at+jwt", `{"jti":"j1"}`), []*store.SigningKey{storeKey(t, mine, "k1")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := storeSignedToken(tt.token, tt.keys)
			if tt.wantJTI == "" {
				if !errors.Is(err, errForeignToken) {
					t.Errorf("storeSignedToken() = %v, %v; want errForeignToken", c, err)
				}
				return
			}
			if err != nil || c.ID != tt.wantJTI || c.ExpiresAt.Unix() != 4000000000 {
				t.Errorf("storeSignedToken() = %v, %v; want jti %q, exp 4000000000", c, err, tt.wantJTI)
			}
		})
	}
}

func newES256(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func storeKey(t *testing.T, k *ecdsa.PrivateKey, kid string) *store.SigningKey {
	t.Helper()
	pub, err := jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return &store.SigningKey{ID: kid, Algorithm: "ES256", State: store.KeyActive, PublicJWK: pub}
}

func signES256(t *testing.T, k *ecdsa.PrivateKey, kid, typ, payload string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(`{"alg":"ES256","kid":"`+kid+`","typ":"`+typ+`"}`)) + "." + enc.EncodeToString([]byte(payload))
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	// crypto/ecdsa does not normalize s; the server signs low-S and its
	// tokens are read back refusing high-S.
	if half := new(big.Int).Rsh(k.Curve.Params().N, 1); s.Cmp(half) > 0 {
		s.Sub(k.Curve.Params().N, s)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + enc.EncodeToString(sig)
}
