package jwtauth_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/clientaddr"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/ratelimit"
	"github.com/m2mkit/m2m/secretfile"
)

var (
	key1 = []byte("0123456789abcdef0123456789abcdef")
	key2 = []byte("fedcba9876543210fedcba9876543210")
	t0   = time.Unix(1700000000, 0)
)

// anyKeys is the KeySource of test keys: []byte and m2m.Secret are HMAC
// secrets, anything else a public key.
func anyKeys(t testing.TB, keys ...any) jwtauth.KeySource {
	t.Helper()
	var out []jwtauth.Key
	for _, k := range keys {
		switch k := k.(type) {
		case []byte:
			out = append(out, jwtauth.SecretKey(k))
		case m2m.Secret:
			out = append(out, jwtauth.SecretKey(k))
		default:
			pk, err := jwk.FromPublic(k, "", "")
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, jwtauth.PublicKey(*pk))
		}
	}
	return jwtauth.StaticKeys(out...)
}

func sign(t testing.TB, alg string, key any, payload string) string {
	t.Helper()
	tok, err := jwtauth.Sign(jwtauth.Header{Alg: alg}, key, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// rawSign signs any payload bytes with key1, bypassing Sign's checks.
func rawSign(t testing.TB, payload string) string {
	tok, err := jws.Sign("HS256", key1, jws.HeaderJSON("HS256", "", "JWT"), []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// forge builds a token with an arbitrary header and signature.
func forge(header, payload string, sig []byte) string {
	e := base64.RawURLEncoding
	return e.EncodeToString([]byte(header)) + "." + e.EncodeToString([]byte(payload)) + "." + e.EncodeToString(sig)
}

func TestValidatorVerify(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	ecDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	base := func() *jwtauth.Validator {
		return &jwtauth.Validator{Algorithms: []string{"HS256"}, SkipIssuerCheck: true, SkipAudienceCheck: true,
			Now: func() time.Time { return t0 }}
	}
	good := `{"sub":"a","exp":1700000100}`
	tests := []struct {
		name   string
		v      func(*jwtauth.Validator)
		token  string
		keys   []any
		reason m2m.Reason // "" for accept
	}{
		{"ok", nil, sign(t, "HS256", key1, good), []any{key1}, ""},
		{"m2m.Secret key", nil, sign(t, "HS256", key1, good), []any{m2m.Secret(key1)}, ""},
		{"fallback key", nil, sign(t, "HS256", key1, good), []any{key2, key1}, ""},
		{"wrong key", nil, sign(t, "HS256", key1, good), []any{key2}, m2m.ReasonBadSignature},
		{"no keys", nil, sign(t, "HS256", key1, good), nil, m2m.ReasonUnknownKey},
		{"alg not allowed", nil, sign(t, "HS512", key1, good), []any{key1}, m2m.ReasonBadAlgorithm},
		{"alg none", nil, forge(`{"alg":"none"}`, good, nil), []any{key1}, m2m.ReasonBadAlgorithm},
		{"alg NONE", func(v *jwtauth.Validator) { v.Algorithms = []string{"HS256", "ES256"} },
			forge(`{"alg":"NONE"}`, good, nil), []any{key1}, m2m.ReasonBadAlgorithm},
		// The classic confusion: an HS256 token "signed" with the bytes of
		// the verifier's public key must never verify.
		{"public key as HMAC secret", func(v *jwtauth.Validator) { v.Algorithms = []string{"HS256", "ES256"} },
			sign(t, "HS256", ecDER, good), []any{&ec.PublicKey}, m2m.ReasonBadAlgorithm},
		{"ES256", func(v *jwtauth.Validator) { v.Algorithms = []string{"ES256"} },
			sign(t, "ES256", ec, good), []any{&ec.PublicKey}, ""},
		{"EdDSA", func(v *jwtauth.Validator) { v.Algorithms = []string{"EdDSA"} },
			sign(t, "EdDSA", edPriv, good), []any{edPub}, ""},
		{"malformed", nil, "abc.def", []any{key1}, m2m.ReasonMalformed},
		{"too large", nil, strings.Repeat("a", jwtauth.DefaultMaxTokenBytes+1), []any{key1}, m2m.ReasonTooLarge},
		{"small cap", func(v *jwtauth.Validator) { v.MaxTokenBytes = 20 }, sign(t, "HS256", key1, good), []any{key1}, m2m.ReasonTooLarge},
		{"crit", nil, forge(`{"alg":"HS256","crit":["x"]}`, good, nil), []any{key1}, m2m.ReasonMalformed},
		{"payload not an object", nil, rawSign(t, `[1]`), []any{key1}, m2m.ReasonMalformed},
		{"exp missing", nil, sign(t, "HS256", key1, `{"sub":"a"}`), []any{key1}, m2m.ReasonMissingClaim},
		{"exp missing allowed", func(v *jwtauth.Validator) { v.InsecureAllowMissingExpiry = true },
			sign(t, "HS256", key1, `{"sub":"a"}`), []any{key1}, ""},
		// exp at year 1 decodes to the zero time.Time: expired, not absent.
		{"exp at the zero time", nil, sign(t, "HS256", key1, `{"sub":"a","exp":-62135596800}`), []any{key1}, m2m.ReasonExpired},
		{"exp at the zero time, missing exp allowed", func(v *jwtauth.Validator) { v.InsecureAllowMissingExpiry = true },
			sign(t, "HS256", key1, `{"sub":"a","exp":-62135596800}`), []any{key1}, m2m.ReasonExpired},
		{"exp string", nil, sign(t, "HS256", key1, `{"exp":"1700000100"}`), []any{key1}, m2m.ReasonMalformed},
		{"exp null", nil, sign(t, "HS256", key1, `{"exp":null}`), []any{key1}, m2m.ReasonMalformed},
		{"expired", func(v *jwtauth.Validator) { v.Leeway = jwtauth.NoLeeway },
			sign(t, "HS256", key1, `{"exp":1700000000}`), []any{key1}, m2m.ReasonExpired},
		{"within default leeway", nil, sign(t, "HS256", key1, `{"exp":1699999990}`), []any{key1}, ""},
		{"beyond default leeway", nil, sign(t, "HS256", key1, `{"exp":1699999970}`), []any{key1}, m2m.ReasonExpired},
		{"fractional exp truncated", func(v *jwtauth.Validator) { v.Leeway = jwtauth.NoLeeway },
			sign(t, "HS256", key1, `{"exp":1700000000.9}`), []any{key1}, m2m.ReasonExpired},
		{"nbf future", func(v *jwtauth.Validator) { v.Leeway = time.Second },
			sign(t, "HS256", key1, `{"exp":1700000100,"nbf":1700000002}`), []any{key1}, m2m.ReasonNotYetValid},
		{"nbf within leeway", func(v *jwtauth.Validator) { v.Leeway = 2 * time.Second },
			sign(t, "HS256", key1, `{"exp":1700000100,"nbf":1700000002}`), []any{key1}, ""},
		{"iat future", func(v *jwtauth.Validator) { v.Leeway = jwtauth.NoLeeway },
			sign(t, "HS256", key1, `{"exp":1700000100,"iat":1700000001}`), []any{key1}, m2m.ReasonNotYetValid},
		{"fractional iat truncated", func(v *jwtauth.Validator) { v.Leeway = jwtauth.NoLeeway },
			sign(t, "HS256", key1, `{"exp":1700000100,"iat":1700000000.5}`), []any{key1}, ""},
		{"sub not a string", nil, sign(t, "HS256", key1, `{"exp":1700000100,"sub":42}`), []any{key1}, m2m.ReasonMalformed},
		{"jti not a string", nil, sign(t, "HS256", key1, `{"exp":1700000100,"jti":1}`), []any{key1}, m2m.ReasonMalformed},
		{"aud present, none expected", nil, sign(t, "HS256", key1, `{"exp":1700000100,"aud":"x"}`), []any{key1}, m2m.ReasonWrongAudience},
		{"empty aud is no aud", nil, sign(t, "HS256", key1, `{"exp":1700000100,"aud":[]}`), []any{key1}, ""},
		{"aud match in array", func(v *jwtauth.Validator) { v.SkipAudienceCheck, v.Audience = false, []string{"api", "b"} },
			sign(t, "HS256", key1, `{"exp":1700000100,"aud":["x","b"]}`), []any{key1}, ""},
		{"aud mismatch", func(v *jwtauth.Validator) { v.SkipAudienceCheck, v.Audience = false, []string{"api"} },
			sign(t, "HS256", key1, `{"exp":1700000100,"aud":"x"}`), []any{key1}, m2m.ReasonWrongAudience},
		{"aud missing", func(v *jwtauth.Validator) { v.SkipAudienceCheck, v.Audience = false, []string{"api"} },
			sign(t, "HS256", key1, good), []any{key1}, m2m.ReasonMissingClaim},
		{"aud bad type", nil, sign(t, "HS256", key1, `{"exp":1700000100,"aud":[1]}`), []any{key1}, m2m.ReasonMalformed},
		{"iss match", func(v *jwtauth.Validator) { v.SkipIssuerCheck, v.Issuer = false, "https://i" },
			sign(t, "HS256", key1, `{"exp":1700000100,"iss":"https://i"}`), []any{key1}, ""},
		{"iss mismatch", func(v *jwtauth.Validator) { v.SkipIssuerCheck, v.Issuer = false, "https://i" },
			sign(t, "HS256", key1, `{"exp":1700000100,"iss":"https://j"}`), []any{key1}, m2m.ReasonWrongIssuer},
		{"iss missing", func(v *jwtauth.Validator) { v.SkipIssuerCheck, v.Issuer = false, "https://i" },
			sign(t, "HS256", key1, good), []any{key1}, m2m.ReasonMissingClaim},
		{"required claim", func(v *jwtauth.Validator) { v.RequiredClaims = []string{"jti"} },
			sign(t, "HS256", key1, good), []any{key1}, m2m.ReasonMissingClaim},
		{"typ required", func(v *jwtauth.Validator) { v.Types = []string{"at+jwt"} },
			sign(t, "HS256", key1, good), []any{key1}, m2m.ReasonMalformed},
		{"typ matches with prefix", func(v *jwtauth.Validator) { v.Types = []string{"at+jwt"} },
			func() string {
				tok, _ := jwtauth.Sign(jwtauth.Header{Alg: "HS256", Typ: "application/AT+JWT"}, key1, []byte(good))
				return tok
			}(), []any{key1}, ""},
		{"trailing data in claims", nil, sign(t, "HS256", key1, good+` `), []any{key1}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := base()
			if tt.v != nil {
				tt.v(v)
			}
			c, err := v.Verify(context.Background(), tt.token, anyKeys(t, tt.keys...))
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Verify = %v; want success", err)
				}
				if c.Raw == nil {
					t.Fatalf("Verify returned claims without Raw")
				}
				return
			}
			var ce *m2m.CredentialError
			if !errors.As(err, &ce) {
				t.Fatalf("Verify = %v; want a CredentialError with reason %s", err, tt.reason)
			}
			if ce.Reason != tt.reason || ce.Scheme != m2m.SchemeBearer {
				t.Fatalf("Verify = %v; want reason %s", err, tt.reason)
			}
			if !errors.Is(err, m2m.ErrInvalidCredentials) {
				t.Errorf("error does not wrap ErrInvalidCredentials")
			}
		})
	}
}

func TestValidatorConfig(t *testing.T) {
	tok := sign(t, "HS256", key1, `{"exp":9999999999}`)
	tests := []struct {
		name string
		v    jwtauth.Validator
		want string
	}{
		{"zero", jwtauth.Validator{}, "no Algorithms"},
		{"no issuer", jwtauth.Validator{Algorithms: []string{"HS256"}, SkipAudienceCheck: true}, "no Issuer"},
		{"no audience", jwtauth.Validator{Algorithms: []string{"HS256"}, SkipIssuerCheck: true}, "no Audience"},
		{"none", jwtauth.Validator{Algorithms: []string{"none"}, SkipIssuerCheck: true, SkipAudienceCheck: true}, `unsupported algorithm "none"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.v.Verify(context.Background(), tok, jwtauth.Secrets(key1))
			if err == nil || !strings.Contains(err.Error(), tt.want) || errors.Is(err, m2m.ErrInvalidCredentials) {
				t.Fatalf("Verify = %v; want a configuration error containing %q", err, tt.want)
			}
		})
	}
}

func TestKeyFuncErrors(t *testing.T) {
	v := &jwtauth.Validator{Algorithms: []string{"HS256"}, SkipIssuerCheck: true, SkipAudienceCheck: true}
	tok := sign(t, "HS256", key1, `{"exp":9999999999}`)
	down := errors.New("jwks down")
	_, err := v.Verify(context.Background(), tok, jwtauth.KeyFunc(func(context.Context, jwtauth.Header) ([]jwtauth.Key, error) { return nil, down }))
	if !errors.Is(err, down) || errors.Is(err, m2m.ErrInvalidCredentials) {
		t.Errorf("Verify with a failing KeyFunc = %v; want a technical error wrapping it", err)
	}
	unknown := m2m.Invalid(m2m.SchemeBearer, m2m.ReasonUnknownKey, "unknown kid")
	_, err = v.Verify(context.Background(), tok, jwtauth.KeyFunc(func(context.Context, jwtauth.Header) ([]jwtauth.Key, error) { return nil, unknown }))
	if m2m.ReasonOf(err) != m2m.ReasonUnknownKey {
		t.Errorf("Verify with unknown kid = %v; want unknown_key", err)
	}
	var seen jwtauth.Header
	tok2, _ := jwtauth.Sign(jwtauth.Header{Alg: "HS256", Kid: "k7"}, key1, []byte(`{"exp":9999999999}`))
	v.Verify(context.Background(), tok2, jwtauth.KeyFunc(func(_ context.Context, h jwtauth.Header) ([]jwtauth.Key, error) {
		seen = h
		return []jwtauth.Key{jwtauth.SecretKey(key1)}, nil
	}))
	if seen != (jwtauth.Header{Alg: "HS256", Kid: "k7", Typ: "JWT"}) {
		t.Errorf("KeyFunc saw header %+v", seen)
	}
}

func TestDeviceTokens(t *testing.T) {
	now := t0
	d := &jwtauth.DeviceTokens{Keys: []m2m.Secret{key1}, Now: func() time.Time { return now }}
	tok, err := d.Issue("cam-app")
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if got, want := string(payload), `{"sub":"cam-app","exp":1700003600,"iat":1700000000}`; got != want {
		t.Errorf("payload = %s; want %s", got, want)
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if got, want := string(hdr), `{"alg":"HS256","typ":"JWT"}`; got != want {
		t.Errorf("header = %s; want %s", got, want)
	}
	c, err := d.Verify(context.Background(), tok)
	if err != nil || c.Subject != "cam-app" || !c.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("Verify = %+v, %v", c, err)
	}

	// Rotation: the new secret signs, the old one still verifies.
	rotated := &jwtauth.DeviceTokens{Keys: []m2m.Secret{key2, key1}, Now: d.Now}
	if _, err := rotated.Verify(context.Background(), tok); err != nil {
		t.Errorf("token signed before rotation: %v", err)
	}
	tok2, _ := rotated.Issue("cam-app")
	if _, err := d.Verify(context.Background(), tok2); m2m.ReasonOf(err) != m2m.ReasonBadSignature {
		t.Errorf("new token with only the old key: %v; want bad_signature", err)
	}
	// "Rotate everything": without the old key the old token fails.
	fresh := &jwtauth.DeviceTokens{Keys: []m2m.Secret{key2}, Now: d.Now}
	if _, err := fresh.Verify(context.Background(), tok); m2m.ReasonOf(err) != m2m.ReasonBadSignature {
		t.Errorf("old token after full rotation: %v; want bad_signature", err)
	}

	now = t0.Add(time.Hour + jwtauth.DefaultLeeway)
	if _, err := d.Verify(context.Background(), tok); m2m.ReasonOf(err) != m2m.ReasonExpired {
		t.Errorf("Verify after TTL+leeway = %v; want expired", err)
	}
	now = t0.Add(time.Hour + jwtauth.DefaultLeeway - time.Second)
	if _, err := d.Verify(context.Background(), tok); err != nil {
		t.Errorf("Verify just inside the leeway = %v", err)
	}
}

// TestDeviceTokensNeedSubject signs tokens with the device key but no
// usable subject: each must be refused, not turned into a Principal that
// names nobody.
func TestDeviceTokensNeedSubject(t *testing.T) {
	d := &jwtauth.DeviceTokens{Keys: []m2m.Secret{key1}, Now: func() time.Time { return t0 }}
	exp := t0.Add(time.Hour).Unix()
	for _, payload := range []string{
		fmt.Sprintf(`{"exp":%d}`, exp),
		fmt.Sprintf(`{"sub":"","exp":%d}`, exp),
		fmt.Sprintf(`{"sub":null,"exp":%d}`, exp),
	} {
		tok := rawSign(t, payload)
		if _, err := d.Verify(context.Background(), tok); err == nil {
			t.Errorf("DeviceTokens.Verify(%s) = nil error; want a refusal", payload)
		} else if r := m2m.ReasonOf(err); r != m2m.ReasonMissingClaim && r != m2m.ReasonMalformed {
			t.Errorf("DeviceTokens.Verify(%s) = %v; want missing_claim or malformed", payload, err)
		}
	}
}

func TestDeviceTokensOptions(t *testing.T) {
	d := &jwtauth.DeviceTokens{Keys: []m2m.Secret{key1}, Algorithm: "HS512", TTL: time.Minute, Issuer: "cam",
		Audience: "app", OmitIssuedAt: true, Now: func() time.Time { return t0 }}
	tok, err := d.Issue(`a"b`)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if got, want := string(payload), `{"sub":"a\"b","exp":1700000060,"iss":"cam","aud":"app"}`; got != want {
		t.Errorf("payload = %s; want %s", got, want)
	}
	if _, err := d.Verify(context.Background(), tok); err != nil {
		t.Errorf("Verify = %v", err)
	}
	other := *d
	other.Audience = "other"
	if _, err := other.Verify(context.Background(), tok); m2m.ReasonOf(err) != m2m.ReasonWrongAudience {
		t.Errorf("Verify with another audience = %v; want wrong_audience", err)
	}
	hs256 := &jwtauth.DeviceTokens{Keys: []m2m.Secret{key1}, Issuer: "cam", Audience: "app", Now: d.Now}
	if _, err := hs256.Verify(context.Background(), tok); m2m.ReasonOf(err) != m2m.ReasonBadAlgorithm {
		t.Errorf("HS512 token at an HS256 verifier = %v; want bad_algorithm", err)
	}
}

func TestDeviceTokensConfig(t *testing.T) {
	tests := []struct {
		name string
		d    jwtauth.DeviceTokens
		sub  string
	}{
		{"no keys", jwtauth.DeviceTokens{}, "a"},
		{"short key", jwtauth.DeviceTokens{Keys: []m2m.Secret{m2m.Secret("short")}}, "a"},
		{"short fallback", jwtauth.DeviceTokens{Keys: []m2m.Secret{key1, m2m.Secret("short")}}, "a"},
		{"asymmetric algorithm", jwtauth.DeviceTokens{Keys: []m2m.Secret{key1}, Algorithm: "RS256"}, "a"},
		{"tiny ttl", jwtauth.DeviceTokens{Keys: []m2m.Secret{key1}, TTL: time.Millisecond}, "a"},
		{"empty subject", jwtauth.DeviceTokens{Keys: []m2m.Secret{key1}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tok, err := tt.d.Issue(tt.sub); err == nil {
				t.Errorf("Issue = %q; want an error", tok)
			}
		})
	}
	if _, err := (&jwtauth.DeviceTokens{}).Verify(context.Background(), "a.b.c"); err == nil || errors.Is(err, m2m.ErrInvalidCredentials) {
		t.Errorf("Verify without keys = %v; want a configuration error", err)
	}
}

func TestDeviceTokensWithSecretFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.bin")
	keys, err := secretfile.LoadOrCreate(path, 32)
	if err != nil {
		t.Fatal(err)
	}
	d := &jwtauth.DeviceTokens{Keys: keys.All()}
	tok, _ := d.Issue("u")
	keys, err = secretfile.Rotate(path)
	if err != nil {
		t.Fatal(err)
	}
	d = &jwtauth.DeviceTokens{Keys: keys.All()}
	if _, err := d.Verify(context.Background(), tok); err != nil {
		t.Errorf("token from before secretfile.Rotate: %v", err)
	}
}

func TestTokenAuth(t *testing.T) {
	d := &jwtauth.DeviceTokens{Keys: []m2m.Secret{key1}}
	tok, _ := d.Issue("alice")
	tests := []struct {
		name    string
		ta      jwtauth.TokenAuth
		headers map[string][]string
		reason  m2m.Reason // "" accept; "none" for ErrNoCredentials
		tech    bool
	}{
		{"bearer", jwtauth.TokenAuth{Check: d.CheckToken}, map[string][]string{"Authorization": {"Bearer " + tok}}, "", false},
		{"case-insensitive scheme", jwtauth.TokenAuth{Check: d.CheckToken}, map[string][]string{"Authorization": {"bEARER   " + tok + " "}}, "", false},
		{"no header", jwtauth.TokenAuth{Check: d.CheckToken}, nil, "none", false},
		{"other scheme", jwtauth.TokenAuth{Check: d.CheckToken}, map[string][]string{"Authorization": {"Basic " + tok}}, "none", false},
		{"tab separator", jwtauth.TokenAuth{Check: d.CheckToken}, map[string][]string{"Authorization": {"Bearer\t" + tok}}, "none", false},
		{"scheme only", jwtauth.TokenAuth{Check: d.CheckToken}, map[string][]string{"Authorization": {"Bearer"}}, m2m.ReasonMalformed, false},
		{"two headers", jwtauth.TokenAuth{Check: d.CheckToken}, map[string][]string{"Authorization": {"Bearer " + tok, "Bearer " + tok}}, m2m.ReasonMalformed, false},
		{"oversize", jwtauth.TokenAuth{Check: d.CheckToken}, map[string][]string{"Authorization": {"Bearer " + strings.Repeat("a", httpauth.MaxAuthorizationBytes)}}, m2m.ReasonTooLarge, false},
		{"bad token", jwtauth.TokenAuth{Check: d.CheckToken}, map[string][]string{"Authorization": {"Bearer x" + tok}}, m2m.ReasonMalformed, false},
		{"custom scheme", jwtauth.TokenAuth{Scheme: "Token", Check: d.CheckToken}, map[string][]string{"Authorization": {"token " + tok}}, "", false},
		{"custom scheme refuses Bearer", jwtauth.TokenAuth{Scheme: "Token", Check: d.CheckToken}, map[string][]string{"Authorization": {"Bearer " + tok}}, "none", false},
		{"custom header", jwtauth.TokenAuth{Header: "X-Device-Token", Check: d.CheckToken}, map[string][]string{"X-Device-Token": {" " + tok}}, "", false},
		{"custom header ignores Authorization", jwtauth.TokenAuth{Header: "X-Device-Token", Check: d.CheckToken}, map[string][]string{"Authorization": {"Bearer " + tok}}, "none", false},
		{"callback nil nil", jwtauth.TokenAuth{Check: func(*http.Request, string) (*m2m.Principal, error) { return nil, nil }},
			map[string][]string{"Authorization": {"Bearer x"}}, m2m.ReasonRejected, false},
		{"callback failure", jwtauth.TokenAuth{Check: func(*http.Request, string) (*m2m.Principal, error) { return nil, errors.New("db down") }},
			map[string][]string{"Authorization": {"Bearer x"}}, "", true},
		{"no callback", jwtauth.TokenAuth{}, map[string][]string{"Authorization": {"Bearer x"}}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			for k, vs := range tt.headers {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			p, err := tt.ta.Verify(r)
			switch {
			case tt.tech:
				if err == nil || errors.Is(err, m2m.ErrInvalidCredentials) || errors.Is(err, m2m.ErrNoCredentials) {
					t.Fatalf("Verify = %v; want a technical failure", err)
				}
			case tt.reason == "":
				if err != nil || p.Subject != "alice" || p.Scheme != m2m.SchemeBearer {
					t.Fatalf("Verify = %+v, %v; want alice via bearer", p, err)
				}
			case tt.reason == "none":
				if !errors.Is(err, m2m.ErrNoCredentials) {
					t.Fatalf("Verify = %v; want ErrNoCredentials", err)
				}
			default:
				if m2m.ReasonOf(err) != tt.reason {
					t.Fatalf("Verify = %v; want reason %s", err, tt.reason)
				}
			}
		})
	}
}

func TestTokenAuthChallenge(t *testing.T) {
	ta := &jwtauth.TokenAuth{Scheme: "Token", Realm: "cam"}
	if got, want := ta.Challenge(nil).String(), `Token realm="cam"`; got != want {
		t.Errorf("Challenge(nil) = %s; want %s", got, want)
	}
	err := m2m.Invalid(m2m.SchemeBearer, m2m.ReasonExpired, "the token has expired")
	if got, want := ta.Challenge(err).String(), `Token realm="cam", error="invalid_token", error_description="the token has expired"`; got != want {
		t.Errorf("Challenge(expired) = %s; want %s", got, want)
	}
}

type recorder struct {
	code int
	body map[string]any
	hdr  http.Header
}

func post(t *testing.T, h http.Handler, method, ctype, body, remote string) recorder {
	t.Helper()
	r := httptest.NewRequest(method, "/api/login", strings.NewReader(body))
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	if remote != "" {
		r.RemoteAddr = remote
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("%s %s: body %q is not JSON", method, body, w.Body)
	}
	return recorder{w.Code, m, w.Header()}
}

func users() jwtauth.PasswordChecker {
	return jwtauth.PasswordFunc(func(_ context.Context, u, p string) (bool, error) {
		if u == "broken" {
			return false, errors.New("user store down")
		}
		return u == "alice" && p == "wonder:land", nil
	})
}

func TestLoginHandler(t *testing.T) {
	d := &jwtauth.DeviceTokens{Keys: []m2m.Secret{key1}}
	var logs bytes.Buffer
	h := &jwtauth.LoginHandler{Users: users(), Tokens: d, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	tests := []struct {
		name, method, ctype, body string
		status                    int
		errCode                   string
	}{
		{"ok", "POST", "application/json", `{"user":"alice","pass":"wonder:land"}`, 200, ""},
		{"microdot field names", "POST", "application/json", `{"username":"alice","password":"wonder:land"}`, 200, ""},
		{"no content type", "POST", "", `{"user":"alice","pass":"wonder:land"}`, 200, ""},
		{"json with charset", "POST", "application/json; charset=utf-8", `{"user":"alice","pass":"wonder:land"}`, 200, ""},
		{"wrong password", "POST", "application/json", `{"user":"alice","pass":"x"}`, 401, "bad_credentials"},
		{"unknown user", "POST", "application/json", `{"user":"bob","pass":"wonder:land"}`, 401, "bad_credentials"},
		{"missing pass", "POST", "application/json", `{"user":"alice"}`, 400, "malformed"},
		{"missing user", "POST", "application/json", `{"pass":"x"}`, 400, "malformed"},
		{"empty user", "POST", "application/json", `{"user":"","pass":"x"}`, 400, "malformed"},
		{"both names", "POST", "application/json", `{"user":"alice","username":"alice","pass":"x"}`, 400, "malformed"},
		{"user not a string", "POST", "application/json", `{"user":1,"pass":"x"}`, 400, "malformed"},
		{"not an object", "POST", "application/json", `["alice","x"]`, 400, "malformed"},
		{"not JSON", "POST", "application/json", `user=alice&pass=x`, 400, "malformed"},
		{"trailing data", "POST", "application/json", `{"user":"alice","pass":"wonder:land"} {}`, 400, "malformed"},
		{"empty body", "POST", "application/json", ``, 400, "malformed"},
		{"long user", "POST", "application/json", `{"user":"` + strings.Repeat("a", 256) + `","pass":"x"}`, 400, "malformed"},
		{"too large", "POST", "application/json", `{"user":"alice","pass":"` + strings.Repeat("a", jwtauth.DefaultMaxLoginBytes) + `"}`, 413, "too_large"},
		{"form content type", "POST", "application/x-www-form-urlencoded", `user=alice&pass=x`, 415, "malformed"},
		{"GET", "GET", "", ``, 405, "malformed"},
		{"technical failure", "POST", "application/json", `{"user":"broken","pass":"x"}`, 500, "server_error"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A fresh address per case keeps the throttle out of the way.
			got := post(t, h, tt.method, tt.ctype, tt.body, fmt.Sprintf("192.0.2.%d:1234", i+1))
			if got.code != tt.status {
				t.Fatalf("status = %d (%v); want %d", got.code, got.body, tt.status)
			}
			if tt.errCode == "" {
				tok, _ := got.body["token"].(string)
				c, err := d.Verify(context.Background(), tok)
				if err != nil || c.Subject != "alice" {
					t.Fatalf("token %q: %v", tok, err)
				}
				return
			}
			if got.body["error"] != tt.errCode || got.body["error_description"] == "" {
				t.Errorf("body = %v; want error %s with a description", got.body, tt.errCode)
			}
		})
	}
	if strings.Contains(logs.String(), "wonder:land") {
		t.Errorf("log contains a password: %s", logs.String())
	}
	if !strings.Contains(logs.String(), `"reason":"bad_credentials"`) {
		t.Errorf("log has no bad_credentials record: %s", logs.String())
	}
}

func TestLoginThrottle(t *testing.T) {
	d := &jwtauth.DeviceTokens{Keys: []m2m.Secret{key1}}
	lim := ratelimit.Limit{Rate: 1.0 / 60, Burst: 3}
	t.Run("per user", func(t *testing.T) {
		h := &jwtauth.LoginHandler{Users: users(), Tokens: d, Throttle: ratelimit.NewThrottle(lim)}
		for i := range 3 {
			got := post(t, h, "POST", "application/json", `{"user":"alice","pass":"x"}`, fmt.Sprintf("198.51.100.%d:1", i))
			if got.code != 401 {
				t.Fatalf("failure %d: status %d; want 401", i, got.code)
			}
		}
		// From yet another address, even the right password is refused.
		got := post(t, h, "POST", "application/json", `{"user":"alice","pass":"wonder:land"}`, "198.51.100.99:1")
		if got.code != 429 || got.body["error"] != "throttled" {
			t.Fatalf("after 3 failures: %d %v; want 429 throttled", got.code, got.body)
		}
		if ra := got.hdr.Get("Retry-After"); ra == "" || ra == "0" {
			t.Errorf("Retry-After = %q; want a positive number of seconds", ra)
		}
		// Another user is not affected.
		if got := post(t, h, "POST", "application/json", `{"user":"bob","pass":"x"}`, "198.51.100.98:1"); got.code != 401 {
			t.Errorf("other user: %d; want 401", got.code)
		}
	})
	t.Run("per address", func(t *testing.T) {
		h := &jwtauth.LoginHandler{Users: users(), Tokens: d, Throttle: ratelimit.NewThrottle(lim)}
		for i := range 3 {
			post(t, h, "POST", "application/json", fmt.Sprintf(`{"user":"u%d","pass":"x"}`, i), "203.0.113.7:1")
		}
		got := post(t, h, "POST", "application/json", `{"user":"alice","pass":"wonder:land"}`, "203.0.113.7:2")
		if got.code != 429 {
			t.Fatalf("after 3 failures from one address: %d; want 429", got.code)
		}
	})
	t.Run("per IPv6 /64", func(t *testing.T) {
		h := &jwtauth.LoginHandler{Users: users(), Tokens: d, Throttle: ratelimit.NewThrottle(lim)}
		for i := range 3 {
			post(t, h, "POST", "application/json", fmt.Sprintf(`{"user":"u%d","pass":"x"}`, i), fmt.Sprintf("[2001:db8:1:2::%x]:1", i+1))
		}
		got := post(t, h, "POST", "application/json", `{"user":"alice","pass":"wonder:land"}`, "[2001:db8:1:2:ffff::9]:2")
		if got.code != 429 {
			t.Fatalf("after 3 failures from one /64, another address in it: %d; want 429", got.code)
		}
		if got := post(t, h, "POST", "application/json", `{"user":"alice","pass":"wonder:land"}`, "[2001:db8:1:3::1]:2"); got.code != 200 {
			t.Errorf("another /64: %d; want 200", got.code)
		}
	})
	t.Run("per client behind a trusted proxy", func(t *testing.T) {
		h := &jwtauth.LoginHandler{Users: users(), Tokens: d, Throttle: ratelimit.NewThrottle(lim),
			TrustedProxies: clientaddr.TrustedProxies{netip.MustParsePrefix("10.0.0.0/8")}}
		via := func(user, pass, xff string) int {
			r := httptest.NewRequest("POST", "/api/login", strings.NewReader(fmt.Sprintf(`{"user":%q,"pass":%q}`, user, pass)))
			r.RemoteAddr = "10.0.0.1:1"
			r.Header.Set("X-Forwarded-For", xff)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w.Code
		}
		for i := range 3 {
			via(fmt.Sprintf("u%d", i), "x", "6.6.6.6, 203.0.113.7")
		}
		if got := via("u9", "x", "203.0.113.7"); got != 429 {
			t.Fatalf("after 3 failures from forwarded client 203.0.113.7: %d; want 429", got)
		}
		if got := via("alice", "wonder:land", "203.0.113.8"); got != 200 {
			t.Errorf("another forwarded client through the same proxy: %d; want 200", got)
		}
	})
	t.Run("no lockout behind a NAT", func(t *testing.T) {
		h := &jwtauth.LoginHandler{Users: users(), Tokens: d, Throttle: ratelimit.NewThrottle(ratelimit.Limit{Rate: 1.0 / 3600, Burst: 3})}
		const nat = "203.0.113.1:1"
		if got := post(t, h, "POST", "application/json", `{"user":"alice","pass":"wonder:land"}`, nat); got.code != 200 {
			t.Fatalf("first login: %d; want 200", got.code)
		}
		for i := range 20 {
			bad := post(t, h, "POST", "application/json", fmt.Sprintf(`{"user":"u%d","pass":"x"}`, i), nat)
			if bad.code != 401 && bad.code != 429 {
				t.Fatalf("round %d: bad client: %d; want 401 or 429", i, bad.code)
			}
			if got := post(t, h, "POST", "application/json", `{"user":"alice","pass":"wonder:land"}`, nat); got.code != 200 {
				t.Fatalf("round %d: alice behind the same NAT: %d; want 200", i, got.code)
			}
		}
		if got := post(t, h, "POST", "application/json", `{"user":"bob","pass":"x"}`, nat); got.code != 429 {
			t.Errorf("another user from the throttled address: %d; want 429", got.code)
		}
	})
	t.Run("default throttle", func(t *testing.T) {
		h := &jwtauth.LoginHandler{Users: users(), Tokens: d}
		code := 0
		for range ratelimit.DefaultFailureLimit.Burst + 1 {
			code = post(t, h, "POST", "application/json", `{"user":"alice","pass":"x"}`, "").code
		}
		if code != 429 {
			t.Fatalf("after %d failures with the default throttle: %d; want 429", ratelimit.DefaultFailureLimit.Burst+1, code)
		}
	})
}

// TestLoginThrottleConcurrent sends a burst of concurrent wrong passwords
// for one user: no more than the throttle's burst may reach the password
// check, as if they had been sent one at a time.
func TestLoginThrottleConcurrent(t *testing.T) {
	const n, burst = 20, 3
	d := &jwtauth.DeviceTokens{Keys: []m2m.Secret{key1}}
	var checked atomic.Int32
	slow := jwtauth.PasswordFunc(func(_ context.Context, u, p string) (bool, error) {
		checked.Add(1)
		// Widen the window between the throttle check and the recorded
		// failure, as a bcrypt comparison does: let every other request
		// run (no wall-clock sleep).
		for range 200 {
			runtime.Gosched()
		}
		return false, nil
	})
	h := &jwtauth.LoginHandler{Users: slow, Tokens: d, Throttle: ratelimit.NewThrottle(ratelimit.Limit{Rate: 1.0 / 3600, Burst: burst})}
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() {
			r := httptest.NewRequest("POST", "/login", strings.NewReader(`{"user":"alice","pass":"guess"}`))
			r.RemoteAddr = fmt.Sprintf("198.51.100.%d:1", i)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			codes[i] = w.Code
		})
	}
	wg.Wait()
	if got := checked.Load(); got > burst {
		t.Errorf("%d concurrent wrong passwords with burst %d: %d reached the password check; want at most %d", n, burst, got, burst)
	}
	throttled := 0
	for _, c := range codes {
		if c == http.StatusTooManyRequests {
			throttled++
		}
	}
	if throttled != n-burst {
		t.Errorf("%d concurrent wrong passwords with burst %d: %d throttled (codes %v); want %d", n, burst, throttled, codes, n-burst)
	}
}

// peekOnlyLimiter allows every check but cannot record a failure, as a
// remote limiter that went down between the two calls.
type peekOnlyLimiter struct{}

func (peekOnlyLimiter) Take(_ context.Context, _ string, l ratelimit.Limit, n int) (ratelimit.Decision, error) {
	if n > 0 {
		return ratelimit.Decision{}, errors.New("limiter down")
	}
	return ratelimit.Decision{Allowed: true}, nil
}

// TestLoginThrottleCannotRecord checks that a wrong password whose failure
// cannot be recorded is a technical failure, not a 401 that leaves the
// guess uncounted.
func TestLoginThrottleCannotRecord(t *testing.T) {
	d := &jwtauth.DeviceTokens{Keys: []m2m.Secret{key1}}
	h := &jwtauth.LoginHandler{Users: users(), Tokens: d, Throttle: &ratelimit.Throttle{Limiter: peekOnlyLimiter{}}}
	if got := post(t, h, "POST", "application/json", `{"user":"alice","pass":"x"}`, ""); got.code != http.StatusServiceUnavailable {
		t.Errorf("wrong password, failure not recorded: %d %v; want 503", got.code, got.body)
	}
	if got := post(t, h, "POST", "application/json", `{"user":"alice","pass":"wonder:land"}`, ""); got.code != 200 {
		t.Errorf("right password with a limiter that cannot record: %d; want 200", got.code)
	}
}

func TestLoginConfig(t *testing.T) {
	for _, h := range []*jwtauth.LoginHandler{{}, {Users: users()}, {Tokens: &jwtauth.DeviceTokens{Keys: []m2m.Secret{key1}}}} {
		if got := post(t, h, "POST", "application/json", `{"user":"alice","pass":"wonder:land"}`, ""); got.code != 500 {
			t.Errorf("misconfigured LoginHandler: %d; want 500", got.code)
		}
	}
}

func TestParseClaimsTypes(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{`{}`, true},
		{`{"exp":1e3}`, true},
		{`{"exp":-5}`, true},
		{`{"exp":1e300}`, false},
		{`{"exp":true}`, false},
		{`{"iss":1}`, false},
		{`{"aud":{"a":1}}`, false},
		{`{"aud":null}`, true},
		{`null`, false},
		{`"x"`, false},
		{`{"a":1}x`, false},
		{``, false},
	}
	for _, tt := range tests {
		_, err := jwtauth.ParseClaims([]byte(tt.in))
		if (err == nil) != tt.ok {
			t.Errorf("ParseClaims(%s) = %v; want ok %v", tt.in, err, tt.ok)
		}
	}
}

func TestSignRefusesNonObject(t *testing.T) {
	for _, p := range []string{``, `[]`, `{`, `"x"`} {
		if _, err := jwtauth.Sign(jwtauth.Header{Alg: "HS256"}, key1, []byte(p)); err == nil {
			t.Errorf("Sign(%q) = nil error", p)
		}
	}
	if _, err := jwtauth.Sign(jwtauth.Header{Alg: "none"}, key1, []byte(`{}`)); err == nil {
		t.Errorf("Sign(alg none) = nil error")
	}
}
