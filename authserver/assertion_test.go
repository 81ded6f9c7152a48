package authserver_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/replay"
	"github.com/m2mkit/m2m/store"
)

const (
	asTokenEndpoint = "https://auth.example/oauth/token"
	asIssuer        = "https://auth.example/"
)

var asNow = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// clientKey is one private key of a test client, with its public JWK.
type clientKey struct {
	alg  string
	kid  string
	priv crypto.Signer
}

var (
	keysOnce sync.Once
	rsaKey   *rsa.PrivateKey
)

func newClientKey(t testing.TB, alg, kid string) clientKey {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "RS256", "PS256":
		keysOnce.Do(func() { rsaKey, err = rsa.GenerateKey(rand.Reader, 2048) })
		priv = rsaKey
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("newClientKey(%s): unsupported", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return clientKey{alg: alg, kid: kid, priv: priv}
}

func (k clientKey) public(t testing.TB) jwk.Key {
	t.Helper()
	pk, err := jwk.FromPublic(k.priv.Public(), k.kid, "")
	if err != nil {
		t.Fatal(err)
	}
	return *pk
}

func jwksOf(t testing.TB, keys ...clientKey) []byte {
	t.Helper()
	var pub []jwk.Key
	for _, k := range keys {
		pub = append(pub, k.public(t))
	}
	doc, err := jwk.MarshalSet(pub...)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// sign returns the assertion of claims signed with k (header typ as
// given, "" for none).
func (k clientKey) sign(t testing.TB, typ string, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	var key any = k.priv
	if e, ok := k.priv.(ed25519.PrivateKey); ok {
		key = e
	}
	tok, err := jws.Sign(k.alg, key, jws.HeaderJSON(k.alg, k.kid, typ), payload)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

var jtiSeq atomic.Int64

// assertionClaims are valid claims for client id at asNow.
func assertionClaims(id string) map[string]any {
	return map[string]any{
		"iss": id,
		"sub": id,
		"aud": asTokenEndpoint,
		"iat": asNow.Unix(),
		"exp": asNow.Add(2 * time.Minute).Unix(),
		"jti": "jti-" + big.NewInt(jtiSeq.Add(1)).String(),
	}
}

// flipS returns the ES256 assertion tok with s replaced by n-s: the other
// spelling of the same signature (high-S when tok was low-S).
func flipS(t testing.TB, tok string) string {
	t.Helper()
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil || len(sig) != 64 {
		t.Fatalf("flipS: bad signature %v", err)
	}
	n := elliptic.P256().Params().N
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(n, s)
	out := append(sig[:32:32], s.FillBytes(make([]byte, 32))...)
	return tok[:i+1] + base64.RawURLEncoding.EncodeToString(out)
}

type assertionFixture struct {
	ca      *authserver.ClientAssertions
	clients map[string]*store.Client
	keys    map[string]clientKey // by alg, registered for client "signer"
	logs    *bytes.Buffer
	jwks    *httptest.Server
	served  atomic.Pointer[[]byte]
	clock   atomic.Int64 // nanoseconds after asNow
	fetches atomic.Int64
}

func newAssertionFixture(t testing.TB) *assertionFixture {
	t.Helper()
	f := &assertionFixture{keys: map[string]clientKey{}, logs: &bytes.Buffer{}}
	var all []clientKey
	for _, alg := range []string{"ES256", "ES384", "RS256", "EdDSA"} {
		k := newClientKey(t, alg, "k-"+alg)
		f.keys[alg] = k
		all = append(all, k)
	}
	ps := newClientKey(t, "PS256", "k-RS256") // the same RSA key
	f.keys["PS256"] = ps
	remoteKey := newClientKey(t, "ES256", "remote-1")
	f.keys["remote"] = remoteKey
	doc := jwksOf(t, remoteKey)
	f.served.Store(&doc)
	f.jwks = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/private" {
			w.Write(f.clients["leaky"].JWKS)
			return
		}
		w.Write(*f.served.Load())
	}))
	t.Cleanup(f.jwks.Close)
	f.clients = map[string]*store.Client{
		"signer": {ID: "signer", AuthMethod: store.AuthMethodPrivateKeyJWT, JWKS: jwksOf(t, all...)},
		"remote": {ID: "remote", AuthMethod: store.AuthMethodPrivateKeyJWT, JWKSURI: f.jwks.URL + "/jwks"},
		"secret": {ID: "secret", SecretHash: []byte{1}, SecretAlgorithm: "sha256"},
		// Written by hand, past validation: a private key in its set.
		"leaky": {ID: "leaky", AuthMethod: store.AuthMethodPrivateKeyJWT,
			JWKS: []byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}]}`)},
		"leaky-remote": {ID: "leaky-remote", AuthMethod: store.AuthMethodPrivateKeyJWT, JWKSURI: f.jwks.URL + "/private"},
	}
	now := func() time.Time { return asNow.Add(time.Duration(f.clock.Load())) }
	f.ca = &authserver.ClientAssertions{
		Audience: []string{asTokenEndpoint, asIssuer},
		Replay:   &replay.Memory{Now: now},
		Now:      now,
		Logger:   slog.New(slog.NewTextHandler(f.logs, nil)),
	}
	return f
}

func (f *assertionFixture) lookup(_ context.Context, id string) (*store.Client, error) {
	if c, ok := f.clients[id]; ok {
		return c.Clone(), nil
	}
	return nil, store.ErrNotFound
}

func (f *assertionFixture) auth(ctx context.Context, assertion, clientID string) (*store.Client, error) {
	return f.ca.Authenticate(ctx, authserver.ClientAssertionType, assertion, clientID, f.lookup)
}

func TestClientAssertionAccepted(t *testing.T) {
	f := newAssertionFixture(t)
	for _, tt := range []struct {
		name     string
		client   string
		key      string
		typ      string
		clientID string
		mod      func(map[string]any)
		highS    bool
	}{
		{name: "ES256", client: "signer", key: "ES256"},
		{name: "ES256 high-S", client: "signer", key: "ES256", highS: true},
		{name: "ES384", client: "signer", key: "ES384"},
		{name: "RS256", client: "signer", key: "RS256"},
		{name: "PS256", client: "signer", key: "PS256"},
		{name: "EdDSA", client: "signer", key: "EdDSA"},
		{name: "typ JWT", client: "signer", key: "ES256", typ: "JWT"},
		{name: "typ client-authentication+jwt", client: "signer", key: "ES256", typ: "client-authentication+jwt"},
		{name: "client_id equal to iss", client: "signer", key: "ES256", clientID: "signer"},
		{name: "aud the issuer", client: "signer", key: "ES256", mod: func(c map[string]any) { c["aud"] = asIssuer }},
		{name: "aud an array", client: "signer", key: "ES256", mod: func(c map[string]any) { c["aud"] = []string{"urn:other", asTokenEndpoint} }},
		{name: "exp 5 minutes ahead", client: "signer", key: "ES256", mod: func(c map[string]any) { c["exp"] = asNow.Add(5 * time.Minute).Unix() }},
		{name: "no iat", client: "signer", key: "ES256", mod: func(c map[string]any) { delete(c, "iat") }},
		{name: "jwks_uri", client: "remote", key: "remote"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			claims := assertionClaims(tt.client)
			if tt.mod != nil {
				tt.mod(claims)
			}
			tok := f.keys[tt.key].sign(t, tt.typ, claims)
			if tt.highS {
				tok = flipS(t, tok)
			}
			c, err := f.auth(t.Context(), tok, tt.clientID)
			if err != nil || c == nil || c.ID != tt.client {
				t.Fatalf("Authenticate(%s) = %v, %v; want client %s", tt.name, c, err, tt.client)
			}
		})
	}
}

func TestClientAssertionRefused(t *testing.T) {
	f := newAssertionFixture(t)
	es := f.keys["ES256"]
	hmacTok := func(t *testing.T) string {
		payload, _ := json.Marshal(assertionClaims("signer"))
		tok, err := jws.Sign("HS256", []byte("a shared secret of 32 bytes.....!"), jws.HeaderJSON("HS256", "k-ES256", ""), payload)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	replayed := es.sign(t, "", assertionClaims("signer"))
	if _, err := f.auth(t.Context(), replayed, ""); err != nil {
		t.Fatalf("first use of the replayed assertion: %v", err)
	}
	signWith := func(k clientKey, mod func(map[string]any)) func(*testing.T) string {
		return func(t *testing.T) string {
			c := assertionClaims("signer")
			if mod != nil {
				mod(c)
			}
			return k.sign(t, "", c)
		}
	}
	for _, tt := range []struct {
		name      string
		typ       string // client_assertion_type; "" means the right one
		clientID  string
		tok       func(*testing.T) string
		reason    string
		logsID    bool // the log shows client_id=signer
		logsNoID  bool // the log shows no client_id
		wantIDLog string
	}{
		{name: "wrong client_assertion_type", typ: "urn:ietf:params:oauth:client-assertion-type:saml2-bearer", tok: signWith(es, nil), reason: "malformed", logsNoID: true},
		{name: "iss of an unknown client", tok: signWith(es, func(c map[string]any) { c["iss"], c["sub"] = "nobody", "nobody" }), reason: "wrong_issuer", logsNoID: true},
		{name: "iss not a client id", tok: signWith(es, func(c map[string]any) { c["iss"] = "https://evil.example/" }), reason: "wrong_issuer", logsNoID: true},
		{name: "no iss", tok: signWith(es, func(c map[string]any) { delete(c, "iss") }), reason: "wrong_issuer", logsNoID: true},
		{name: "sub another client", tok: signWith(es, func(c map[string]any) { c["sub"] = "remote" }), reason: "wrong_subject", logsID: true},
		{name: "no sub", tok: signWith(es, func(c map[string]any) { delete(c, "sub") }), reason: "missing_claim", logsID: true},
		{name: "client_id differs from iss", clientID: "remote", tok: signWith(es, nil), reason: "client_id_mismatch", logsNoID: true},
		{name: "wrong aud", tok: signWith(es, func(c map[string]any) { c["aud"] = "https://other.example/oauth/token" }), reason: "wrong_audience", logsID: true},
		{name: "no aud", tok: signWith(es, func(c map[string]any) { delete(c, "aud") }), reason: "missing_claim", logsID: true},
		{name: "expired", tok: signWith(es, func(c map[string]any) { c["exp"] = asNow.Add(-time.Minute).Unix() }), reason: "expired", logsID: true},
		{name: "no exp", tok: signWith(es, func(c map[string]any) { delete(c, "exp") }), reason: "missing_claim", logsID: true},
		{name: "exp too far ahead", tok: signWith(es, func(c map[string]any) { c["exp"] = asNow.Add(6 * time.Minute).Unix() }), reason: "lifetime_too_long", logsID: true},
		{name: "iat in the future", tok: signWith(es, func(c map[string]any) { c["iat"] = asNow.Add(time.Minute).Unix() }), reason: "not_yet_valid", logsID: true},
		{name: "nbf in the future", tok: signWith(es, func(c map[string]any) { c["nbf"] = asNow.Add(time.Minute).Unix() }), reason: "not_yet_valid", logsID: true},
		{name: "no jti", tok: signWith(es, func(c map[string]any) { delete(c, "jti") }), reason: "missing_claim", logsID: true},
		{name: "empty jti", tok: signWith(es, func(c map[string]any) { c["jti"] = "" }), reason: "malformed", logsID: true},
		{name: "jti of 257 bytes", tok: signWith(es, func(c map[string]any) { c["jti"] = strings.Repeat("j", 257) }), reason: "malformed", logsID: true},
		{name: "replayed jti", tok: func(*testing.T) string { return replayed }, reason: "replayed", logsID: true},
		{name: "replayed jti, other spelling (high-S)", tok: func(t *testing.T) string { return flipS(t, replayed) }, reason: "replayed", logsID: true},
		{name: "HS256", tok: hmacTok, reason: "bad_algorithm", logsID: true},
		{name: "alg none", tok: func(*testing.T) string {
			b, _ := json.Marshal(assertionClaims("signer"))
			return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + base64.RawURLEncoding.EncodeToString(b) + "."
		}, reason: "malformed", logsNoID: true},
		{name: "unknown kid", tok: signWith(newClientKey(t, "ES256", "k-unknown"), nil), reason: "unknown_key", logsID: true},
		{name: "a key of another client's kid", tok: signWith(newClientKey(t, "ES256", "k-ES256"), nil), reason: "bad_signature", logsID: true},
		{name: "typ at+jwt", tok: func(t *testing.T) string { return es.sign(t, "at+jwt", assertionClaims("signer")) }, reason: "malformed", logsID: true},
		{name: "a line break in the token", tok: func(t *testing.T) string {
			s := es.sign(t, "", assertionClaims("signer"))
			return s[:10] + "\n" + s[10:]
		}, reason: "malformed", logsNoID: true},
		{name: "oversize", tok: signWith(es, func(c map[string]any) { c["pad"] = strings.Repeat("x", authserver.DefaultMaxAssertionBytes) }), reason: "too_large", logsNoID: true},
		{name: "a secret client", tok: func(t *testing.T) string {
			c := assertionClaims("secret")
			return es.sign(t, "", c)
		}, reason: "not_private_key_jwt", wantIDLog: "secret"},
		{name: "private key in the registered JWKS", tok: func(t *testing.T) string {
			c := assertionClaims("leaky")
			return es.sign(t, "", c)
		}, reason: "jwks_unavailable", wantIDLog: "leaky"},
		{name: "private key at the jwks_uri", tok: func(t *testing.T) string {
			return f.keys["remote"].sign(t, "", assertionClaims("leaky-remote"))
		}, reason: "jwks_unavailable", wantIDLog: "leaky-remote"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f.logs.Reset()
			typ := authserver.ClientAssertionType
			if tt.typ != "" {
				typ = tt.typ
			}
			tok := tt.tok(t)
			c, err := f.ca.Authenticate(t.Context(), typ, tok, tt.clientID, f.lookup)
			var ae *authserver.AssertionError
			if !errors.As(err, &ae) {
				t.Fatalf("Authenticate(%s) = %v, %v; want an AssertionError", tt.name, c, err)
			}
			if ae.Reason != tt.reason {
				t.Errorf("Authenticate(%s) reason = %q (%s); want %q", tt.name, ae.Reason, ae.Detail, tt.reason)
			}
			log := f.logs.String()
			if !strings.Contains(log, "reason="+tt.reason) {
				t.Errorf("log = %q; want reason=%s", log, tt.reason)
			}
			want := tt.wantIDLog
			if tt.logsID {
				want = "signer"
			}
			if want != "" && !strings.Contains(log, "client_id="+want) {
				t.Errorf("log = %q; want client_id=%s", log, want)
			}
			if tt.logsNoID && strings.Contains(log, "client_id=") {
				t.Errorf("log = %q; want no client_id (it names no registered client)", log)
			}
			if strings.Contains(log, tok) || len(tok) > 40 && strings.Contains(log, tok[len(tok)-40:]) {
				t.Errorf("log holds the assertion: %q", log)
			}
		})
	}
}

// TestClientAssertionKeyRotation checks that a key the client adds at its
// jwks_uri is found by one refetch on its unknown kid, and that made-up
// kids do not cause a fetch each.
func TestClientAssertionKeyRotation(t *testing.T) {
	f := newAssertionFixture(t)
	ctx := t.Context()
	if _, err := f.auth(ctx, f.keys["remote"].sign(t, "", assertionClaims("remote")), ""); err != nil {
		t.Fatalf("Authenticate(remote-1) = %v", err)
	}
	next := newClientKey(t, "ES256", "remote-2")
	doc := jwksOf(t, f.keys["remote"], next)
	f.served.Store(&doc)
	f.clock.Store(int64(jwk.DefaultMinRefetchInterval)) // a later request
	before := f.fetches.Load()
	if _, err := f.auth(ctx, next.sign(t, "", assertionClaims("remote")), ""); err != nil {
		t.Fatalf("Authenticate(remote-2 after rotation) = %v", err)
	}
	if got := f.fetches.Load() - before; got != 1 {
		t.Errorf("fetches for a new kid = %d; want 1", got)
	}
	before = f.fetches.Load()
	for i := range 20 {
		k := newClientKey(t, "ES256", "made-up-"+big.NewInt(int64(i)).String())
		if _, err := f.auth(ctx, k.sign(t, "", assertionClaims("remote")), ""); err == nil {
			t.Fatal("Authenticate(made-up kid) = nil; want a refusal")
		}
	}
	if got := f.fetches.Load() - before; got > 0 {
		t.Errorf("fetches for 20 made-up kids within the refetch interval = %d; want 0 (the clock does not move)", got)
	}
}

func TestClientAssertionUnreachableJWKS(t *testing.T) {
	f := newAssertionFixture(t)
	f.jwks.Close()
	_, err := f.auth(t.Context(), f.keys["remote"].sign(t, "", assertionClaims("remote")), "")
	var ae *authserver.AssertionError
	if !errors.As(err, &ae) || ae.Reason != "jwks_unavailable" {
		t.Fatalf("Authenticate(unreachable jwks_uri) = %v; want AssertionError jwks_unavailable", err)
	}
}

type failingReplay struct{}

func (failingReplay) Use(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("redis down")
}

func TestClientAssertionReplayCacheDown(t *testing.T) {
	f := newAssertionFixture(t)
	f.ca.Replay = failingReplay{}
	_, err := f.auth(t.Context(), f.keys["ES256"].sign(t, "", assertionClaims("signer")), "")
	var ae *authserver.AssertionError
	if err == nil || errors.As(err, &ae) {
		t.Fatalf("Authenticate(replay cache down) = %v; want a technical error (fail closed)", err)
	}
}

func TestClientAssertionsConfig(t *testing.T) {
	r := &replay.Memory{}
	for _, tt := range []struct {
		name string
		ca   *authserver.ClientAssertions
	}{
		{"zero value", &authserver.ClientAssertions{}},
		{"no audience", &authserver.ClientAssertions{Replay: r}},
		{"empty audience", &authserver.ClientAssertions{Replay: r, Audience: []string{""}}},
		{"no replay cache", &authserver.ClientAssertions{Audience: []string{asIssuer}}},
		{"HS256 allowed", &authserver.ClientAssertions{Audience: []string{asIssuer}, Replay: r, Algorithms: []string{"ES256", "HS256"}}},
		{"none allowed", &authserver.ClientAssertions{Audience: []string{asIssuer}, Replay: r, Algorithms: []string{"none"}}},
		{"lifetime of a day", &authserver.ClientAssertions{Audience: []string{asIssuer}, Replay: r, MaxLifetime: 24 * time.Hour}},
		{"negative lifetime", &authserver.ClientAssertions{Audience: []string{asIssuer}, Replay: r, MaxLifetime: -time.Second}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.ca.Authenticate(t.Context(), authserver.ClientAssertionType, "a.b.c", "", func(context.Context, string) (*store.Client, error) {
				t.Fatal("lookup called with a bad configuration")
				return nil, nil
			})
			var ae *authserver.AssertionError
			if err == nil || errors.As(err, &ae) {
				t.Errorf("Authenticate with %s = %v; want a configuration error", tt.name, err)
			}
		})
	}
}

// FuzzClientAssertion feeds arbitrary assertions (seeded with valid ones
// of every algorithm) through the whole verification path: it must never
// panic, and whatever it accepts must name the registered client.
func FuzzClientAssertion(f *testing.F) {
	fx := newAssertionFixture(f)
	for _, alg := range []string{"ES256", "ES384", "RS256", "EdDSA"} {
		f.Add(fx.keys[alg].sign(f, "", assertionClaims("signer")), "")
	}
	f.Add(fx.keys["ES256"].sign(f, "JWT", assertionClaims("signer")), "signer")
	f.Add("a.b.c", "")
	f.Add("eyJhbGciOiJub25lIn0.e30.", "x")
	f.Fuzz(func(t *testing.T, assertion, clientID string) {
		c, err := fx.auth(context.Background(), assertion, clientID)
		if err == nil && (c == nil || c.ID != "signer") {
			t.Fatalf("Authenticate accepted %q for %v", assertion, c)
		}
	})
}
