package jwtauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/internal/jws/jwstest"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
)

// embeddedKey is the KeySource a DPoP proof (RFC 9449) uses: the public
// key in the proof's own header. It shows that later JWT kinds plug into
// the core with only their key source and claim rules.
var embeddedKey = jwtauth.KeyFunc(func(_ context.Context, h jwtauth.Header) ([]jwtauth.Key, error) {
	if h.JWK == "" {
		return nil, nil
	}
	k, err := jwk.ParseKey([]byte(h.JWK))
	if err != nil {
		return nil, m2m.Invalid(m2m.SchemeBearer, m2m.ReasonMalformed, "bad jwk header")
	}
	return []jwtauth.Key{jwtauth.PublicKey(*k)}, nil
})

func TestCoreEmbeddedKeySource(t *testing.T) {
	pub := pubKey(t, &testKeys.ec.PublicKey, "")
	jwkJSON, err := jwk.MarshalSet(pub)
	if err != nil {
		t.Fatal(err)
	}
	var set struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(jwkJSON, &set); err != nil {
		t.Fatal(err)
	}
	header := fmt.Sprintf(`{"alg":"ES256","typ":"dpop+jwt","jwk":%s}`, set.Keys[0])
	payload := `{"jti":"p1","htm":"GET","htu":"https://api.example/r","iat":1700000000}`
	proof, err := jws.Sign("ES256", testKeys.ec, []byte(header), []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	v := &jwtauth.Validator{Algorithms: []string{"ES256"}, Types: []string{"dpop+jwt"}, SkipIssuerCheck: true,
		SkipAudienceCheck: true, InsecureAllowMissingExpiry: true, RequiredClaims: []string{"jti", "htm", "htu", "iat"},
		Now: func() time.Time { return time.Unix(1700000000, 0) }}
	c, err := v.Verify(context.Background(), proof, embeddedKey)
	if err != nil {
		t.Fatalf("Verify(DPoP proof, embedded key) = %v; want valid", err)
	}
	if c.KeyThumbprint != pub.Thumbprint {
		t.Errorf("KeyThumbprint = %q; want %q (the jkt a DPoP binding compares)", c.KeyThumbprint, pub.Thumbprint)
	}
	// The same proof through a key source that does not read the header
	// key finds nothing: a token never picks its own key otherwise.
	if _, err := v.Verify(context.Background(), proof, jwtauth.PublicKeys(jwk.NewStaticKeySet(jwk.NewSet(pubKey(t, &testKeys.other.PublicKey, ""))))); m2m.ReasonOf(err) != m2m.ReasonBadSignature {
		t.Errorf("Verify(DPoP proof, other key set) = %v; want bad_signature", err)
	}
	// A jwk header that is not an object is malformed.
	bad, _ := jws.Sign("ES256", testKeys.ec, []byte(`{"alg":"ES256","jwk":"x"}`), []byte(payload))
	if _, err := v.Verify(context.Background(), bad, embeddedKey); m2m.ReasonOf(err) != m2m.ReasonMalformed {
		t.Errorf("Verify(jwk header a string) = %v; want malformed", err)
	}
}

func TestCoreAudienceModes(t *testing.T) {
	now := func() time.Time { return time.Unix(1700000000, 0) }
	tests := []struct {
		name   string
		v      jwtauth.Validator
		claims string
		reason m2m.Reason
	}{
		{"any audience, one named", jwtauth.Validator{AcceptAnyAudience: true}, `{"exp":1700000100,"aud":"x"}`, ""},
		{"any audience, none", jwtauth.Validator{AcceptAnyAudience: true}, `{"exp":1700000100}`, ""},
		{"skip audience, one named", jwtauth.Validator{SkipAudienceCheck: true}, `{"exp":1700000100,"aud":"x"}`, m2m.ReasonWrongAudience},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.v
			v.Algorithms, v.SkipIssuerCheck, v.Now = []string{"HS256"}, true, now
			_, err := v.Verify(context.Background(), sign(t, "HS256", key1, tt.claims), jwtauth.Secrets(key1))
			if m2m.ReasonOf(err) != tt.reason || (tt.reason == "" && err != nil) {
				t.Errorf("Verify = %v; want reason %q", err, tt.reason)
			}
		})
	}
	both := jwtauth.Validator{Algorithms: []string{"HS256"}, SkipIssuerCheck: true, SkipAudienceCheck: true, AcceptAnyAudience: true}
	if _, err := both.Verify(context.Background(), sign(t, "HS256", key1, `{"exp":1700000100}`), jwtauth.Secrets(key1)); err == nil || !strings.Contains(err.Error(), "AcceptAnyAudience") {
		t.Errorf("Verify with both audience switches = %v; want a configuration error", err)
	}
}

func TestCoreVerifySignatureSkipsClaims(t *testing.T) {
	v := &jwtauth.Validator{Algorithms: []string{"HS256"}, Issuer: "https://i", Audience: []string{"api"},
		Now: func() time.Time { return time.Unix(1700000000, 0) }}
	expired := sign(t, "HS256", key1, `{"exp":1600000000,"jti":"j"}`)
	if _, err := v.Verify(context.Background(), expired, jwtauth.Secrets(key1)); m2m.ReasonOf(err) != m2m.ReasonExpired {
		t.Fatalf("Verify(expired) = %v; want expired", err)
	}
	c, err := v.VerifySignature(context.Background(), expired, jwtauth.Secrets(key1))
	if err != nil || c.ID != "j" {
		t.Fatalf("VerifySignature(expired) = %v, %v; want its claims", c, err)
	}
	if _, err := v.VerifySignature(context.Background(), expired, jwtauth.Secrets(key2)); m2m.ReasonOf(err) != m2m.ReasonBadSignature {
		t.Errorf("VerifySignature(wrong key) = %v; want bad_signature", err)
	}
}

func TestKeyStringRedacts(t *testing.T) {
	k := jwtauth.SecretKey(m2m.Secret("a-very-secret-value-of-32-bytes!"))
	for _, s := range []string{k.String(), fmt.Sprintf("%v", k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k)} {
		if strings.Contains(s, "very-secret") {
			t.Errorf("formatted Key = %q; reveals the secret", s)
		}
	}
}

// TestOneSpellingEveryPath checks that the parser's one-spelling rules
// reach every verifier built on the core: a line break anywhere and a
// high-S twin are refused by Validator, AccessTokens and DeviceTokens,
// and AllowHighS is the only way to accept the twin.
func TestOneSpellingEveryPath(t *testing.T) {
	ctx := context.Background()
	es := mint(t, "ES256", "k1", "", testKeys.ec, baseClaims())
	twin := jwstest.HighSTwin(t, es)
	newAT := func(allowHighS bool) *jwtauth.AccessTokens {
		at, err := jwtauth.NewAccessTokens(jwtauth.Config{Issuer: testIss, Audiences: []string{testAud}, Algorithms: []string{"ES256"},
			Keys: jwk.NewStaticKeySet(jwk.NewSet(pubKey(t, &testKeys.ec.PublicKey, "k1"))), AllowHighS: allowHighS,
			Now: func() time.Time { return time.Unix(1700000100, 0) }})
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	strict, lenient := newAT(false), newAT(true)
	if _, err := strict.VerifyToken(ctx, es); err != nil {
		t.Fatalf("AccessTokens.VerifyToken(low-S) = %v", err)
	}
	if _, err := strict.VerifyToken(ctx, twin); m2m.ReasonOf(err) != m2m.ReasonBadSignature {
		t.Errorf("AccessTokens.VerifyToken(high-S twin) = %v; want bad_signature", err)
	}
	if _, err := lenient.VerifyToken(ctx, twin); err != nil {
		t.Errorf("AccessTokens{AllowHighS}.VerifyToken(high-S twin) = %v; want valid", err)
	}
	for _, bad := range []string{es[:20] + "\n" + es[20:], es + "\r\n", strings.Replace(es, ".", ".\r\n", 1)} {
		if _, err := strict.VerifyToken(ctx, bad); m2m.ReasonOf(err) != m2m.ReasonMalformed {
			t.Errorf("AccessTokens.VerifyToken(%q) = %v; want malformed", bad, err)
		}
	}

	v := &jwtauth.Validator{Algorithms: []string{"ES256"}, Issuer: testIss, Audience: []string{testAud},
		Now: func() time.Time { return time.Unix(1700000100, 0) }}
	keys := jwtauth.PublicKeys(jwk.NewStaticKeySet(jwk.NewSet(pubKey(t, &testKeys.ec.PublicKey, "k1"))))
	if _, err := v.Verify(ctx, twin, keys); m2m.ReasonOf(err) != m2m.ReasonBadSignature {
		t.Errorf("Validator.Verify(high-S twin) = %v; want bad_signature", err)
	}
	v.AllowHighS = true
	if _, err := v.Verify(ctx, twin, keys); err != nil {
		t.Errorf("Validator{AllowHighS}.Verify(high-S twin) = %v; want valid", err)
	}

	d := &jwtauth.DeviceTokens{Keys: []m2m.Secret{key1}, Now: func() time.Time { return t0 }}
	tok, err := d.Issue("cam")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Verify(ctx, tok+"\n"); m2m.ReasonOf(err) != m2m.ReasonMalformed {
		t.Errorf("DeviceTokens.Verify(token + newline) = %v; want malformed", err)
	}
}

// TestScopesReadOneWay is the regression test of issue 13 item 1: scope
// claims are split on ASCII spaces only and every token must be an RFC
// 6749 scope token, in every profile and claim that carries scopes.
func TestScopesReadOneWay(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		profile jwtauth.Profile
		claims  map[string]any
		reason  m2m.Reason // "" when valid
		scopes  []string
	}{
		{"NBSP is not a separator", jwtauth.ProfileRFC9068, with(baseClaims(), "scope", "read\u00a0admin"), m2m.ReasonMalformed, nil},
		{"tab is not a separator", jwtauth.ProfileGeneric, with(baseClaims(), "scope", "read\tadmin"), m2m.ReasonMalformed, nil},
		{"line feed", jwtauth.ProfileAuth0, with(baseClaims(), "scope", "read\nadmin"), m2m.ReasonMalformed, nil},
		{"quote in a token", jwtauth.ProfileGeneric, with(baseClaims(), "scope", `read "admin"`), m2m.ReasonMalformed, nil},
		{"spaces only separate", jwtauth.ProfileGeneric, with(baseClaims(), "scope", " read  admin "), "", []string{"read", "admin"}},
		{"scp string with NBSP", jwtauth.ProfileGeneric, with(baseClaims(), "scope", nil, "scp", "read\u00a0admin"), m2m.ReasonMalformed, nil},
		{"scp array element with a space", jwtauth.ProfileGeneric, with(baseClaims(), "scope", nil, "scp", []any{"read admin"}), m2m.ReasonMalformed, nil},
		{"scp array element empty", jwtauth.ProfileGeneric, with(baseClaims(), "scope", nil, "scp", []any{""}), m2m.ReasonMalformed, nil},
		{"scp array", jwtauth.ProfileGeneric, with(baseClaims(), "scope", nil, "scp", []any{"read", "admin"}), "", []string{"read", "admin"}},
		{"auth0 permission with NBSP", jwtauth.ProfileAuth0, with(baseClaims(), "scope", "read", "permissions", []any{"x\u00a0admin"}), m2m.ReasonMalformed, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ := ""
			if tt.profile == jwtauth.ProfileRFC9068 {
				typ = "at+jwt"
			}
			tok := mint(t, "ES256", "k1", typ, testKeys.ec, tt.claims)
			at, err := jwtauth.NewAccessTokens(jwtauth.Config{Issuer: testIss, Audiences: []string{testAud}, Algorithms: []string{"ES256"},
				Keys: jwk.NewStaticKeySet(jwk.NewSet(pubKey(t, &testKeys.ec.PublicKey, "k1"))), Profile: tt.profile,
				Now: func() time.Time { return time.Unix(1700000100, 0) }})
			if err != nil {
				t.Fatal(err)
			}
			vt, err := at.VerifyToken(ctx, tok)
			if tt.reason != "" {
				if m2m.ReasonOf(err) != tt.reason {
					t.Fatalf("VerifyToken = %v; want %s", err, tt.reason)
				}
				// Nor does it pass RequireScope("admin") through the
				// middleware's Verify.
				if p, err := at.CheckToken(httptest.NewRequest("GET", "/", nil), tok); err == nil && p.HasScope("admin") {
					t.Fatalf("CheckToken = %v with scopes %v; want a refusal", p, p.Scopes)
				}
				return
			}
			if err != nil {
				t.Fatalf("VerifyToken = %v; want valid", err)
			}
			if !slices.Equal(vt.Scopes, tt.scopes) {
				t.Errorf("Scopes = %q; want %q", vt.Scopes, tt.scopes)
			}
		})
	}
}
