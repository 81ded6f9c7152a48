package authserver_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/federation"
	"github.com/m2mkit/m2m/federation/federationtest"
	"github.com/m2mkit/m2m/internal/testbackend"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/keyring"
	"github.com/m2mkit/m2m/ratelimit"
	"github.com/m2mkit/m2m/redisstore"
	"github.com/m2mkit/m2m/replay"
	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/memstore"
	"github.com/m2mkit/m2m/store/sqlstore"
)

// fedAudience is the audience the trust policies want in external tokens
// (what a GitHub workflow would request its token for).
const fedAudience = "https://auth.test"

// fedFixture is the real token server with a federation verifier, an
// external OIDC issuer over HTTPS (test CA), and clients and trust
// policies created through the store.
type fedFixture struct {
	issuer   *federationtest.Issuer
	srv      *httptest.Server
	as       *authserver.Server
	st       *memstore.Store
	kr       *keyring.Keyring
	policies store.TrustPolicies // the client store's
	now      atomic.Int64
	logs     *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fedOptions struct {
	st           store.Clients
	replay       m2m.ReplayCache
	failureLimit ratelimit.Limit
	rateLimit    ratelimit.Limit
	// cachePolicies keeps the policies for federation's default TTL, as
	// a running server does; by default every token reads them.
	cachePolicies bool
	// issuer, when set, is an issuer whose clients and policies another
	// fixture on the same store made (a second replica).
	issuer *federationtest.Issuer
	// adminTokenHash, when set, turns the admin API on.
	adminTokenHash []byte
}

func newFedFixture(t testing.TB, o fedOptions) *fedFixture {
	t.Helper()
	f := &fedFixture{issuer: o.issuer, logs: &syncBuffer{}}
	second := f.issuer != nil
	if !second {
		f.issuer = federationtest.NewIssuer(t)
	}
	f.now.Store(time.Now().Truncate(time.Second).UnixNano())
	clock := func() time.Time { return time.Unix(0, f.now.Load()) }
	f.issuer.SetNow(clock)
	ctx := context.Background()
	f.st = memstore.New()
	clients := o.st
	if clients == nil {
		clients = f.st
	}
	var err error
	f.kr, err = keyring.New(ctx, keyring.Config{Store: f.st, Master: []byte(strings.Repeat("f", 32)), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	f.policies = clients.(store.TrustPolicies)
	if !second {
		f.addClients(t, clients)
	}
	policyTTL := time.Duration(-1)
	if o.cachePolicies {
		policyTTL = 0
	}
	fv, err := federation.New(federation.Config{Policies: f.policies, Clients: clients, Client: f.issuer.HTTPClient(),
		PolicyCacheTTL: policyTTL, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewUnstartedServer(nil)
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	f.as, err = authserver.New(authserver.Config{Issuer: f.srv.URL, Clients: clients, Signer: f.kr, Federation: fv,
		ClientAssertionReplay: o.replay, FailureLimit: o.failureLimit, RateLimit: o.rateLimit, ClientCacheTTL: -1, Now: clock,
		AdminTokenHash: o.adminTokenHash, Logger: slog.New(slog.NewJSONHandler(f.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	f.srv.Config.Handler = f.as.Handler()
	return f
}

// addClients registers the clients the policies map to, and the policies.
func (f *fedFixture) addClients(t testing.TB, st store.Clients) {
	t.Helper()
	for _, c := range []*store.Client{
		{ID: "deployer", Name: "deployer", Audiences: []string{"https://api.example.com"}, Scopes: []string{"deploy", "read"}},
		{ID: "reader", Name: "reader", Audiences: []string{"https://reports.example.com"}, Scopes: []string{"read"}},
		{ID: "off", Name: "off", Audiences: []string{"https://api.example.com"}, Scopes: []string{"read"}, Disabled: true},
	} {
		if _, err := authserver.CreateClient(context.Background(), st, c, nil); err != nil {
			t.Fatal(err)
		}
	}
	iss := f.issuer.URL
	for _, p := range []*store.TrustPolicy{
		{Name: "deploy", Issuer: iss, Audiences: []string{fedAudience}, Subject: "repo:acme/app:ref:refs/heads/main",
			Claims: map[string]string{"repository_owner_id": "42"}, ClientID: "deployer", Scopes: []string{"deploy"}, MaxTTL: 10 * time.Minute},
		{Name: "single", Issuer: iss, Audiences: []string{"https://single.test"}, Subject: "repo:acme/app:*", ClientID: "deployer", SingleUse: true},
		{Name: "amb-a", Issuer: iss, Audiences: []string{"https://amb.test"}, Subject: "job:*", ClientID: "deployer"},
		{Name: "amb-b", Issuer: iss, Audiences: []string{"https://amb.test"}, Subject: "job:*", ClientID: "reader"},
		{Name: "off", Issuer: iss, Audiences: []string{"https://off.test"}, Subject: "job:*", ClientID: "off"},
	} {
		if err := f.policies.CreateTrustPolicy(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fedFixture) clock() time.Time { return time.Unix(0, f.now.Load()) }

// goodClaims are the claims of a token the "deploy" policy accepts.
func goodClaims() map[string]any {
	return map[string]any{"aud": fedAudience, "sub": "repo:acme/app:ref:refs/heads/main", "repository_owner_id": "42"}
}

func with(claims map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range claims {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// The three ways to present an external token.
var fedGrants = []string{"client_assertion", "jwt_bearer", "token_exchange"}

func fedForm(via, token string, extra url.Values) url.Values {
	v := url.Values{}
	switch via {
	case "client_assertion":
		v.Set("grant_type", "client_credentials")
		v.Set("client_assertion_type", authserver.ClientAssertionType)
		v.Set("client_assertion", token)
	case "jwt_bearer":
		v.Set("grant_type", authserver.GrantTypeJWTBearer)
		v.Set("assertion", token)
	case "token_exchange":
		v.Set("grant_type", authserver.GrantTypeTokenExchange)
		v.Set("subject_token", token)
		v.Set("subject_token_type", authserver.TokenTypeJWT)
	}
	for k, vs := range extra {
		v[k] = vs
	}
	return v
}

func (f *fedFixture) post(t testing.TB, form url.Values) (int, map[string]any) {
	t.Helper()
	return postForm(t, f.srv.URL, form)
}

func postForm(t testing.TB, base string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(base+"/oauth/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("token endpoint answered %d %q", resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

// verify checks an issued token with the server's keys and returns its
// claims.
func (f *fedFixture) verify(t testing.TB, tok string) map[string]any {
	t.Helper()
	keys, _ := f.kr.PublicKeys()
	v := jwtauth.Validator{Algorithms: []string{"ES256"}, Issuer: f.srv.URL, AcceptAnyAudience: true, Types: []string{"at+jwt"}, Now: f.clock}
	c, err := v.Verify(context.Background(), tok, jwtauth.PublicKeys(jwk.NewStaticKeySet(keys)))
	if err != nil {
		t.Fatalf("the issued token does not verify: %v", err)
	}
	return c.Raw
}

func TestFederatedGrants(t *testing.T) {
	f := newFedFixture(t, fedOptions{})
	for _, via := range fedGrants {
		t.Run(via, func(t *testing.T) {
			ext := f.issuer.Token(goodClaims())
			status, body := f.post(t, fedForm(via, ext, url.Values{"audience": {"https://api.example.com"}}))
			if status != http.StatusOK {
				t.Fatalf("status %d %v; want 200", status, body)
			}
			if body["scope"] != "deploy" {
				t.Errorf("scope = %v; want the policy's scopes, deploy", body["scope"])
			}
			// The issued token lives no longer than the policy's MaxTTL
			// (10 minutes) nor the external token (5 minutes).
			if body["expires_in"] != float64(300) {
				t.Errorf("expires_in = %v; want 300 (the external token's remaining life)", body["expires_in"])
			}
			wantType := any(nil)
			if via == "token_exchange" {
				wantType = authserver.TokenTypeAccessToken
			}
			if body["issued_token_type"] != wantType {
				t.Errorf("issued_token_type = %v; want %v", body["issued_token_type"], wantType)
			}
			claims := f.verify(t, body["access_token"].(string))
			if claims["sub"] != "deployer" || claims["aud"] != "https://api.example.com" {
				t.Errorf("sub, aud = %v, %v; want deployer, https://api.example.com", claims["sub"], claims["aud"])
			}
			act, _ := claims["act"].(map[string]any)
			if act["iss"] != f.issuer.URL || act["sub"] != "repo:acme/app:ref:refs/heads/main" {
				t.Errorf("act = %v; want the external identity", claims["act"])
			}
			exp, _ := claims["exp"].(json.Number).Int64()
			if exp > f.clock().Add(5*time.Minute).Unix() {
				t.Errorf("exp %d outlives the external token", exp)
			}
		})
	}
	t.Run("scope within the policy", func(t *testing.T) {
		ext := f.issuer.Token(goodClaims())
		status, body := f.post(t, fedForm("jwt_bearer", ext, url.Values{"scope": {"read"}}))
		if status != http.StatusBadRequest || body["error"] != "invalid_scope" {
			t.Errorf("scope read (the client's, not the policy's): %d %v; want 400 invalid_scope", status, body)
		}
	})
	t.Run("audience picks among policies", func(t *testing.T) {
		ext := f.issuer.Token(with(goodClaims(), "aud", "https://amb.test", "sub", "job:anything"))
		status, body := f.post(t, fedForm("token_exchange", ext, url.Values{"resource": {"https://reports.example.com"}}))
		if status != http.StatusOK {
			t.Fatalf("status %d %v; want 200", status, body)
		}
		if c := f.verify(t, body["access_token"].(string)); c["sub"] != "reader" {
			t.Errorf("sub = %v; want reader (the policy whose client takes the audience)", c["sub"])
		}
	})
	t.Run("client_id names the policy's client", func(t *testing.T) {
		ext := f.issuer.Token(goodClaims())
		status, _ := f.post(t, fedForm("client_assertion", ext, url.Values{"client_id": {"deployer"}}))
		if status != http.StatusOK {
			t.Errorf("client_id deployer: status %d; want 200", status)
		}
		status, body := f.post(t, fedForm("client_assertion", f.issuer.Token(goodClaims()), url.Values{"client_id": {"reader"}}))
		if status != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Errorf("client_id reader: %d %v; want 401 invalid_client", status, body)
		}
	})
	t.Run("a token may be presented again", func(t *testing.T) {
		ext := f.issuer.Token(goodClaims())
		for i := range 2 {
			if status, body := f.post(t, fedForm("jwt_bearer", ext, nil)); status != http.StatusOK {
				t.Fatalf("use %d: %d %v; want 200 (the policy is not single-use)", i, status, body)
			}
		}
	})
	if strings.Contains(f.logs.String(), "eyJ") {
		t.Errorf("the log shows a token")
	}
}

// TestFederatedRefusals presents a token that fails each rule in each
// of the three ways, and wants the plain RFC error (invalid_client for a
// client assertion, invalid_grant for the grants) with the rule only in
// the log.
func TestFederatedRefusals(t *testing.T) {
	f := newFedFixture(t, fedOptions{failureLimit: ratelimit.Limit{Rate: 1000, Burst: 1000}})
	other := federationtest.NewIssuer(t) // trusted by no policy
	forged, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := f.clock()
	tests := []struct {
		name, reason string
		token        func() string
		extra        url.Values
		wantCode     string // for the grants; "" means invalid_grant
	}{
		{"wrong issuer", "federation_no_policy", func() string { return other.Token(goodClaims()) }, nil, ""},
		{"bad signature", "federation_signature", func() string {
			return federationtest.Sign(forged, f.issuer.KeyID(), with(goodClaims(), "iss", f.issuer.URL, "exp", now.Add(time.Minute).Unix()))
		}, nil, ""},
		{"audience", "federation_audience", func() string { return f.issuer.Token(with(goodClaims(), "aud", "https://elsewhere.test")) }, nil, ""},
		{"subject", "federation_subject", func() string {
			return f.issuer.Token(with(goodClaims(), "sub", "repo:acme/app:ref:refs/heads/feature"))
		}, nil, ""},
		{"claim", "federation_claim", func() string { return f.issuer.Token(with(goodClaims(), "repository_owner_id", "43")) }, nil, ""},
		{"expired", "federation_expiry", func() string {
			return f.issuer.Token(with(goodClaims(), "iat", now.Add(-10*time.Minute).Unix(), "exp", now.Add(-5*time.Minute).Unix()))
		}, nil, ""},
		{"lifetime too long", "federation_lifetime", func() string {
			return f.issuer.Token(with(goodClaims(), "exp", now.Add(48*time.Hour).Unix()))
		}, nil, ""},
		{"ambiguous", "federation_ambiguous", func() string {
			return f.issuer.Token(with(goodClaims(), "aud", "https://amb.test", "sub", "job:x"))
		}, nil, ""},
		{"disabled client", "client_disabled", func() string {
			return f.issuer.Token(with(goodClaims(), "aud", "https://off.test", "sub", "job:x"))
		}, nil, "unauthorized_client"},
		{"malformed", "federation_malformed", func() string { return "not.a.jwt" }, nil, ""},
	}
	for _, tt := range tests {
		for _, via := range fedGrants {
			t.Run(tt.name+"/"+via, func(t *testing.T) {
				status, body := f.post(t, fedForm(via, tt.token(), tt.extra))
				wantStatus, wantCode := http.StatusBadRequest, "invalid_grant"
				switch {
				case tt.wantCode != "":
					wantCode = tt.wantCode
				case via == "client_assertion":
					wantStatus, wantCode = http.StatusUnauthorized, "invalid_client"
				}
				if status != wantStatus || body["error"] != wantCode {
					t.Fatalf("%d %v; want %d %s", status, body, wantStatus, wantCode)
				}
				if d, _ := body["error_description"].(string); strings.Contains(d, "policy") || strings.Contains(d, "rule") {
					t.Errorf("error_description %q tells the caller why; want the plain error", d)
				}
				if !strings.Contains(f.logs.String(), `"reason":"`+tt.reason+`"`) {
					t.Errorf("the log has no reason %s:\n%s", tt.reason, f.logs.String())
				}
			})
		}
	}
	t.Run("the log says which rule failed", func(t *testing.T) {
		logs := f.logs.String()
		for _, want := range []string{`"rule":"claim"`, `"claim":"repository_owner_id"`, `"policy":"deploy"`, `"rule":"lifetime"`} {
			if !strings.Contains(logs, want) {
				t.Errorf("the log lacks %s", want)
			}
		}
		if strings.Contains(logs, "eyJ") {
			t.Errorf("the log shows a token")
		}
	})
}

func TestTokenExchangeRequestErrors(t *testing.T) {
	f := newFedFixture(t, fedOptions{})
	ext := f.issuer.Token(goodClaims())
	tests := []struct {
		name string
		form url.Values
	}{
		{"no subject_token", url.Values{"grant_type": {authserver.GrantTypeTokenExchange}, "subject_token_type": {authserver.TokenTypeJWT}}},
		{"no subject_token_type", url.Values{"grant_type": {authserver.GrantTypeTokenExchange}, "subject_token": {ext}}},
		{"unsupported subject_token_type", fedForm("token_exchange", ext, url.Values{"subject_token_type": {"urn:ietf:params:oauth:token-type:saml2"}})},
		{"requested_token_type not an access token", fedForm("token_exchange", ext, url.Values{"requested_token_type": {"urn:ietf:params:oauth:token-type:refresh_token"}})},
		{"actor_token", fedForm("token_exchange", ext, url.Values{"actor_token": {ext}, "actor_token_type": {authserver.TokenTypeJWT}})},
		{"with a client secret", fedForm("token_exchange", ext, url.Values{"client_id": {"deployer"}, "client_secret": {"x"}})},
		{"jwt bearer without assertion", url.Values{"grant_type": {authserver.GrantTypeJWTBearer}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := f.post(t, tt.form)
			if status != http.StatusBadRequest || body["error"] != "invalid_request" {
				t.Errorf("%d %v; want 400 invalid_request", status, body)
			}
		})
	}
	t.Run("accepted types", func(t *testing.T) {
		for _, typ := range []string{authserver.TokenTypeJWT, authserver.TokenTypeIDToken, authserver.TokenTypeAccessToken} {
			form := fedForm("token_exchange", f.issuer.Token(goodClaims()), url.Values{"subject_token_type": {typ},
				"requested_token_type": {authserver.TokenTypeAccessToken}})
			if status, body := f.post(t, form); status != http.StatusOK {
				t.Errorf("subject_token_type %s: %d %v; want 200", typ, status, body)
			}
		}
	})
}

func TestFederatedSingleUse(t *testing.T) {
	f := newFedFixture(t, fedOptions{})
	claims := with(goodClaims(), "aud", "https://single.test")
	for _, via := range fedGrants {
		t.Run(via, func(t *testing.T) {
			ext := f.issuer.Token(claims)
			if status, body := f.post(t, fedForm(via, ext, nil)); status != http.StatusOK {
				t.Fatalf("first use: %d %v; want 200", status, body)
			}
			status, body := f.post(t, fedForm(via, ext, nil))
			want := "invalid_grant"
			if via == "client_assertion" {
				want = "invalid_client"
			}
			if body["error"] != want {
				t.Fatalf("second use: %d %v; want %s", status, body, want)
			}
		})
	}
	// Without a jti the token is known by its signed part.
	ext := f.issuer.Token(with(claims, "jti", nil))
	f.post(t, fedForm("jwt_bearer", ext, nil))
	if status, _ := f.post(t, fedForm("token_exchange", ext, nil)); status != http.StatusBadRequest {
		t.Errorf("a token without jti used twice: %d; want 400", status)
	}
}

// TestFederatedKeyRotation: the external issuer rotates its key; a token
// signed with the new key is accepted once the verifier refetches the
// issuer's keys on the unknown kid, and the old key's tokens are then
// refused.
func TestFederatedKeyRotation(t *testing.T) {
	f := newFedFixture(t, fedOptions{})
	old := f.issuer.Token(goodClaims())
	if status, body := f.post(t, fedForm("jwt_bearer", old, nil)); status != http.StatusOK {
		t.Fatalf("before rotation: %d %v", status, body)
	}
	f.issuer.Rotate()
	f.now.Add(int64(2 * federation.DefaultMinRefetchInterval)) // past the refetch rate limit
	fresh := f.issuer.Token(goodClaims())
	if status, body := f.post(t, fedForm("jwt_bearer", fresh, nil)); status != http.StatusOK {
		t.Fatalf("a token of the new key: %d %v; want 200", status, body)
	}
	if status, _ := f.post(t, fedForm("jwt_bearer", old, nil)); status != http.StatusBadRequest {
		t.Errorf("a token of the retired key: %d; want 400", status)
	}
}

// TestFederatedUnreachableIssuer: a policy whose issuer does not answer
// is a clean refusal, not a hang or a 500.
func TestFederatedUnreachableIssuer(t *testing.T) {
	f := newFedFixture(t, fedOptions{})
	ln := httptest.NewUnstartedServer(nil) // a port nobody serves once closed
	dead := "https://" + ln.Listener.Addr().String()
	ln.Close()
	if err := f.policies.CreateTrustPolicy(context.Background(), &store.TrustPolicy{Name: "dead", Issuer: dead,
		Audiences: []string{fedAudience}, Subject: "job:*", ClientID: "deployer"}); err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tok := federationtest.Sign(key, "k1", map[string]any{"iss": dead, "aud": fedAudience, "sub": "job:x",
		"iat": f.clock().Unix(), "exp": f.clock().Add(time.Minute).Unix()})
	status, body := f.post(t, fedForm("token_exchange", tok, nil))
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("%d %v; want 400 invalid_grant", status, body)
	}
	if !strings.Contains(f.logs.String(), `"reason":"federation_keys"`) {
		t.Errorf("the log does not say the keys could not be had:\n%s", f.logs.String())
	}
}

// TestFederatedThrottle: failed external tokens are throttled per
// address and issuer like wrong secrets; past the budget, 429 before any
// verification.
func TestFederatedThrottle(t *testing.T) {
	f := newFedFixture(t, fedOptions{failureLimit: ratelimit.Limit{Rate: 0.001, Burst: 3}})
	bad := f.issuer.Token(with(goodClaims(), "sub", "repo:evil/app:ref:refs/heads/main"))
	var statuses []int
	for range 5 {
		status, _ := f.post(t, fedForm("jwt_bearer", bad, nil))
		statuses = append(statuses, status)
	}
	if want := []int{400, 400, 400, 429, 429}; !slices.Equal(statuses, want) {
		t.Errorf("statuses = %v; want %v", statuses, want)
	}
}

// TestFederationKeepsPrivateKeyJWT: with trust policies configured, an
// assertion whose iss is a client id is still a private_key_jwt
// assertion of that client, and the metadata advertise the two grants.
func TestFederationKeepsPrivateKeyJWT(t *testing.T) {
	f := newFedFixture(t, fedOptions{})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := jwk.FromPublic(&key.PublicKey, "w1", "ES256")
	doc, _ := jwk.MarshalSet(*pub)
	c := &store.Client{ID: "signer", Name: "signer", Audiences: []string{"https://api.example.com"}, AuthMethod: store.AuthMethodPrivateKeyJWT, JWKS: doc}
	if _, err := authserver.CreateClient(context.Background(), f.st, c, nil); err != nil {
		t.Fatal(err)
	}
	now := f.clock()
	assertion := federationtest.Sign(key, "w1", map[string]any{"iss": "signer", "sub": "signer", "aud": f.srv.URL + "/oauth/token",
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "j1"})
	if status, body := f.post(t, fedForm("client_assertion", assertion, nil)); status != http.StatusOK {
		t.Fatalf("private_key_jwt: %d %v; want 200", status, body)
	}
	resp, err := http.Get(f.srv.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var md struct {
		GrantTypes []string `json:"grant_types_supported"`
	}
	json.NewDecoder(resp.Body).Decode(&md)
	want := []string{"client_credentials", authserver.GrantTypeJWTBearer, authserver.GrantTypeTokenExchange}
	if !slices.Equal(md.GrantTypes, want) {
		t.Errorf("grant_types_supported = %v; want %v", md.GrantTypes, want)
	}
}

// TestFederatedGrantsOff: without a federation verifier the two grants
// are unsupported_grant_type, and an external client assertion is an
// unknown client's.
func TestFederatedGrantsOff(t *testing.T) {
	issuer := federationtest.NewIssuer(t)
	st := memstore.New()
	kr, err := keyring.New(context.Background(), keyring.Config{Store: st, Master: []byte(strings.Repeat("f", 32))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	defer srv.Close()
	as, err := authserver.New(authserver.Config{Issuer: srv.URL, Clients: st, Signer: kr, ClientAssertionReplay: &replay.Memory{}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = as.Handler()
	ext := issuer.Token(goodClaims())
	for via, want := range map[string]string{"client_assertion": "invalid_client", "jwt_bearer": "unsupported_grant_type", "token_exchange": "unsupported_grant_type"} {
		if _, body := postForm(t, srv.URL, fedForm(via, ext, nil)); body["error"] != want {
			t.Errorf("%s: %v; want %s", via, body, want)
		}
	}
}

// TestFederatedSingleUseAcrossReplicas runs two servers ("replicas") on
// one PostgreSQL client store and one Redis replay cache: an external
// token of a single-use policy accepted by one is refused by the other.
func TestFederatedSingleUseAcrossReplicas(t *testing.T) {
	dsn := testbackend.PostgresSchema(t, "m2m_fed_")
	addr := testbackend.RedisAddr(t)
	pg, err := sqlstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	rc, err := redisstore.Open(t.Context(), "redis://"+addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	shared := &redisstore.ReplayCache{Client: rc, Prefix: "m2m_test_" + testbackend.Suffix() + ":"}
	a := newFedFixture(t, fedOptions{st: pg, replay: shared})
	b := newFedFixture(t, fedOptions{st: pg, replay: shared, issuer: a.issuer}) // clients and policies in PostgreSQL
	for _, via := range fedGrants {
		t.Run(via, func(t *testing.T) {
			ext := a.issuer.Token(with(goodClaims(), "aud", "https://single.test"))
			if status, body := a.post(t, fedForm(via, ext, nil)); status != http.StatusOK {
				t.Fatalf("replica a: %d %v; want 200", status, body)
			}
			status, body := b.post(t, fedForm(via, ext, nil))
			if status == http.StatusOK || !strings.Contains(b.logs.String(), `"reason":"federation_replayed"`) {
				t.Fatalf("replica b, the same token: %d %v; want it refused as replayed", status, body)
			}
		})
	}
}

// FuzzFederatedGrants drives the three forms with any token and any
// extra parameter: the answer is a token only for a token the policies
// accept, otherwise a 4xx RFC error; never a panic or a 5xx.
func FuzzFederatedGrants(f *testing.F) {
	fx := newFedFixture(f, fedOptions{failureLimit: ratelimit.Limit{Rate: 1e9, Burst: 1e9}, rateLimit: ratelimit.Limit{Rate: 1e9, Burst: 1e9}, cachePolicies: true})
	good := fx.issuer.Token(goodClaims())
	for i := range fedGrants {
		f.Add(uint8(i), good, "audience", "https://api.example.com")
		f.Add(uint8(i), fx.issuer.Token(with(goodClaims(), "aud", "https://amb.test")), "resource", "https://reports.example.com")
		f.Add(uint8(i), "eyJhbGciOiJub25lIn0.e30.", "scope", "deploy")
		f.Add(uint8(i), good, "subject_token_type", "x")
	}
	h := fx.as.Handler()
	f.Fuzz(func(t *testing.T, via uint8, token, key, value string) {
		form := fedForm(fedGrants[int(via)%len(fedGrants)], token, url.Values{key: {value}})
		r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var body map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("answer %d %q is not JSON", w.Code, w.Body)
		}
		switch {
		case w.Code == 200:
			fx.verify(t, body["access_token"].(string))
		case w.Code >= 400 && w.Code < 500 && body["error"] != nil:
		default:
			t.Fatalf("answer %d %v", w.Code, body)
		}
	})
}
