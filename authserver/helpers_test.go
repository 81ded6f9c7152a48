package authserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/store"
)

// fakeClients is a minimal in-memory store.Clients that counts reads.
type fakeClients struct {
	mu    sync.Mutex
	m     map[string]*store.Client
	reads atomic.Int64
}

var _ store.Clients = (*fakeClients)(nil)

func copyClient(c *store.Client) *store.Client {
	cp := *c
	cp.Audiences = slices.Clone(c.Audiences)
	cp.Scopes = slices.Clone(c.Scopes)
	cp.SecretHash = slices.Clone(c.SecretHash)
	cp.PreviousSecretHash = slices.Clone(c.PreviousSecretHash)
	cp.Metadata = maps.Clone(c.Metadata)
	return &cp
}

func (f *fakeClients) CreateClient(_ context.Context, c *store.Client) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]*store.Client{}
	}
	if _, ok := f.m[c.ID]; ok {
		return store.ErrConflict
	}
	f.m[c.ID] = copyClient(c)
	return nil
}

func (f *fakeClients) GetClient(_ context.Context, id string) (*store.Client, error) {
	f.reads.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.m[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	return copyClient(c), nil
}

func (f *fakeClients) ListClients(context.Context) ([]*store.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*store.Client
	for _, c := range f.m {
		out = append(out, copyClient(c))
	}
	return out, nil
}

func (f *fakeClients) UpdateClient(_ context.Context, id string, update func(*store.Client) error) (*store.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.m[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	cp := copyClient(c)
	if err := update(cp); err != nil {
		return nil, err
	}
	f.m[id] = copyClient(cp)
	return cp, nil
}

func (f *fakeClients) DeleteClient(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.m[id]; !ok {
		return store.ErrNotFound
	}
	delete(f.m, id)
	return nil
}

// testSigner signs ES256 with one P-256 key.
type testSigner struct {
	key  *ecdsa.PrivateKey
	kid  string
	jwks []byte
}

var _ authserver.Signer = (*testSigner)(nil)

func newTestSigner(t testing.TB) *testSigner {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err) // only if crypto/rand fails
	}
	b, err := k.PublicKey.Bytes() // uncompressed point 0x04 || X || Y
	if err != nil {
		panic(err) // only if crypto/rand fails
	}
	x := base64.RawURLEncoding.EncodeToString(b[1:33])
	y := base64.RawURLEncoding.EncodeToString(b[33:])
	s := &testSigner{key: k, kid: "test-key"}
	s.jwks = fmt.Appendf(nil, `{"keys":[{"kty":"EC","crv":"P-256","x":%q,"y":%q,"kid":%q,"alg":"ES256","use":"sig"}]}`, x, y, s.kid)
	return s
}

func (s *testSigner) Sign(typ string, payload []byte) (string, string, error) {
	tok, err := jws.Sign("ES256", s.key, jws.HeaderJSON("ES256", s.kid, typ), payload)
	return tok, s.kid, err
}

func (s *testSigner) JWKS() []byte { return s.jwks }

func (s *testSigner) PublicKeys() (*jwk.Set, uint64) {
	if s.jwks == nil {
		return jwk.NewSet(), 0
	}
	set, err := jwk.ParseSet(s.jwks)
	if err != nil {
		panic(err)
	}
	return set, 1
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const testIssuer = "https://auth.example.test"

type fixture struct {
	srv     *authserver.Server
	clients *fakeClients
	signer  *testSigner
	clock   *clock
	id      string
	secret  string
	otherID string // see addOther
}

// addOther registers a second client, whose id a misbehaving client may
// present with a wrong secret.
func (f *fixture) addOther(t testing.TB) {
	t.Helper()
	c := &store.Client{Name: "other", Audiences: []string{"https://api.example.test"}}
	if _, err := authserver.CreateClient(context.Background(), f.clients, c, f.clock.Now); err != nil {
		t.Fatal(err)
	}
	f.otherID = c.ID
}

// newFixture starts a server with one client granted audience
// https://api.example.test and scopes read, write.
func newFixture(t testing.TB, mod func(*authserver.Config, *store.Client)) *fixture {
	t.Helper()
	f := &fixture{clients: &fakeClients{}, signer: newTestSigner(t), clock: &clock{t: time.Unix(1_800_000_000, 0)}}
	cfg := authserver.Config{Issuer: testIssuer, Clients: f.clients, Signer: f.signer, Now: f.clock.Now}
	c := &store.Client{Name: "worker", Audiences: []string{"https://api.example.test", "https://other.example.test"}, Scopes: []string{"read", "write"}}
	if mod != nil {
		mod(&cfg, c)
	}
	var err error
	if f.secret, err = authserver.CreateClient(context.Background(), f.clients, c, f.clock.Now); err != nil {
		t.Fatal(err)
	}
	f.id = c.ID
	if f.srv, err = authserver.New(cfg); err != nil {
		t.Fatal(err)
	}
	return f
}

// post sends a form token request with client_secret_post credentials.
func (f *fixture) post(form url.Values) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, r)
	return w
}

func (f *fixture) creds(extra ...string) url.Values {
	v := url.Values{"grant_type": {"client_credentials"}, "client_id": {f.id}, "client_secret": {f.secret}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

type tokenResponse struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int64  `json:"expires_in"`
	Scope            string `json:"scope"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

func decodeResponse(t testing.TB, w *httptest.ResponseRecorder) tokenResponse {
	t.Helper()
	var tr tokenResponse
	if err := json.Unmarshal(w.Body.Bytes(), &tr); err != nil {
		t.Fatalf("response %d %q is not JSON: %v", w.Code, w.Body.String(), err)
	}
	return tr
}

// verify checks tok's signature with s and returns its header and claims.
func (s *testSigner) verify(t testing.TB, tok string) (jws.Header, map[string]any) {
	t.Helper()
	p, err := jws.Parse(tok, 0)
	if err != nil {
		t.Fatalf("jws.Parse(%q) = %v", tok, err)
	}
	if err := p.Verify(&s.key.PublicKey); err != nil {
		t.Fatalf("Verify = %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(p.Payload, &claims); err != nil {
		t.Fatalf("claims %q: %v", p.Payload, err)
	}
	return p.Header, claims
}
