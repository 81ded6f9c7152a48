package jwtauth_test

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/replay"
)

var dpopNow = time.Unix(1800000000, 0)

const dpopURL = "https://api.example.com/v1/things"

// jwkJSON returns the public JWK of pub as a JSON object.
func jwkJSON(t testing.TB, pub any) json.RawMessage {
	t.Helper()
	set, err := jwk.MarshalSet(pubKey(t, pub, ""))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Keys []map[string]any }
	if err := json.Unmarshal(set, &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc.Keys[0], "use")
	out, _ := json.Marshal(doc.Keys[0])
	return out
}

// proofSpec describes a proof; the zero fields of a case are filled with
// a valid ES256 proof for GET dpopURL at dpopNow.
type proofSpec struct {
	alg    string
	key    any            // signing key
	header map[string]any // the whole header; nil: alg, typ dpop+jwt, jwk of key
	claims map[string]any
}

func validClaims() map[string]any {
	return map[string]any{"jti": "proof-1-abcdefghijkl", "htm": "GET", "htu": dpopURL, "iat": dpopNow.Unix()}
}

func makeProof(t testing.TB, s proofSpec) string {
	t.Helper()
	if s.alg == "" {
		s.alg = "ES256"
	}
	if s.key == nil {
		s.key = testKeys.ec
	}
	if s.claims == nil {
		s.claims = validClaims()
	}
	if s.header == nil {
		s.header = map[string]any{"alg": s.alg, "typ": "dpop+jwt", "jwk": jwkJSON(t, publicOf(s.key))}
	}
	h, _ := json.Marshal(s.header)
	p, _ := json.Marshal(s.claims)
	proof, err := jws.Sign(s.alg, s.key, h, p)
	if err != nil {
		t.Fatal(err)
	}
	return proof
}

func publicOf(key any) any {
	if k, ok := key.(crypto.Signer); ok {
		return k.Public()
	}
	return nil
}

func ath(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// toHighS rewrites an ES256 proof's signature (r, s) as (r, n-s): the
// same proof, still valid, in its other spelling.
func toHighS(t testing.TB, proof string) string {
	t.Helper()
	i := strings.LastIndexByte(proof, '.')
	sig, err := base64.RawURLEncoding.DecodeString(proof[i+1:])
	if err != nil || len(sig) != 64 {
		t.Fatalf("bad ES256 signature")
	}
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(elliptic.P256().Params().N, s)
	s.FillBytes(sig[32:])
	return proof[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}

// innerReason is the specific reason of a refused proof.
func innerReason(err error) m2m.Reason {
	var ce *m2m.CredentialError
	if !errors.As(err, &ce) {
		return ""
	}
	if inner, ok := ce.Err.(*m2m.CredentialError); ok {
		return inner.Reason
	}
	return ce.Reason
}

func newDPoPVerifier() *jwtauth.DPoPVerifier {
	now := func() time.Time { return dpopNow }
	return &jwtauth.DPoPVerifier{Replay: &replay.Memory{Now: now}, Now: now}
}

func TestDPoPVerify(t *testing.T) {
	ecPub := pubKey(t, &testKeys.ec.PublicKey, "")
	privJWK := map[string]any{}
	_ = json.Unmarshal(jwkJSON(t, &testKeys.ec.PublicKey), &privJWK)
	privJWK["d"] = base64.RawURLEncoding.EncodeToString(testKeys.ec.D.Bytes())
	octJWK := map[string]any{"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}
	edJWK := jwkJSON(t, testKeys.ed.Public())
	const token = "the-access-token"

	tests := []struct {
		name    string
		proofs  func(*testing.T) []string
		req     func(*jwtauth.DPoPRequest)
		want    m2m.Reason // outer reason; "" means valid
		inner   m2m.Reason // the cause's reason
		wantJKT string
	}{
		{name: "ES256", wantJKT: ecPub.Thumbprint},
		{name: "ES256 high-S (WebCrypto, jose)", proofs: func(t *testing.T) []string { return []string{toHighS(t, makeProof(t, proofSpec{}))} }, wantJKT: ecPub.Thumbprint},
		{name: "EdDSA", proofs: func(t *testing.T) []string { return []string{makeProof(t, proofSpec{alg: "EdDSA", key: testKeys.ed})} }},
		{name: "RS256", proofs: func(t *testing.T) []string { return []string{makeProof(t, proofSpec{alg: "RS256", key: testKeys.rsa})} }},
		{name: "PS256", proofs: func(t *testing.T) []string { return []string{makeProof(t, proofSpec{alg: "PS256", key: testKeys.rsa})} }},
		{name: "htu with upper-case host and default port", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{claims: with(validClaims(), "htu", "HTTPS://API.Example.COM:443/v1/things")})}
		}},
		{name: "request URL with query", req: func(r *jwtauth.DPoPRequest) { r.URL = dpopURL + "?a=b#c" }},
		{name: "with token and jkt", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{claims: with(validClaims(), "ath", ath(token))})}
		}, req: func(r *jwtauth.DPoPRequest) { r.AccessToken, r.JKT = token, ecPub.Thumbprint }},

		{name: "no DPoP header", proofs: func(t *testing.T) []string { return nil }, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonMissing},
		{name: "two DPoP headers", proofs: func(t *testing.T) []string { p := makeProof(t, proofSpec{}); return []string{p, p} }, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonMalformed},
		{name: "too large", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{claims: with(validClaims(), "pad", strings.Repeat("x", 9000))})}
		}, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonTooLarge},
		{name: "line break", proofs: func(t *testing.T) []string { p := makeProof(t, proofSpec{}); return []string{p[:20] + "\n" + p[20:]} }, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonMalformed},
		{name: "typ JWT", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{header: map[string]any{"alg": "ES256", "typ": "JWT", "jwk": jwkJSON(t, &testKeys.ec.PublicKey)}})}
		}, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonMalformed},
		{name: "no typ", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{header: map[string]any{"alg": "ES256", "jwk": jwkJSON(t, &testKeys.ec.PublicKey)}})}
		}, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonMalformed},
		{name: "HS256", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{alg: "HS256", key: []byte("0123456789abcdef0123456789abcdef"), header: map[string]any{"alg": "HS256", "typ": "dpop+jwt", "jwk": octJWK}})}
		}, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonBadAlgorithm},
		{name: "alg outside the allow-list", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{alg: "RS384", key: testKeys.rsa})}
		}, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonBadAlgorithm},
		{name: "no jwk", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{header: map[string]any{"alg": "ES256", "typ": "dpop+jwt"}})}
		}, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonMalformed},
		{name: "jwk with private d", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{header: map[string]any{"alg": "ES256", "typ": "dpop+jwt", "jwk": privJWK}})}
		}, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonMalformed},
		{name: "jwk symmetric", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{header: map[string]any{"alg": "ES256", "typ": "dpop+jwt", "jwk": octJWK}})}
		}, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonMalformed},
		{name: "jwk type does not fit alg", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{header: map[string]any{"alg": "ES256", "typ": "dpop+jwt", "jwk": edJWK}})}
		}, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonBadAlgorithm},
		{name: "signed by another key", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{key: testKeys.other, header: map[string]any{"alg": "ES256", "typ": "dpop+jwt", "jwk": jwkJSON(t, &testKeys.ec.PublicKey)}})}
		}, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonBadSignature},
		{name: "htm in lower case", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{claims: with(validClaims(), "htm", "get")})}
		}, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonWrongAudience},
		{name: "other method", req: func(r *jwtauth.DPoPRequest) { r.Method = "POST" }, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonWrongAudience},
		{name: "no htm", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{claims: with(validClaims(), "htm", nil)})}
		}, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonMissingClaim},
		{name: "htm a number", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{claims: with(validClaims(), "htm", 1)})}
		}, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonMalformed},
		{name: "other path", req: func(r *jwtauth.DPoPRequest) { r.URL = "https://api.example.com/v1/things/2" }, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonWrongAudience},
		{name: "path case differs", req: func(r *jwtauth.DPoPRequest) { r.URL = "https://api.example.com/v1/Things" }, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonWrongAudience},
		{name: "other host", req: func(r *jwtauth.DPoPRequest) { r.URL = "https://evil.example.com/v1/things" }, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonWrongAudience},
		{name: "other scheme", req: func(r *jwtauth.DPoPRequest) { r.URL = "http://api.example.com/v1/things" }, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonWrongAudience},
		{name: "other port", req: func(r *jwtauth.DPoPRequest) { r.URL = "https://api.example.com:8443/v1/things" }, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonWrongAudience},
		{name: "htu with query", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{claims: with(validClaims(), "htu", dpopURL+"?a=b")})}
		}, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonMalformed},
		{name: "htu with fragment", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{claims: with(validClaims(), "htu", dpopURL+"#x")})}
		}, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonMalformed},
		{name: "htu relative", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{claims: with(validClaims(), "htu", "/v1/things")})}
		}, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonMalformed},
		{name: "htu with userinfo", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{claims: with(validClaims(), "htu", "https://u@api.example.com/v1/things")})}
		}, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonMalformed},
		{name: "no iat", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{claims: with(validClaims(), "iat", nil)})}
		}, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonMissingClaim},
		{name: "iat 61 s old", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{claims: with(validClaims(), "iat", dpopNow.Unix()-61)})}
		}, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonExpired},
		{name: "iat 60 s old", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{claims: with(validClaims(), "iat", dpopNow.Unix()-60)})}
		}},
		{name: "iat 5 s ahead", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{claims: with(validClaims(), "iat", dpopNow.Unix()+5)})}
		}},
		{name: "iat 6 s ahead", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{claims: with(validClaims(), "iat", dpopNow.Unix()+6)})}
		}, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonNotYetValid},
		{name: "no jti", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{claims: with(validClaims(), "jti", nil)})}
		}, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonMissingClaim},
		{name: "jti too long", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{claims: with(validClaims(), "jti", strings.Repeat("j", 129))})}
		}, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonMalformed},
		{name: "token but no ath", req: func(r *jwtauth.DPoPRequest) { r.AccessToken = token }, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonMissingClaim},
		{name: "ath of another token", proofs: func(t *testing.T) []string {
			return []string{makeProof(t, proofSpec{claims: with(validClaims(), "ath", ath("another"))})}
		}, req: func(r *jwtauth.DPoPRequest) { r.AccessToken = token }, want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonBadCredentials},
		{name: "token bound to another key", req: func(r *jwtauth.DPoPRequest) { r.JKT = pubKey(t, &testKeys.other.PublicKey, "").Thumbprint },
			want: m2m.ReasonInvalidDPoPProof, inner: m2m.ReasonBadCredentials},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := jwtauth.DPoPRequest{Method: "GET", URL: dpopURL}
			if tc.proofs != nil {
				req.Proofs = tc.proofs(t)
			} else {
				req.Proofs = []string{makeProof(t, proofSpec{})}
			}
			if tc.req != nil {
				tc.req(&req)
			}
			v := newDPoPVerifier()
			p, err := v.Verify(context.Background(), req)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Verify = %v; want valid", err)
				}
				if tc.wantJKT != "" && p.JKT != tc.wantJKT {
					t.Errorf("Verify().JKT = %q; want %q", p.JKT, tc.wantJKT)
				}
				if p.JKT == "" || p.Key.Public == nil || p.ID == "" {
					t.Errorf("Verify() = %+v; want a thumbprint, a key and a jti", p)
				}
				return
			}
			if got := m2m.ReasonOf(err); got != tc.want {
				t.Fatalf("Verify = %v; want reason %s", err, tc.want)
			}
			if got := innerReason(err); got != tc.inner {
				t.Errorf("Verify = %v; want cause %s, got %s", err, tc.inner, got)
			}
			var ce *m2m.CredentialError
			if errors.As(err, &ce); ce.Scheme != m2m.SchemeDPoP {
				t.Errorf("Verify error scheme = %q; want %q", ce.Scheme, m2m.SchemeDPoP)
			}
		})
	}
}

func TestDPoPReplay(t *testing.T) {
	v := newDPoPVerifier()
	proof := makeProof(t, proofSpec{})
	req := jwtauth.DPoPRequest{Proofs: []string{proof}, Method: "GET", URL: dpopURL}
	if _, err := v.Verify(context.Background(), req); err != nil {
		t.Fatalf("Verify(first use) = %v; want valid", err)
	}
	for name, p := range map[string]string{
		"same bytes": proof,
		// The other ECDSA spelling of the same proof is the same jti.
		"high-S spelling": toHighS(t, proof),
		// A new proof with the same key and jti.
		"new proof, same jti": makeProof(t, proofSpec{claims: with(validClaims(), "iat", dpopNow.Unix()-1)}),
	} {
		req.Proofs = []string{p}
		if _, err := v.Verify(context.Background(), req); innerReason(err) != m2m.ReasonReplayed {
			t.Errorf("Verify(%s) = %v; want replayed", name, err)
		}
	}
	// The same jti from another key is another proof.
	req.Proofs = []string{makeProof(t, proofSpec{key: testKeys.other})}
	if _, err := v.Verify(context.Background(), req); err != nil {
		t.Errorf("Verify(same jti, other key) = %v; want valid", err)
	}
}

// replayRecorder records the expiry a proof is kept until.
type replayRecorder struct {
	key    string
	expiry time.Time
}

func (r *replayRecorder) Use(_ context.Context, key string, expiry time.Time) (bool, error) {
	r.key, r.expiry = key, expiry
	return true, nil
}

func TestDPoPReplayKeptUntilWindowCloses(t *testing.T) {
	rec := &replayRecorder{}
	v := &jwtauth.DPoPVerifier{Replay: rec, Now: func() time.Time { return dpopNow }}
	req := jwtauth.DPoPRequest{Proofs: []string{makeProof(t, proofSpec{claims: with(validClaims(), "iat", dpopNow.Unix()-10)})}, Method: "GET", URL: dpopURL}
	p, err := v.Verify(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if want := dpopNow.Add(-10*time.Second + jwtauth.DefaultDPoPMaxAge + time.Second); !rec.expiry.Equal(want) {
		t.Errorf("replay expiry = %v; want %v (iat + MaxAge + 1 s)", rec.expiry, want)
	}
	if want := "dpop:" + p.JKT + ":proof-1-abcdefghijkl"; rec.key != want {
		t.Errorf("replay key = %q; want %q", rec.key, want)
	}
}

func TestDPoPNonce(t *testing.T) {
	now := dpopNow
	clock := func() time.Time { return now }
	nonces := &jwtauth.HMACNonces{Secrets: []m2m.Secret{m2m.Secret(strings.Repeat("s", 32))}, Window: time.Minute, Now: clock}
	v := &jwtauth.DPoPVerifier{Replay: &replay.Memory{Now: clock}, Nonces: nonces, Now: clock}
	ctx := context.Background()
	fresh, err := v.Nonce(ctx)
	if err != nil || fresh == "" {
		t.Fatalf("Nonce() = %q, %v", fresh, err)
	}
	otherSecret := &jwtauth.HMACNonces{Secrets: []m2m.Secret{m2m.Secret(strings.Repeat("o", 32))}, Window: time.Minute, Now: clock}
	foreign, _ := otherSecret.Nonce(ctx)
	tests := []struct {
		name  string
		nonce any
		age   time.Duration // how long after issuing the proof is checked
		want  m2m.Reason
	}{
		{name: "fresh nonce", nonce: fresh},
		{name: "nonce of the previous window", nonce: fresh, age: time.Minute},
		{name: "no nonce", want: m2m.ReasonUseDPoPNonce},
		{name: "stale nonce", nonce: fresh, age: 2 * time.Minute, want: m2m.ReasonUseDPoPNonce},
		{name: "nonce of another secret", nonce: foreign, want: m2m.ReasonUseDPoPNonce},
		{name: "garbage nonce", nonce: "not-a-nonce", want: m2m.ReasonUseDPoPNonce},
		{name: "nonce with a line break", nonce: fresh[:10] + "\n" + fresh[11:], want: m2m.ReasonUseDPoPNonce},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now = dpopNow.Add(tc.age)
			defer func() { now = dpopNow }()
			c := with(validClaims(), "nonce", tc.nonce, "iat", now.Unix())
			c["jti"] = "nonce-" + tc.name
			_, err := v.Verify(ctx, jwtauth.DPoPRequest{Proofs: []string{makeProof(t, proofSpec{claims: c})}, Method: "GET", URL: dpopURL})
			if got := m2m.ReasonOf(err); got != tc.want {
				t.Fatalf("Verify(nonce %v) = %v; want reason %q", tc.nonce, err, tc.want)
			}
		})
	}
	// Rotation: a nonce of the old secret is accepted while it is listed.
	rotated := &jwtauth.HMACNonces{Secrets: []m2m.Secret{m2m.Secret(strings.Repeat("n", 32)), nonces.Secrets[0]}, Window: time.Minute, Now: clock}
	if err := rotated.CheckNonce(ctx, fresh); err != nil {
		t.Errorf("CheckNonce(old secret's nonce) after rotation = %v; want nil", err)
	}
	if n, _ := rotated.Nonce(ctx); n == fresh {
		t.Errorf("Nonce() after rotation = the old secret's nonce")
	}
}

func TestDPoPConfigErrors(t *testing.T) {
	proof := []string{makeProof(t, proofSpec{})}
	for name, v := range map[string]*jwtauth.DPoPVerifier{
		"zero value":       {},
		"HMAC algorithm":   {Algorithms: []string{"ES256", "HS256"}, InsecureSkipReplayCheck: true},
		"empty algorithms": {Algorithms: []string{}, InsecureSkipReplayCheck: true},
		"negative MaxAge":  {MaxAge: -1, InsecureSkipReplayCheck: true},
	} {
		_, err := v.Verify(context.Background(), jwtauth.DPoPRequest{Proofs: proof, Method: "GET", URL: dpopURL})
		if err == nil || errors.Is(err, m2m.ErrInvalidCredentials) {
			t.Errorf("%s: Verify = %v; want a configuration error", name, err)
		}
	}
	v := newDPoPVerifier()
	if _, err := v.Verify(context.Background(), jwtauth.DPoPRequest{Proofs: proof, Method: "GET", URL: "/v1/things"}); err == nil || errors.Is(err, m2m.ErrInvalidCredentials) {
		t.Errorf("Verify(relative request URL) = %v; want a configuration error", err)
	}
	for name, n := range map[string]*jwtauth.HMACNonces{
		"no secret":    {},
		"short secret": {Secrets: []m2m.Secret{m2m.Secret("short")}},
	} {
		if _, err := n.Nonce(context.Background()); err == nil {
			t.Errorf("%s: Nonce() = nil error; want a configuration error", name)
		}
	}
}

func TestDPoPRequestURL(t *testing.T) {
	r := httptest.NewRequest("GET", "http://internal:8080/v1/a%2Fb?x=1", nil)
	r.Host = "evil.example.com"
	for _, base := range []string{"https://api.example.com", "https://api.example.com/"} {
		if got, want := jwtauth.DPoPRequestURL(base, r), "https://api.example.com/v1/a%2Fb"; got != want {
			t.Errorf("DPoPRequestURL(%q) = %q; want %q", base, got, want)
		}
	}
}
