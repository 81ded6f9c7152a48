package jwtauth_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"math"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/internal/vectors"
	"github.com/m2mkit/m2m/jwtauth"
)

var fuzzKey = []byte{0x8f, 0x3c, 0x1e, 0x0a, 0x5b, 0x7d, 0x9f, 0x21, 0xc4, 0xe6, 0xa8, 0xb0, 0xd2, 0xf4, 0x16, 0x08,
	0x39, 0xaa, 0x5b, 0xc7, 0xde, 0x01, 0xf2, 0xa3, 0xb4, 0xc5, 0xd6, 0xe7, 0xf8, 0x09, 0x1a, 0x2b}

// vectorTokens returns every token in the microdot vectors, as fuzz seeds.
func vectorTokens(f *testing.F) []string {
	file, err := vectors.ReadFile("testdata/microdot_pyjwt.json")
	if err != nil {
		f.Fatal(err)
	}
	var toks []string
	for _, v := range file.Vectors {
		for _, raw := range []json.RawMessage{v.Input, v.Expected} {
			var m map[string]any
			if json.Unmarshal(raw, &m) != nil {
				continue
			}
			if s, ok := m["token"].(string); ok {
				toks = append(toks, s)
			}
			if b, ok := m["body"].(map[string]any); ok {
				if s, ok := b["token"].(string); ok {
					toks = append(toks, s)
				}
			}
			if h, ok := m["headers"].(map[string]any); ok {
				if s, ok := h["Authorization"].(string); ok {
					_, tok, _ := strings.Cut(s, " ")
					toks = append(toks, strings.TrimSpace(tok))
				}
			}
		}
	}
	return toks
}

// FuzzVerify feeds arbitrary tokens to the verification core. It must
// never panic, must refuse with a CredentialError (never a technical
// error: the configuration is valid), and may only accept a token whose
// signature is the HMAC of its first two segments under the key.
func FuzzVerify(f *testing.F) {
	for _, tok := range vectorTokens(f) {
		f.Add(tok)
	}
	f.Add("e30.e30.")
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.")
	f.Add("..")
	v := &jwtauth.Validator{Algorithms: []string{"HS256", "HS512", "ES256"}, SkipIssuerCheck: true, SkipAudienceCheck: true,
		InsecureAllowMissingExpiry: true, Leeway: jwtauth.NoLeeway, Now: func() time.Time { return time.Unix(1700000001, 0) }}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(context.Background(), token, jwtauth.Secrets(fuzzKey))
		if err != nil {
			var ce *m2m.CredentialError
			if !errors.As(err, &ce) || ce.Reason == "" || ce.Scheme != m2m.SchemeBearer {
				t.Fatalf("Verify(%q) = %v; want a CredentialError", token, err)
			}
			if strings.Contains(ce.Description, token) && len(token) > 8 {
				t.Fatalf("description %q contains the token", ce.Description)
			}
			return
		}
		parts := strings.Split(token, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted %q without three segments", token)
		}
		hdr, err := base64.RawURLEncoding.DecodeString(parts[0])
		if err != nil {
			t.Fatalf("accepted a token with an undecodable header")
		}
		var h struct {
			Alg string `json:"alg"`
		}
		json.Unmarshal(hdr, &h)
		newHash := map[string]func() hash.Hash{"HS256": sha256.New, "HS512": sha512.New}[h.Alg]
		if newHash == nil {
			t.Fatalf("accepted %q with alg %q and an HMAC key", token, h.Alg)
		}
		mac := hmac.New(newHash, fuzzKey)
		mac.Write([]byte(parts[0] + "." + parts[1]))
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
			t.Fatalf("accepted %q whose signature is not the HMAC of its content", token)
		}
		if c.Raw == nil {
			t.Fatalf("accepted without claims")
		}
	})
}

// FuzzParseClaims checks that the registered-claim fields agree with Raw.
func FuzzParseClaims(f *testing.F) {
	for _, s := range []string{`{"sub":"alice","exp":1700003600}`, `{"aud":["a","b"],"iat":1.5,"nbf":-1}`, `{"sub":42}`,
		`{"exp":1e300}`, `{"aud":null,"iss":"x","jti":"y"}`, `[]`, `{"exp":1700000000.999999999}`, `{"exp":-62135596800}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		c, err := jwtauth.ParseClaims(payload)
		if err != nil {
			if m2m.ReasonOf(err) != m2m.ReasonMalformed {
				t.Fatalf("ParseClaims(%q) = %v; want malformed", payload, err)
			}
			return
		}
		if sub, ok := c.Raw["sub"]; ok && sub != c.Subject || !ok && c.Subject != "" {
			t.Fatalf("Subject %q; Raw sub %v", c.Subject, c.Raw["sub"])
		}
		// exp = -62135596800 (year 1) is present but decodes to the zero time.
		exp, ok := c.Raw["exp"]
		if !ok && !c.ExpiresAt.IsZero() || ok && c.ExpiresAt.IsZero() && !isYearOne(exp) {
			t.Fatalf("ExpiresAt %v; Raw exp %v", c.ExpiresAt, c.Raw["exp"])
		}
		if c.ExpiresAt.Nanosecond() != 0 || c.NotBefore.Nanosecond() != 0 || c.IssuedAt.Nanosecond() != 0 {
			t.Fatalf("exp/nbf/iat not truncated: %v %v %v", c.ExpiresAt, c.NotBefore, c.IssuedAt)
		}
	})
}

// isYearOne reports whether v is a NumericDate that truncates to the zero
// time.Time's second.
func isYearOne(v any) bool {
	n, ok := v.(json.Number)
	if !ok {
		return false
	}
	f, err := strconv.ParseFloat(string(n), 64)
	return err == nil && math.Trunc(f) == -62135596800
}

// FuzzLoginHandler feeds arbitrary bodies to the login endpoint: it must
// answer 200 only for the right password, a 4xx JSON refusal otherwise,
// and never fail on the server side.
func FuzzLoginHandler(f *testing.F) {
	for _, s := range []string{`{"user":"alice","pass":"wonder:land"}`, `{"username":"alice","password":"wonder:land"}`,
		`{"user":"alice"}`, `{"user":"alice","pass":"nope"}`, `{"user":1}`, `[]`, ``, `{"user":"alice","pass":"x"} {}`, `{"user":"\u0000","pass":"\ud800"}`} {
		f.Add([]byte(s))
	}
	d := &jwtauth.DeviceTokens{Keys: []m2m.Secret{key1}}
	ok := jwtauth.PasswordFunc(func(_ context.Context, u, p string) (bool, error) { return u == "alice" && p == "wonder:land", nil })
	f.Fuzz(func(t *testing.T, body []byte) {
		// A fresh handler per input keeps the throttle out of the way.
		h := &jwtauth.LoginHandler{Users: ok, Tokens: d}
		r := httptest.NewRequest("POST", "/login", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var resp map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			t.Fatalf("body %q: response %q is not JSON", body, w.Body)
		}
		switch w.Code {
		case 200:
			tok, _ := resp["token"].(string)
			c, err := d.Verify(context.Background(), tok)
			if err != nil || c.Subject != "alice" {
				t.Fatalf("body %q: 200 with token %q: %v", body, tok, err)
			}
			var req map[string]any
			json.Unmarshal(body, &req)
			pass, _ := req["pass"].(string)
			if pass == "" {
				pass, _ = req["password"].(string)
			}
			if pass != "wonder:land" {
				t.Fatalf("body %q: 200 without the right password", body)
			}
		case 400, 401, 413:
			if resp["error"] == nil {
				t.Fatalf("body %q: %d without an error code", body, w.Code)
			}
		default:
			t.Fatalf("body %q: status %d", body, w.Code)
		}
	})
}
