package federation_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2mkit/m2m/federation"
	"github.com/m2mkit/m2m/federation/federationtest"
	"github.com/m2mkit/m2m/store"
)

// policyList is a PolicySource over a slice that a test may change.
type policyList struct {
	mu    sync.Mutex
	list  []*store.TrustPolicy
	reads int
}

func (l *policyList) ListTrustPolicies(context.Context) ([]*store.TrustPolicy, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reads++
	out := make([]*store.TrustPolicy, len(l.list))
	for i, p := range l.list {
		out[i] = p.Clone()
	}
	return out, nil
}

func (l *policyList) set(ps ...*store.TrustPolicy) {
	l.mu.Lock()
	l.list = ps
	l.mu.Unlock()
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Unix(1_800_000_000, 0)} }

// fixture is an issuer, its policies and a verifier.
type fixture struct {
	iss      *federationtest.Issuer
	policies *policyList
	clock    *clock
	v        *federation.Verifier
}

func basePolicy(iss *federationtest.Issuer) *store.TrustPolicy {
	return &store.TrustPolicy{
		Name:      "ci",
		Issuer:    iss.URL,
		Audiences: []string{"m2m"},
		Subject:   "repo:acme/app:ref:refs/heads/*",
		Claims:    map[string]string{"repository_owner_id": "42"},
		ClientID:  "deployer",
	}
}

func newFixture(t *testing.T, mod func(*federation.Config), policies ...*store.TrustPolicy) *fixture {
	t.Helper()
	return newFixtureTB(t, mod, policies...)
}

func newFixtureTB(t testing.TB, mod func(*federation.Config), policies ...*store.TrustPolicy) *fixture {
	t.Helper()
	f := &fixture{iss: federationtest.NewIssuer(t), policies: &policyList{}, clock: newClock()}
	f.iss.SetNow(f.clock.Now)
	if len(policies) == 0 {
		policies = []*store.TrustPolicy{basePolicy(f.iss)}
	}
	for _, p := range policies {
		if p.Issuer == "" {
			p.Issuer = f.iss.URL
		}
	}
	f.policies.set(policies...)
	cfg := federation.Config{
		Policies:     f.policies,
		Client:       f.iss.HTTPClient(),
		Now:          f.clock.Now,
		FetchTimeout: 2 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	v, err := federation.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.v = v
	return f
}

// good are the claims of a token the base policy accepts.
func good() map[string]any {
	return map[string]any{
		"aud":                 "m2m",
		"sub":                 "repo:acme/app:ref:refs/heads/main",
		"repository_owner_id": 42,
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func TestVerifyAccepts(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.iss.Token(good())
	m, err := f.v.Verify(context.Background(), tok, nil)
	if err != nil {
		t.Fatalf("Verify = %v; want a match", err)
	}
	if m.ClientID != "deployer" || m.Policy.Name != "ci" || m.Subject != "repo:acme/app:ref:refs/heads/main" || m.Issuer != f.iss.URL {
		t.Errorf("Verify = %+v; want policy ci, client deployer", m)
	}
	if want := f.clock.Now().Add(5 * time.Minute); !m.Expiry.Equal(want) {
		t.Errorf("Expiry = %v; want %v", m.Expiry, want)
	}
	if m.JTI == "" || !strings.HasPrefix(m.ReplayKey, "federation:") {
		t.Errorf("JTI = %q, ReplayKey = %q; want both set", m.JTI, m.ReplayKey)
	}
	// Verified again: keys come from the cache.
	if _, err := f.v.Verify(context.Background(), f.iss.Token(good()), nil); err != nil {
		t.Fatal(err)
	}
	if n := f.iss.Fetches(federationtest.JWKSPath); n != 1 {
		t.Errorf("JWKS fetched %d times; want 1 (cached)", n)
	}
	if n := f.iss.Fetches(federationtest.DiscoveryPath); n != 1 {
		t.Errorf("discovery fetched %d times; want 1 (cached)", n)
	}
}

func TestVerifyWithoutJTIHashesSignedPart(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.iss.Token(with(good(), "jti", nil))
	m, err := f.v.Verify(context.Background(), tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.JTI, "sha256:") {
		t.Errorf("JTI = %q; want a sha256: hash", m.JTI)
	}
	m2, err := f.v.Verify(context.Background(), tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m2.JTI != m.JTI || m2.ReplayKey != m.ReplayKey {
		t.Errorf("JTI differs between two verifications of one token")
	}
}

func TestVerifyRefusals(t *testing.T) {
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		token func(f *fixture) string
		rule  federation.Rule
		claim string
	}{
		{"malformed", func(*fixture) string { return "not.a.jwt" }, federation.RuleMalformed, ""},
		{"too large", func(*fixture) string { return strings.Repeat("a", federation.DefaultMaxTokenBytes+1) }, federation.RuleMalformed, ""},
		{"unknown issuer", func(f *fixture) string { return f.iss.Token(with(good(), "iss", "https://elsewhere.example")) }, federation.RuleNoPolicy, ""},
		{"no issuer", func(f *fixture) string { return f.iss.Token(with(good(), "iss", nil)) }, federation.RuleNoPolicy, ""},
		{"bad signature", func(f *fixture) string {
			return federationtest.Sign(otherKey, f.iss.KeyID(), with(good(), "iss", f.iss.URL, "exp", f.clock.Now().Add(time.Minute).Unix()))
		}, federation.RuleSignature, ""},
		{"unknown kid", func(f *fixture) string {
			return federationtest.Sign(otherKey, "nope", with(good(), "iss", f.iss.URL, "exp", f.clock.Now().Add(time.Minute).Unix()))
		}, federation.RuleSignature, ""},
		{"hs256", func(f *fixture) string {
			// header {"alg":"HS256","typ":"JWT"}
			return "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + payload(f) + ".c2ln"
		}, federation.RuleSignature, ""},
		{"alg none", func(f *fixture) string {
			return "eyJhbGciOiJub25lIn0." + payload(f) + "."
		}, federation.RuleMalformed, ""},
		{"wrong audience", func(f *fixture) string { return f.iss.Token(with(good(), "aud", "sts.amazonaws.com")) }, federation.RuleAudience, ""},
		{"no audience", func(f *fixture) string { return f.iss.Token(with(good(), "aud", nil)) }, federation.RuleAudience, ""},
		{"wrong subject", func(f *fixture) string {
			return f.iss.Token(with(good(), "sub", "repo:acme/other:ref:refs/heads/main"))
		}, federation.RuleSubject, ""},
		{"no subject", func(f *fixture) string { return f.iss.Token(with(good(), "sub", nil)) }, federation.RuleSubject, ""},
		{"wrong claim", func(f *fixture) string { return f.iss.Token(with(good(), "repository_owner_id", 43)) }, federation.RuleClaim, "repository_owner_id"},
		{"missing claim", func(f *fixture) string { return f.iss.Token(with(good(), "repository_owner_id", nil)) }, federation.RuleClaim, "repository_owner_id"},
		{"claim not a scalar", func(f *fixture) string {
			return f.iss.Token(with(good(), "repository_owner_id", []any{42}))
		}, federation.RuleClaim, "repository_owner_id"},
		{"expired", func(f *fixture) string {
			return f.iss.Token(with(good(), "exp", f.clock.Now().Add(-time.Hour).Unix(), "iat", f.clock.Now().Add(-2*time.Hour).Unix()))
		}, federation.RuleExpiry, ""},
		{"no exp", func(f *fixture) string { return f.iss.Token(with(good(), "exp", nil)) }, federation.RuleExpiry, ""},
		{"issued in the future", func(f *fixture) string {
			return f.iss.Token(with(good(), "iat", f.clock.Now().Add(time.Hour).Unix(), "exp", f.clock.Now().Add(2*time.Hour).Unix()))
		}, federation.RuleExpiry, ""},
		{"not yet valid", func(f *fixture) string { return f.iss.Token(with(good(), "nbf", f.clock.Now().Add(time.Hour).Unix())) }, federation.RuleExpiry, ""},
		{"lifetime too long", func(f *fixture) string {
			return f.iss.Token(with(good(), "exp", f.clock.Now().Add(25*time.Hour).Unix()))
		}, federation.RuleLifetime, ""},
		{"lifetime too long without iat", func(f *fixture) string {
			return f.iss.Token(with(good(), "iat", nil, "exp", f.clock.Now().Add(25*time.Hour).Unix()))
		}, federation.RuleLifetime, ""},
	}
	f := newFixture(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.v.Verify(context.Background(), tt.token(f), nil)
			var rf *federation.Refusal
			if !errors.As(err, &rf) {
				t.Fatalf("Verify = %v; want a *Refusal", err)
			}
			if rf.Rule != tt.rule || rf.Claim != tt.claim {
				t.Errorf("Verify = rule %q claim %q (%v); want rule %q claim %q", rf.Rule, rf.Claim, rf, tt.rule, tt.claim)
			}
		})
	}
}

// payload is a base64url claims set the base policy would accept.
func payload(f *fixture) string {
	tok := f.iss.Token(good())
	return strings.Split(tok, ".")[1]
}

func TestPolicyChangesSeenWithinTTL(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.iss.Token(good())
	if _, err := f.v.Verify(context.Background(), tok, nil); err != nil {
		t.Fatal(err)
	}
	f.policies.set() // the policy is deleted
	if _, err := f.v.Verify(context.Background(), tok, nil); err != nil {
		t.Fatalf("Verify within the cache TTL = %v; want the cached policy to match", err)
	}
	f.clock.Add(federation.DefaultPolicyCacheTTL)
	_, err := f.v.Verify(context.Background(), tok, nil)
	var rf *federation.Refusal
	if !errors.As(err, &rf) || rf.Rule != federation.RuleNoPolicy {
		t.Fatalf("Verify after the TTL = %v; want no_policy", err)
	}
	f.policies.set(basePolicy(f.iss))
	f.v.Invalidate()
	if _, err := f.v.Verify(context.Background(), tok, nil); err != nil {
		t.Fatalf("Verify after Invalidate = %v; want a match", err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	_, err := federation.New(federation.Config{Algorithms: []string{"HS256", "none"}, Client: &http.Client{Transport: roundTripperFunc(nil)},
		MaxDocumentBytes: 1 << 30, FetchTimeout: -1})
	if err == nil {
		t.Fatal("New = nil; want an error")
	}
	for _, want := range []string{"no Policies", `"HS256"`, `"none"`, "Client.Transport", "MaxDocumentBytes", "FetchTimeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("New = %v; want it to mention %s", err, want)
		}
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// FuzzVerify: no token, however made, panics or is accepted unless it is
// the issuer's.
func FuzzVerify(f *testing.F) {
	iss := federationtest.NewIssuer(f)
	p := basePolicy(iss)
	p.JWKS = iss.JWKS() // no fetches while fuzzing
	v, err := federation.New(federation.Config{Policies: federation.StaticPolicies{p}})
	if err != nil {
		f.Fatal(err)
	}
	iss.SetNow(time.Now)
	good := iss.Token(good())
	f.Add(good)
	f.Add(good[:len(good)-2])
	f.Add("e30.e30.")
	f.Add("eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOjF9.AAAA")
	f.Fuzz(func(t *testing.T, token string) {
		m, err := v.Verify(context.Background(), token, []string{"x"})
		// (Another spelling of the same ECDSA signature is the same token.)
		if err == nil && !strings.HasPrefix(token, good[:strings.LastIndex(good, ".")+1]) {
			t.Errorf("Verify accepted a token the issuer did not sign: %+v", m)
		}
		var rf *federation.Refusal
		if err != nil && !errors.As(err, &rf) {
			t.Errorf("Verify = %v; want a *Refusal", err)
		}
	})
}
