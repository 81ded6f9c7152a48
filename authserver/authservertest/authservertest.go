// Package authservertest starts a real m2m token server ([authserver]) on
// a loopback port for tests of clients and verifiers, backed by an
// in-memory store and a real [keyring.Keyring], in the manner of
// net/http/httptest.
package authservertest

import (
	"context"
	"crypto/rand"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/keyring"
	"github.com/m2mkit/m2m/ratelimit"
	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/memstore"
)

// Options configure [NewServer]. The zero value is a server with ES256
// keys, RFC 9068 tokens of one hour and the default rate limits.
type Options struct {
	// Profile is the server's default token profile ("": rfc9068).
	Profile jwtauth.Profile
	// Algorithm of the signing keys ("": ES256).
	Algorithm string
	// TokenTTL is the default token lifetime (0: one hour).
	TokenTTL time.Duration
	// PrePublish is how long a rotated-in key is published before it signs
	// (0: one second, so rotation tests run fast).
	PrePublish time.Duration
	// RateLimit is the default per-client bucket (zero: authserver's
	// default).
	RateLimit ratelimit.Limit
	// Now is the clock of the server and its keyring (nil: time.Now).
	Now func() time.Time
	// DPoP, when set, makes the token endpoint accept DPoP proofs and
	// bind tokens to their keys (authserver.Config.DPoP).
	DPoP *jwtauth.DPoPVerifier
}

// Server is a running token server. Its fields are for reading.
type Server struct {
	// URL is the issuer and base URL, http://127.0.0.1:PORT.
	URL string
	// TokenURL and JWKSURL are its endpoints.
	TokenURL, JWKSURL string
	Store             *memstore.Store
	Keyring           *keyring.Keyring
	Auth              *authserver.Server
	HTTP              *httptest.Server
}

// NewServer starts a token server and stops it when the test ends.
func NewServer(t testing.TB, opts *Options) *Server {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	pre := opts.PrePublish
	if pre == 0 {
		pre = time.Second
	}
	master := make([]byte, keyring.MinMasterSize)
	rand.Read(master)
	st := memstore.New()
	ctx, cancel := context.WithCancel(context.Background())
	kr, err := keyring.New(ctx, keyring.Config{Store: st, Master: master, Algorithm: opts.Algorithm,
		PrePublish: pre, RefreshEvery: pre / 4, Now: opts.Now})
	if err != nil {
		cancel()
		t.Fatalf("authservertest: %v", err)
	}
	done := make(chan struct{})
	go func() { defer close(done); kr.Run(ctx) }()
	hs := httptest.NewUnstartedServer(nil)
	s := &Server{URL: "http://" + hs.Listener.Addr().String(), Store: st, Keyring: kr, HTTP: hs}
	s.TokenURL, s.JWKSURL = s.URL+"/oauth/token", s.URL+"/.well-known/jwks.json"
	alg := opts.Algorithm
	if alg == "" {
		alg = keyring.DefaultAlgorithm
	}
	s.Auth, err = authserver.New(authserver.Config{Issuer: s.URL, Clients: st, Signer: kr, SigningAlgorithms: []string{alg},
		Profile: opts.Profile, TokenTTL: opts.TokenTTL, MaxTokenTTL: keyring.DefaultMaxTokenTTL,
		RateLimit: opts.RateLimit, Now: opts.Now, DPoP: opts.DPoP})
	if err != nil {
		cancel()
		t.Fatalf("authservertest: %v", err)
	}
	hs.Config.Handler = s.Auth.Handler()
	hs.Start()
	t.Cleanup(func() {
		hs.Close()
		cancel()
		<-done
	})
	return s
}

// CreateClient registers c (an empty ID gets a generated one; Audiences is
// required) and returns its id and secret.
func (s *Server) CreateClient(t testing.TB, c store.Client) (id, secret string) {
	t.Helper()
	secret, err := authserver.CreateClient(context.Background(), s.Store, &c, nil)
	if err != nil {
		t.Fatalf("authservertest: %v", err)
	}
	return c.ID, secret
}

// Rotate adds a next key: published now, signing after PrePublish.
func (s *Server) Rotate(t testing.TB) {
	t.Helper()
	if err := s.Keyring.Rotate(context.Background()); err != nil {
		t.Fatalf("authservertest: %v", err)
	}
}
