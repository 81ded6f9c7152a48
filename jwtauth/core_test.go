package jwtauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/internal/jws"
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
