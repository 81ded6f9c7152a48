// Package storetest is the conformance suite for [store.Store] backends,
// in the style of dex's storage/conformance: every backend's tests call
// [Run] with a constructor for a fresh, empty store, and must pass every
// case, including the concurrent-writer ones. A backend that implements
// only part of [store.Store] runs [RunClients], [RunKeys],
// [RunRevocations], [RunSettings], [RunTrustPolicies] or
// [RunClientsAndTrustPolicies].
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := sqlstore.Open(t.Context(), filepath.Join(t.TempDir(), "m2m.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/m2mkit/m2m/store"
)

// Concurrency is the number of goroutines the concurrent-writer cases
// run, and Increments how many updates each makes.
const (
	Concurrency = 8
	Increments  = 10
)

// Run runs the whole conformance suite. newStore must return a new, empty
// store for each subtest and arrange for it to be closed (t.Cleanup).
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	RunClients(t, func(t *testing.T) store.Clients { return newStore(t) })
	RunKeys(t, func(t *testing.T) store.Keys { return newStore(t) })
	RunRevocations(t, func(t *testing.T) store.Revocations { return newStore(t) })
	RunSettings(t, func(t *testing.T) store.Settings { return newStore(t) })
	RunTrustPolicies(t, func(t *testing.T) store.TrustPolicies { return newStore(t) })
	RunClientsAndTrustPolicies(t, func(t *testing.T) store.ClientsAndTrustPolicies { return newStore(t) })
	RunUsage(t, func(t *testing.T) store.Usage { return newStore(t) })
	RunAudit(t, func(t *testing.T) store.Audit { return newStore(t) })
	t.Run("Ping", func(t *testing.T) { testPing(t, newStore(t)) })
}

// RunClients runs the [store.Clients] cases, for a backend that stores
// only clients.
func RunClients(t *testing.T, newStore func(t *testing.T) store.Clients) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, store.Clients)
	}{
		{"ClientCRUD", testClientCRUD},
		{"ClientErrors", testClientErrors},
		{"ClientCopies", testClientCopies},
		{"ClientUpdateAborts", testClientUpdateAborts},
		{"ClientConcurrentUpdates", testClientConcurrentUpdates},
		{"ClientValidation", testClientValidation},
		{"ClientAuthMethods", testClientAuthMethods},
		{"ClientRequireDPoP", testClientRequireDPoP},
		{"ClientMutualTLS", testClientMutualTLS},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// RunKeys runs the [store.Keys] cases, for a backend that stores only
// signing keys.
func RunKeys(t *testing.T, newStore func(t *testing.T) store.Keys) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, store.Keys)
	}{
		{"KeyCRUD", testKeyCRUD},
		{"KeyErrors", testKeyErrors},
		{"KeyCopies", testKeyCopies},
		{"UpdateKeys", testUpdateKeys},
		{"UpdateKeysAborts", testUpdateKeysAborts},
		{"UpdateKeysRevoke", testUpdateKeysRevoke},
		{"UpdateKeysConcurrent", testUpdateKeysConcurrent},
		{"UpdateKeysCreateOnce", testUpdateKeysCreateOnce},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// RunRevocations runs the [store.Revocations] cases, for a backend that
// keeps only revocations (such as a Redis one).
func RunRevocations(t *testing.T, newStore func(t *testing.T) store.Revocations) {
	t.Helper()
	t.Run("Revocations", func(t *testing.T) { testRevocations(t, newStore(t)) })
}

// base is a fixed instant with sub-second precision, so that backends
// that round times fail the round trip.
var base = time.Date(2026, 11, 22, 9, 30, 15, 123456789, time.UTC)

var cmpOpts = []cmp.Option{
	cmpopts.EquateEmpty(),
	cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
}

func fullClient(id string) *store.Client {
	return &store.Client{
		ID:                      id,
		Name:                    "billing worker " + id,
		SecretHash:              []byte{1, 2, 3, 4, 0, 255},
		SecretAlgorithm:         "sha256",
		PreviousSecretHash:      []byte{9, 8, 7},
		PreviousSecretAlgorithm: "sha256",
		PreviousSecretExpiresAt: base.Add(time.Hour),
		Audiences:               []string{"https://api.example/", "urn:other"},
		Scopes:                  []string{"read:invoices", "write:invoices"},
		TokenTTL:                90 * time.Minute,
		RateLimitPerSecond:      12.5,
		RateLimitBurst:          40,
		Profile:                 "auth0",
		Disabled:                true,
		RevokedBefore:           base.Add(-time.Hour),
		Metadata:                map[string]string{"owner": "team-billing", "ticket": "OPS-1"},
		QuotaHourly:             100,
		QuotaDaily:              1000,
		QuotaMode:               store.QuotaMonitor,
		SecretCreatedAt:         base.Add(-time.Minute),
		CreatedAt:               base,
		UpdatedAt:               base.Add(time.Second),
	}
}

// publicJWKS is a JWK Set of one public P-256 key (RFC 7515 appendix
// A.3); privateJWKS is the same key with its private member.
const (
	publicJWKS  = `{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`
	privateJWKS = `{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}]}`
)

// noSecret makes c a private_key_jwt client without a secret and
// without keys.
func noSecret(c *store.Client) {
	c.AuthMethod = store.AuthMethodPrivateKeyJWT
	c.SecretHash, c.SecretAlgorithm, c.PreviousSecretHash, c.PreviousSecretAlgorithm = nil, "", nil, ""
	c.PreviousSecretExpiresAt = time.Time{}
}

// testClientMutualTLS stores tls_client_auth clients with each kind of
// certificate name, a self_signed_tls_client_auth client with its keys
// and a secret client with certificate-bound tokens, then moves the
// subject client to a SAN: a backend that drops a field fails the round
// trip.
func testClientMutualTLS(t *testing.T, s store.Clients) {
	ctx := t.Context()
	tls := func(id string, set func(c *store.Client)) *store.Client {
		c := fullClient(id)
		noSecret(c)
		c.AuthMethod = store.AuthMethodTLSClientAuth
		c.TLSClientCertificateBoundAccessTokens = true
		set(c)
		return c
	}
	selfSigned := fullClient("self-signed")
	noSecret(selfSigned)
	selfSigned.AuthMethod, selfSigned.JWKS = store.AuthMethodSelfSignedTLSClientAuth, []byte(publicJWKS)
	bound := fullClient("bound-secret")
	bound.TLSClientCertificateBoundAccessTokens = true
	for _, c := range []*store.Client{
		tls("subject", func(c *store.Client) { c.TLSSubject = `CN=worker\, one+OU=ops,O=Example,C=DE` }),
		tls("dns", func(c *store.Client) { c.TLSSANDNS = "worker.example" }),
		tls("uri", func(c *store.Client) { c.TLSSANURI = "spiffe://example.org/ns/prod/sa/worker" }),
		tls("ip", func(c *store.Client) { c.TLSSANIP = "2001:db8::7" }),
		tls("email", func(c *store.Client) { c.TLSSANEmail = "worker@example.org" }),
		selfSigned, bound,
	} {
		if err := s.CreateClient(ctx, c); err != nil {
			t.Fatalf("CreateClient(%s) = %v", c.ID, err)
		}
		got, err := s.GetClient(ctx, c.ID)
		if err != nil {
			t.Fatalf("GetClient(%s) = %v", c.ID, err)
		}
		diff(t, "GetClient("+c.ID+")", got, c)
	}
	if _, err := s.UpdateClient(ctx, "subject", func(c *store.Client) error {
		c.TLSSANDNS = "worker.example"
		return nil
	}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("UpdateClient(subject, adding a second certificate name) = %v; want ErrInvalid", err)
	}
	got, err := s.UpdateClient(ctx, "subject", func(c *store.Client) error {
		c.TLSSubject, c.TLSSANURI, c.TLSClientCertificateBoundAccessTokens = "", "spiffe://example.org/w", false
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateClient(subject to a URI) = %v", err)
	}
	if got, err = s.GetClient(ctx, "subject"); err != nil || got.TLSSubject != "" || got.TLSSANURI != "spiffe://example.org/w" || got.TLSClientCertificateBoundAccessTokens {
		t.Errorf("GetClient(subject) after update = %+v, %v; want only the URI, unbound", got, err)
	}
}

// testClientRequireDPoP stores a client that requires DPoP beside one
// that does not, and turns the requirement off and on again: a backend
// that drops the field fails the round trip.
func testClientRequireDPoP(t *testing.T, s store.Clients) {
	ctx := t.Context()
	bound := fullClient("bound")
	bound.RequireDPoP = true
	plain := fullClient("plain")
	for _, c := range []*store.Client{bound, plain} {
		if err := s.CreateClient(ctx, c); err != nil {
			t.Fatalf("CreateClient(%s) = %v", c.ID, err)
		}
		got, err := s.GetClient(ctx, c.ID)
		if err != nil {
			t.Fatalf("GetClient(%s) = %v", c.ID, err)
		}
		diff(t, "GetClient("+c.ID+")", got, c)
	}
	for _, require := range []bool{false, true} {
		got, err := s.UpdateClient(ctx, "bound", func(c *store.Client) error {
			c.RequireDPoP = require
			return nil
		})
		if err != nil {
			t.Fatalf("UpdateClient(bound, RequireDPoP=%t) = %v", require, err)
		}
		if got.RequireDPoP != require {
			t.Errorf("UpdateClient(bound, RequireDPoP=%t).RequireDPoP = %t; want %t", require, got.RequireDPoP, require)
		}
		if got, err = s.GetClient(ctx, "bound"); err != nil || got.RequireDPoP != require {
			t.Errorf("GetClient(bound).RequireDPoP = %t, %v after setting %t; want %t", got != nil && got.RequireDPoP, err, require, require)
		}
	}
}

// testClientAuthMethods stores private_key_jwt clients (keys by value and
// by URL), turns a secret client into one and back, and checks that each
// method round-trips.
func testClientAuthMethods(t *testing.T, s store.Clients) {
	ctx := t.Context()
	byValue := fullClient("by-value")
	noSecret(byValue)
	byValue.JWKS = []byte(publicJWKS)
	byURL := fullClient("by-url")
	noSecret(byURL)
	byURL.JWKSURI = "https://client.example/.well-known/jwks.json"
	local := &store.Client{ID: "local", AuthMethod: store.AuthMethodPrivateKeyJWT, JWKSURI: "http://127.0.0.1:8080/jwks"}
	basic := fullClient("basic")
	basic.AuthMethod = store.AuthMethodClientSecretBasic
	post := fullClient("post")
	post.AuthMethod = store.AuthMethodClientSecretPost
	for _, c := range []*store.Client{byValue, byURL, local, basic, post} {
		if err := s.CreateClient(ctx, c); err != nil {
			t.Fatalf("CreateClient(%s) = %v", c.ID, err)
		}
		got, err := s.GetClient(ctx, c.ID)
		if err != nil {
			t.Fatalf("GetClient(%s) = %v", c.ID, err)
		}
		diff(t, "GetClient("+c.ID+")", got, c)
	}

	// A secret client becomes private_key_jwt only without its secrets.
	if _, err := s.UpdateClient(ctx, "basic", func(c *store.Client) error {
		c.AuthMethod, c.JWKS = store.AuthMethodPrivateKeyJWT, []byte(publicJWKS)
		return nil
	}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("UpdateClient(basic to private_key_jwt keeping the secret) = %v; want ErrInvalid", err)
	}
	want := basic.Clone()
	noSecret(want)
	want.JWKS = []byte(publicJWKS)
	got, err := s.UpdateClient(ctx, "basic", func(c *store.Client) error {
		noSecret(c)
		c.JWKS = []byte(publicJWKS)
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateClient(basic to private_key_jwt) = %v", err)
	}
	diff(t, "UpdateClient(basic to private_key_jwt)", got, want)
	got, err = s.GetClient(ctx, "basic")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "GetClient(basic) after update", got, want)

	// And back, dropping its keys.
	want.AuthMethod, want.JWKS, want.SecretHash, want.SecretAlgorithm = "", nil, []byte{7, 7}, "sha256"
	got, err = s.UpdateClient(ctx, "basic", func(c *store.Client) error {
		c.AuthMethod, c.JWKS, c.SecretHash, c.SecretAlgorithm = "", nil, []byte{7, 7}, "sha256"
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateClient(back to a secret) = %v", err)
	}
	diff(t, "UpdateClient(back to a secret)", got, want)

	// The stored JWK Set is the caller's copy, not an alias.
	c := fullClient("alias")
	noSecret(c)
	c.JWKS = []byte(publicJWKS)
	if err := s.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	c.JWKS[0] = 'X'
	got, err = s.GetClient(ctx, "alias")
	if err != nil {
		t.Fatal(err)
	}
	if string(got.JWKS) != publicJWKS {
		t.Errorf("GetClient(alias).JWKS = %s after the caller changed its copy; want %s", got.JWKS, publicJWKS)
	}
}

func fullKey(id string, created time.Time) *store.SigningKey {
	return &store.SigningKey{
		ID:           id,
		Algorithm:    "ES256",
		State:        store.KeyRetiring,
		PrivateKey:   []byte{0, 1, 2, 3, 250},
		PublicJWK:    []byte(`{"kty":"EC","kid":"` + id + `"}`),
		CreatedAt:    created,
		ActivatedAt:  created.Add(time.Minute),
		RetiredAt:    created.Add(time.Hour),
		PublishUntil: created.Add(25 * time.Hour),
	}
}

func diff(t *testing.T, what string, got, want any) {
	t.Helper()
	if d := cmp.Diff(want, got, cmpOpts...); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

func testClientCRUD(t *testing.T, s store.Clients) {
	ctx := t.Context()
	a, b := fullClient("a"), &store.Client{ID: "b", Name: "minimal", CreatedAt: base.Add(time.Minute)}
	for _, c := range []*store.Client{a, b} {
		if err := s.CreateClient(ctx, c); err != nil {
			t.Fatalf("CreateClient(%s) = %v", c.ID, err)
		}
	}
	got, err := s.GetClient(ctx, "a")
	if err != nil {
		t.Fatalf("GetClient(a) = %v", err)
	}
	diff(t, "GetClient(a)", got, a)
	got, err = s.GetClient(ctx, "b")
	if err != nil {
		t.Fatalf("GetClient(b) = %v", err)
	}
	diff(t, "GetClient(b)", got, b)
	if !got.CreatedAt.Equal(b.CreatedAt) || got.PreviousSecretExpiresAt != (time.Time{}) || !got.RevokedBefore.IsZero() {
		t.Errorf("GetClient(b) times = %v %v %v; want created %v and zero times", got.CreatedAt, got.PreviousSecretExpiresAt, got.RevokedBefore, b.CreatedAt)
	}

	list, err := s.ListClients(ctx)
	if err != nil {
		t.Fatalf("ListClients() = %v", err)
	}
	slices.SortFunc(list, func(x, y *store.Client) int { return strings.Compare(x.ID, y.ID) })
	diff(t, "ListClients()", list, []*store.Client{a, b})

	want := a.Clone()
	want.Name, want.Disabled, want.Scopes, want.Metadata = "renamed", false, []string{"read:invoices"}, nil
	want.UpdatedAt = base.Add(time.Hour)
	updated, err := s.UpdateClient(ctx, "a", func(c *store.Client) error {
		diff(t, "UpdateClient(a) input", c, a)
		c.Name, c.Disabled, c.Scopes, c.Metadata = "renamed", false, []string{"read:invoices"}, nil
		c.UpdatedAt = base.Add(time.Hour)
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateClient(a) = %v", err)
	}
	diff(t, "UpdateClient(a) result", updated, want)
	got, err = s.GetClient(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "GetClient(a) after update", got, want)

	if err := s.DeleteClient(ctx, "a"); err != nil {
		t.Fatalf("DeleteClient(a) = %v", err)
	}
	if _, err := s.GetClient(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetClient(a) after delete = %v; want ErrNotFound", err)
	}
	list, err = s.ListClients(ctx)
	if err != nil || len(list) != 1 || list[0].ID != "b" {
		t.Errorf("ListClients() after delete = %v, %v; want [b]", list, err)
	}
}

func testClientErrors(t *testing.T, s store.Clients) {
	ctx := t.Context()
	if err := s.CreateClient(ctx, fullClient("a")); err != nil {
		t.Fatal(err)
	}
	dup := &store.Client{ID: "a", Name: "other"}
	if err := s.CreateClient(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateClient(existing) = %v; want ErrConflict", err)
	}
	if got, _ := s.GetClient(ctx, "a"); got == nil || got.Name != fullClient("a").Name {
		t.Errorf("a failed CreateClient changed the existing client: %+v", got)
	}
	if _, err := s.GetClient(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetClient(missing) = %v; want ErrNotFound", err)
	}
	called := false
	if _, err := s.UpdateClient(ctx, "missing", func(*store.Client) error { called = true; return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateClient(missing) = %v; want ErrNotFound", err)
	}
	if called {
		t.Errorf("UpdateClient(missing) called the updater")
	}
	if err := s.DeleteClient(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteClient(missing) = %v; want ErrNotFound", err)
	}
	// IDs are compared exactly.
	if _, err := s.GetClient(ctx, "A"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetClient(A) = %v; want ErrNotFound (IDs are case-sensitive)", err)
	}
}

func testClientCopies(t *testing.T, s store.Clients) {
	ctx := t.Context()
	in := fullClient("a")
	if err := s.CreateClient(ctx, in); err != nil {
		t.Fatal(err)
	}
	in.Audiences[0], in.SecretHash[0], in.Metadata["owner"] = "mutated", 99, "mutated"
	got, err := s.GetClient(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "GetClient(a) after mutating the created value", got, fullClient("a"))

	got.Scopes[0], got.PreviousSecretHash[0], got.Metadata["ticket"] = "mutated", 99, "mutated"
	again, _ := s.GetClient(ctx, "a")
	diff(t, "GetClient(a) after mutating a returned value", again, fullClient("a"))

	var kept *store.Client
	updated, err := s.UpdateClient(ctx, "a", func(c *store.Client) error { kept = c; return nil })
	if err != nil {
		t.Fatal(err)
	}
	kept.Audiences[1], kept.Metadata["owner"] = "mutated", "mutated"
	updated.Scopes[1] = "mutated"
	list, _ := s.ListClients(ctx)
	list[0].Audiences[0] = "mutated"
	again, _ = s.GetClient(ctx, "a")
	diff(t, "GetClient(a) after mutating the updater's and List's values", again, fullClient("a"))
}

func testClientUpdateAborts(t *testing.T, s store.Clients) {
	ctx := t.Context()
	if err := s.CreateClient(ctx, fullClient("a")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	_, err := s.UpdateClient(ctx, "a", func(c *store.Client) error {
		c.Name, c.Disabled = "half-done", false
		c.Metadata["owner"] = "half-done"
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("UpdateClient(updater error) = %v; want the updater's error", err)
	}
	got, _ := s.GetClient(ctx, "a")
	diff(t, "GetClient(a) after an aborted update", got, fullClient("a"))
}

// testClientConcurrentUpdates: N goroutines increment a counter through
// UpdateClient; a lost update shows as a short count.
func testClientConcurrentUpdates(t *testing.T, s store.Clients) {
	ctx := t.Context()
	if err := s.CreateClient(ctx, &store.Client{ID: "a", Metadata: map[string]string{"n": "0"}, CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, Concurrency*Increments)
	var wg sync.WaitGroup
	for range Concurrency {
		wg.Go(func() {
			for range Increments {
				_, err := s.UpdateClient(ctx, "a", func(c *store.Client) error {
					n, err := strconv.Atoi(c.Metadata["n"])
					if err != nil {
						return err
					}
					runtime.Gosched() // invite a lost update
					c.Metadata["n"] = strconv.Itoa(n + 1)
					c.RateLimitBurst = n + 1
					return nil
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent UpdateClient() = %v", err)
	}
	got, err := s.GetClient(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if want := strconv.Itoa(Concurrency * Increments); got.Metadata["n"] != want || got.RateLimitBurst != Concurrency*Increments {
		t.Errorf("counter after %d concurrent increments = %s (burst %d); want %s", Concurrency*Increments, got.Metadata["n"], got.RateLimitBurst, want)
	}
}

func testKeyCRUD(t *testing.T, s store.Keys) {
	ctx := t.Context()
	// Created out of order: ListKeys returns them oldest first.
	k2, k1 := fullKey("k2", base.Add(time.Hour)), fullKey("k1", base)
	k1.State, k1.RetiredAt, k1.PublishUntil = store.KeyActive, time.Time{}, time.Time{}
	for _, k := range []*store.SigningKey{k2, k1} {
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatalf("CreateKey(%s) = %v", k.ID, err)
		}
	}
	got, err := s.GetKey(ctx, "k1")
	if err != nil {
		t.Fatalf("GetKey(k1) = %v", err)
	}
	diff(t, "GetKey(k1)", got, k1)
	if !got.RetiredAt.IsZero() || !got.PublishUntil.IsZero() {
		t.Errorf("GetKey(k1) zero times came back as %v, %v", got.RetiredAt, got.PublishUntil)
	}
	list, err := s.ListKeys(ctx)
	if err != nil {
		t.Fatalf("ListKeys() = %v", err)
	}
	diff(t, "ListKeys()", list, []*store.SigningKey{k1, k2})

	want := k1.Clone()
	want.State, want.RetiredAt, want.PrivateKey = store.KeyRetiring, base.Add(2*time.Hour), nil
	updated, err := s.UpdateKey(ctx, "k1", func(k *store.SigningKey) error {
		k.State, k.RetiredAt, k.PrivateKey = store.KeyRetiring, base.Add(2*time.Hour), nil
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateKey(k1) = %v", err)
	}
	diff(t, "UpdateKey(k1) result", updated, want)
	got, _ = s.GetKey(ctx, "k1")
	diff(t, "GetKey(k1) after update", got, want)

	if err := s.DeleteKey(ctx, "k2"); err != nil {
		t.Fatalf("DeleteKey(k2) = %v", err)
	}
	if _, err := s.GetKey(ctx, "k2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetKey(k2) after delete = %v; want ErrNotFound", err)
	}
}

func testKeyErrors(t *testing.T, s store.Keys) {
	ctx := t.Context()
	if err := s.CreateKey(ctx, fullKey("k", base)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateKey(ctx, fullKey("k", base.Add(time.Hour))); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateKey(existing) = %v; want ErrConflict", err)
	}
	if _, err := s.GetKey(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetKey(missing) = %v; want ErrNotFound", err)
	}
	if _, err := s.UpdateKey(ctx, "missing", func(*store.SigningKey) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateKey(missing) = %v; want ErrNotFound", err)
	}
	if err := s.DeleteKey(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteKey(missing) = %v; want ErrNotFound", err)
	}
	boom := errors.New("boom")
	if _, err := s.UpdateKey(ctx, "k", func(k *store.SigningKey) error { k.State = store.KeyRetired; return boom }); !errors.Is(err, boom) {
		t.Errorf("UpdateKey(updater error) = %v; want the updater's error", err)
	}
	got, _ := s.GetKey(ctx, "k")
	diff(t, "GetKey(k) after an aborted update", got, fullKey("k", base))
}

func testKeyCopies(t *testing.T, s store.Keys) {
	ctx := t.Context()
	in := fullKey("k", base)
	if err := s.CreateKey(ctx, in); err != nil {
		t.Fatal(err)
	}
	in.PrivateKey[0], in.PublicJWK[0] = 99, 'X'
	got, _ := s.GetKey(ctx, "k")
	diff(t, "GetKey(k) after mutating the created value", got, fullKey("k", base))
	got.PrivateKey[1] = 99
	list, _ := s.ListKeys(ctx)
	list[0].PublicJWK[1] = 'X'
	err := s.UpdateKeys(ctx, func(keys []*store.SigningKey) ([]*store.SigningKey, error) {
		keys[0].PrivateKey[2] = 99 // not returned: must not be stored
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	again, _ := s.GetKey(ctx, "k")
	diff(t, "GetKey(k) after mutating returned values", again, fullKey("k", base))
}

func testUpdateKeys(t *testing.T, s store.Keys) {
	ctx := t.Context()
	a, b, d := fullKey("a", base), fullKey("b", base.Add(time.Minute)), fullKey("d", base.Add(2*time.Minute))
	a.State, b.State, d.State = store.KeyActive, store.KeyNext, store.KeyRetired
	for _, k := range []*store.SigningKey{a, b, d} {
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	c := fullKey("c", base.Add(time.Hour))
	c.State = store.KeyNext
	err := s.UpdateKeys(ctx, func(keys []*store.SigningKey) ([]*store.SigningKey, error) {
		diff(t, "UpdateKeys() input", keys, []*store.SigningKey{a, b, d})
		keys[0].State, keys[0].PrivateKey = store.KeyRetiring, nil
		keys[1].State = store.KeyActive
		keys[2].State = store.KeyNext // dropped from the result: left unchanged
		return []*store.SigningKey{keys[0], keys[1], c}, nil
	})
	if err != nil {
		t.Fatalf("UpdateKeys() = %v", err)
	}
	wa, wb := a.Clone(), b.Clone()
	wa.State, wa.PrivateKey = store.KeyRetiring, nil
	wb.State = store.KeyActive
	list, err := s.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "ListKeys() after UpdateKeys()", list, []*store.SigningKey{wa, wb, d, c})

	// An updater that changes nothing writes nothing.
	if err := s.UpdateKeys(ctx, func([]*store.SigningKey) ([]*store.SigningKey, error) { return nil, nil }); err != nil {
		t.Fatalf("UpdateKeys(no change) = %v", err)
	}
	list, _ = s.ListKeys(ctx)
	diff(t, "ListKeys() after an empty UpdateKeys()", list, []*store.SigningKey{wa, wb, d, c})
}

// testUpdateKeysRevoke: an emergency revocation (the active key revoked
// with its private key erased, the next key active at once) is stored
// wholly and read back by every read path.
func testUpdateKeysRevoke(t *testing.T, s store.Keys) {
	ctx := t.Context()
	a, b := fullKey("a", base), fullKey("b", base.Add(time.Minute))
	a.State, b.State = store.KeyActive, store.KeyNext
	for _, k := range []*store.SigningKey{a, b} {
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	at := base.Add(2 * time.Minute)
	err := s.UpdateKeys(ctx, func(keys []*store.SigningKey) ([]*store.SigningKey, error) {
		keys[0].State, keys[0].PrivateKey, keys[0].RetiredAt, keys[0].PublishUntil = store.KeyRevoked, nil, at, at
		keys[1].State, keys[1].ActivatedAt = store.KeyActive, at
		return keys, nil
	})
	if err != nil {
		t.Fatalf("UpdateKeys(revoke) = %v", err)
	}
	wa, wb := a.Clone(), b.Clone()
	wa.State, wa.PrivateKey, wa.RetiredAt, wa.PublishUntil = store.KeyRevoked, nil, at, at
	wb.State, wb.ActivatedAt = store.KeyActive, at
	list, err := s.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "ListKeys() after a revocation", list, []*store.SigningKey{wa, wb})
	got, err := s.GetKey(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "GetKey(revoked key)", got, wa)
}

func testUpdateKeysAborts(t *testing.T, s store.Keys) {
	ctx := t.Context()
	a := fullKey("a", base)
	if err := s.CreateKey(ctx, a); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := s.UpdateKeys(ctx, func(keys []*store.SigningKey) ([]*store.SigningKey, error) {
		keys[0].State = store.KeyRetired
		return []*store.SigningKey{keys[0], fullKey("new", base)}, boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("UpdateKeys(updater error) = %v; want the updater's error", err)
	}
	// A result the backend cannot store wholly (a key with an empty ID
	// after a valid change and a valid new key) stores none of it.
	dup := fullKey("x", base.Add(time.Hour))
	err = s.UpdateKeys(ctx, func(keys []*store.SigningKey) ([]*store.SigningKey, error) {
		keys[0].State = store.KeyRetired
		return []*store.SigningKey{keys[0], dup, {ID: ""}}, nil
	})
	if err == nil {
		t.Errorf("UpdateKeys(key with empty ID) = nil; want an error")
	}
	list, _ := s.ListKeys(ctx)
	diff(t, "ListKeys() after aborted UpdateKeys()", list, []*store.SigningKey{a})
}

// testUpdateKeysConcurrent: N goroutines each append one key numbered by
// the count they read; serialized transactions yield keys 0..N*M-1.
func testUpdateKeysConcurrent(t *testing.T, s store.Keys) {
	ctx := t.Context()
	n := Concurrency * Increments / 2
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range Concurrency {
		wg.Go(func() {
			for range Increments / 2 {
				err := s.UpdateKeys(ctx, func(keys []*store.SigningKey) ([]*store.SigningKey, error) {
					runtime.Gosched()
					k := fullKey(fmt.Sprintf("k%03d", len(keys)), base.Add(time.Duration(len(keys))*time.Second))
					return []*store.SigningKey{k}, nil
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent UpdateKeys() = %v", err)
	}
	list, err := s.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != n {
		t.Fatalf("ListKeys() after %d concurrent appends = %d keys", n, len(list))
	}
	for i, k := range list {
		if want := fmt.Sprintf("k%03d", i); k.ID != want {
			t.Errorf("ListKeys()[%d] = %s; want %s", i, k.ID, want)
		}
	}
}

// testUpdateKeysCreateOnce: replicas starting at once each create the
// first key only if there is none; exactly one wins.
func testUpdateKeysCreateOnce(t *testing.T, s store.Keys) {
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, Concurrency)
	for i := range Concurrency {
		wg.Go(func() {
			errs <- s.UpdateKeys(ctx, func(keys []*store.SigningKey) ([]*store.SigningKey, error) {
				if len(keys) > 0 {
					return nil, nil
				}
				return []*store.SigningKey{fullKey(fmt.Sprintf("first-%d", i), base)}, nil
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent UpdateKeys() = %v", err)
		}
	}
	if list, _ := s.ListKeys(ctx); len(list) != 1 {
		t.Errorf("ListKeys() after %d concurrent create-if-none = %d keys; want 1", Concurrency, len(list))
	}
}

func testRevocations(t *testing.T, s store.Revocations) {
	ctx := t.Context()
	now := time.Now()
	for _, tc := range []struct {
		jti    string
		expiry time.Time
		want   bool
	}{
		{"live", now.Add(time.Hour), true},
		{"expired", now.Add(-time.Second), false},
		{"long-lived", now.Add(365 * 24 * time.Hour), true},
	} {
		if err := s.RevokeToken(ctx, tc.jti, tc.expiry); err != nil {
			t.Fatalf("RevokeToken(%s) = %v", tc.jti, err)
		}
		got, err := s.IsRevoked(ctx, tc.jti)
		if err != nil || got != tc.want {
			t.Errorf("IsRevoked(%s) = %v, %v; want %v", tc.jti, got, err, tc.want)
		}
	}
	if got, err := s.IsRevoked(ctx, "unknown"); err != nil || got {
		t.Errorf("IsRevoked(unknown) = %v, %v; want false", got, err)
	}
	if got, err := s.IsRevoked(ctx, "LIVE"); err != nil || got {
		t.Errorf("IsRevoked(LIVE) = %v, %v; want false (jti is case-sensitive)", got, err)
	}
	// Revoking again is not an error, and never shortens a revocation.
	if err := s.RevokeToken(ctx, "live", now.Add(-time.Hour)); err != nil {
		t.Errorf("RevokeToken(live) again = %v", err)
	}
	if got, _ := s.IsRevoked(ctx, "live"); !got {
		t.Errorf("IsRevoked(live) after a second, earlier RevokeToken = false; want true")
	}
	// Revoking an expired one again with a later expiry revives it.
	if err := s.RevokeToken(ctx, "expired", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.IsRevoked(ctx, "expired"); !got {
		t.Errorf("IsRevoked(expired) after extending = false; want true")
	}
	// A zero expiry is an error, not a silent no-op, and leaves an
	// existing revocation alone.
	for _, jti := range []string{"no-expiry", "live"} {
		if err := s.RevokeToken(ctx, jti, time.Time{}); !errors.Is(err, store.ErrNoExpiry) {
			t.Errorf("RevokeToken(%s, zero time) = %v; want store.ErrNoExpiry", jti, err)
		}
	}
	if got, err := s.IsRevoked(ctx, "no-expiry"); err != nil || got {
		t.Errorf("IsRevoked(no-expiry) = %v, %v; want false", got, err)
	}
	if got, err := s.IsRevoked(ctx, "live"); err != nil || !got {
		t.Errorf("IsRevoked(live) after a zero-expiry RevokeToken = %v, %v; want true", got, err)
	}
}

func testPing(t *testing.T, s store.Store) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping() = %v", err)
	}
}

// testClientValidation: every backend refuses to store a client that
// [store.Client.Validate] refuses, on create and on update, and stores
// nothing of it.
func testClientValidation(t *testing.T, s store.Clients) {
	ctx := t.Context()
	tests := []struct {
		name string
		mod  func(c *store.Client)
	}{
		{"id with a slash", func(c *store.Client) { c.ID = "a/b" }},
		{"id with a newline", func(c *store.Client) { c.ID = "a\nb" }},
		{"id of 10 KB", func(c *store.Client) { c.ID = strings.Repeat("a", 10<<10) }},
		{"empty id", func(c *store.Client) { c.ID = "" }},
		{"scope with U+00A0", func(c *store.Client) { c.Scopes = []string{"read\u00a0admin"} }},
		{"scope with a space", func(c *store.Client) { c.Scopes = []string{"read admin"} }},
		{"negative lifetime", func(c *store.Client) { c.TokenTTL = -time.Second }},
		{"rate 1e-300", func(c *store.Client) { c.RateLimitPerSecond = 1e-300 }},
		{"rate NaN", func(c *store.Client) { c.RateLimitPerSecond = math.NaN() }},
		{"rate +Inf", func(c *store.Client) { c.RateLimitPerSecond = math.Inf(1) }},
		{"negative burst", func(c *store.Client) { c.RateLimitBurst = -1 }},
		{"unknown profile", func(c *store.Client) { c.Profile = "jwt" }},
		{"name with a newline", func(c *store.Client) { c.Name = "a\nb" }},
		{"audience with a space", func(c *store.Client) { c.Audiences = []string{"https://a b"} }},
		{"unknown auth method", func(c *store.Client) { c.AuthMethod = "tls_client_auth" }},
		{"secret client with a JWK Set", func(c *store.Client) { c.JWKS = []byte(publicJWKS) }},
		{"secret client with a jwks_uri", func(c *store.Client) { c.JWKSURI = "https://client.example/jwks" }},
		{"private_key_jwt with a secret", func(c *store.Client) {
			c.AuthMethod, c.JWKS, c.PreviousSecretHash = store.AuthMethodPrivateKeyJWT, []byte(publicJWKS), nil
		}},
		{"private_key_jwt without keys", func(c *store.Client) { noSecret(c) }},
		{"private_key_jwt with a private key", func(c *store.Client) { noSecret(c); c.JWKS = []byte(privateJWKS) }},
		{"private_key_jwt with an HMAC key", func(c *store.Client) { noSecret(c); c.JWKS = []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`) }},
		{"private_key_jwt with a JWK Set of 100 KB", func(c *store.Client) {
			noSecret(c)
			c.JWKS = []byte(`{"keys":[` + strings.Repeat(`{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},`, 1000) + `1]}`)
		}},
		{"private_key_jwt with both a JWK Set and a jwks_uri", func(c *store.Client) {
			noSecret(c)
			c.JWKS, c.JWKSURI = []byte(publicJWKS), "https://client.example/jwks"
		}},
		{"private_key_jwt with an http jwks_uri", func(c *store.Client) { noSecret(c); c.JWKSURI = "http://client.example/jwks" }},
		{"private_key_jwt with a jwks_uri with a password", func(c *store.Client) { noSecret(c); c.JWKSURI = "https://u:p@client.example/jwks" }},
	}
	for i, tt := range tests {
		c := fullClient(fmt.Sprintf("valid-%d", i))
		tt.mod(c)
		if err := s.CreateClient(ctx, c); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CreateClient(%s) = %v; want ErrInvalid", tt.name, err)
		}
		if c.ID != "" && len(c.ID) < 1000 {
			if _, err := s.GetClient(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetClient after CreateClient(%s) = %v; want ErrNotFound", tt.name, err)
			}
		}
	}
	if err := s.CreateClient(ctx, fullClient("ok")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		if strings.HasPrefix(tt.name, "id") || tt.name == "empty id" {
			continue // the updater cannot change the id
		}
		_, err := s.UpdateClient(ctx, "ok", func(c *store.Client) error { tt.mod(c); return nil })
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("UpdateClient(%s) = %v; want ErrInvalid", tt.name, err)
		}
	}
	got, err := s.GetClient(ctx, "ok")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "client after refused updates", got, fullClient("ok"))
}
