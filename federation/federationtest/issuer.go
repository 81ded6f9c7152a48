// Package federationtest runs an OpenID Connect issuer of workload
// identity tokens for tests: discovery and JWKS over HTTPS on a loopback
// address, tokens signed with go-jose, key rotation, and hooks to make
// the issuer misbehave. It needs no network beyond the loopback
// interface.
package federationtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Paths the issuer serves.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/jwks"
)

// Issuer is a test OIDC issuer over HTTPS at URL (https://127.0.0.1:PORT,
// an address a trust policy names itself, so the federation verifier
// connects to it). It signs ES256 tokens with its current key. It is safe
// for concurrent use.
type Issuer struct {
	// URL is the issuer identifier, the iss of its tokens.
	URL string
	// Server is the underlying test server.
	Server *httptest.Server

	mu        sync.Mutex
	now       func() time.Time
	keys      []*ecdsa.PrivateKey // current last
	kids      []string
	published int // how many of the newest keys the JWKS shows
	handlers  map[string]http.HandlerFunc
	fetches   map[string]int
	maxAge    int
}

// NewIssuer starts an issuer with one key; it is closed when t ends.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	i := Start()
	t.Cleanup(i.Close)
	return i
}

// Start starts an issuer with one key; call Close when done.
func Start() *Issuer {
	i := &Issuer{handlers: map[string]http.HandlerFunc{}, fetches: map[string]int{}, maxAge: -1}
	i.Server = httptest.NewTLSServer(http.HandlerFunc(i.serve))
	i.URL = i.Server.URL
	i.Rotate()
	return i
}

// Close stops the issuer.
func (i *Issuer) Close() { i.Server.Close() }

// SetNow sets the clock of the default iat and exp of tokens; nil means
// time.Now.
func (i *Issuer) SetNow(now func() time.Time) {
	i.mu.Lock()
	i.now = now
	i.mu.Unlock()
}

// SetMaxAge makes the JWKS response carry Cache-Control: max-age=n
// (negative: no Cache-Control).
func (i *Issuer) SetMaxAge(n int) {
	i.mu.Lock()
	i.maxAge = n
	i.mu.Unlock()
}

// HTTPClient returns a client that trusts the issuer's certificate, the
// template a federation.Config.Client takes in tests.
func (i *Issuer) HTTPClient() *http.Client { return i.Server.Client() }

// CertificatePEM returns the issuer's certificate, for SSL_CERT_FILE.
func (i *Issuer) CertificatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: i.Server.Certificate().Raw})
}

// Handle replaces the handler of path (DiscoveryPath, JWKSPath or any
// other); nil restores the default.
func (i *Issuer) Handle(path string, h http.HandlerFunc) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if h == nil {
		delete(i.handlers, path)
		return
	}
	i.handlers[path] = h
}

// Fetches returns how many requests path has had.
func (i *Issuer) Fetches(path string) int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.fetches[path]
}

// Rotate makes a new key, with a new kid, the signing key and the only
// key the JWKS publishes.
func (i *Issuer) Rotate() {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys = append(i.keys, k)
	i.kids = append(i.kids, fmt.Sprintf("key-%d", len(i.keys)))
	i.published = 1
}

// KeyID returns the kid of the current signing key.
func (i *Issuer) KeyID() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.kids[len(i.kids)-1]
}

// JWKS returns the JWK Set the issuer publishes now.
func (i *Issuer) JWKS() []byte {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.jwksLocked()
}

func (i *Issuer) jwksLocked() []byte {
	var set jose.JSONWebKeySet
	for n := len(i.keys) - i.published; n < len(i.keys); n++ {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &i.keys[n].PublicKey, KeyID: i.kids[n], Algorithm: "ES256", Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		panic(err)
	}
	return b
}

func (i *Issuer) serve(w http.ResponseWriter, r *http.Request) {
	i.mu.Lock()
	i.fetches[r.URL.Path]++
	h := i.handlers[r.URL.Path]
	jwks := i.jwksLocked()
	maxAge := i.maxAge
	i.mu.Unlock()
	if h != nil {
		h(w, r)
		return
	}
	switch r.URL.Path {
	case DiscoveryPath:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                i.URL,
			"jwks_uri":                              i.URL + JWKSPath,
			"id_token_signing_alg_values_supported": []string{"ES256"},
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
		})
	case JWKSPath:
		w.Header().Set("Content-Type", "application/jwk-set+json")
		if maxAge >= 0 {
			w.Header().Set("Cache-Control", fmt.Sprintf("max-age=%d", maxAge))
		}
		_, _ = w.Write(jwks)
	default:
		http.NotFound(w, r)
	}
}

// Token returns a token signed with the current key. claims are added to
// the defaults iss (the issuer), iat (now), exp (now + 5 minutes) and a
// random jti; a claim set to nil is left out.
func (i *Issuer) Token(claims map[string]any) string {
	i.mu.Lock()
	key, kid := i.keys[len(i.keys)-1], i.kids[len(i.kids)-1]
	now := time.Now
	if i.now != nil {
		now = i.now
	}
	i.mu.Unlock()
	t := now()
	var jti [12]byte
	_, _ = rand.Read(jti[:])
	all := map[string]any{
		"iss": i.URL,
		"iat": t.Unix(),
		"exp": t.Add(5 * time.Minute).Unix(),
		"jti": base64.RawURLEncoding.EncodeToString(jti[:]),
	}
	for k, v := range claims {
		if v == nil {
			delete(all, k)
			continue
		}
		all[k] = v
	}
	return Sign(key, kid, all)
}

// Sign returns a compact ES256 JWS of claims signed by key with kid in
// its header ("" for none).
func Sign(key *ecdsa.PrivateKey, kid string, claims map[string]any) string {
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, opts)
	if err != nil {
		panic(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		panic(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		panic(err)
	}
	return s
}
