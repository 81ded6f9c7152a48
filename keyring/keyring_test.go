package keyring

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/memstore"
)

var master = bytes.Repeat([]byte{7}, 32)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testConfig(s store.Keys, c *clock) Config {
	return Config{Store: s, Master: master, Now: c.Now, PrePublish: 10 * time.Minute, MaxTokenTTL: time.Hour}
}

func mustNew(t *testing.T, cfg Config) *Keyring {
	t.Helper()
	k, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return k
}

// jwksKIDs returns the kids of a JWKS document, checking each entry.
func jwksKIDs(t *testing.T, doc []byte) []string {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatalf("JWKS() is not a key set: %v", err)
	}
	var kids []string
	for _, k := range set.Keys {
		if !k.IsPublic() || k.Use != "sig" || k.Algorithm == "" || k.KeyID == "" {
			t.Errorf("JWKS() entry %+v: want a public signing key with kid and alg", k)
		}
		kids = append(kids, k.KeyID)
	}
	return kids
}

// verify checks token against the JWKS and returns its kid.
func verify(t *testing.T, doc []byte, token string) string {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatal(err)
	}
	tok, err := jws.Parse(token, 0)
	if err != nil {
		t.Fatalf("jws.Parse() = %v", err)
	}
	keys := set.Key(tok.Header.Kid)
	if len(keys) != 1 {
		t.Fatalf("kid %q in JWKS %d times; want 1", tok.Header.Kid, len(keys))
	}
	if keys[0].Algorithm != tok.Header.Alg {
		t.Fatalf("JWKS alg = %q; token alg %q", keys[0].Algorithm, tok.Header.Alg)
	}
	if err := tok.Verify(keys[0].Key); err != nil {
		t.Fatalf("Verify() = %v", err)
	}
	return tok.Header.Kid
}

func sign(t *testing.T, k *Keyring) (token, kid string) {
	t.Helper()
	token, kid, err := k.Sign("at+jwt", []byte(`{"sub":"c"}`))
	if err != nil {
		t.Fatalf("Sign() = %v", err)
	}
	return token, kid
}

func TestNewSignsAndPublishes(t *testing.T) {
	for _, alg := range []string{"", "ES256", "EdDSA", "RS256"} {
		t.Run("alg="+alg, func(t *testing.T) {
			s := memstore.New()
			cfg := testConfig(s, newClock())
			cfg.Algorithm = alg
			k := mustNew(t, cfg)
			token, kid := sign(t, k)
			if got := verify(t, k.JWKS(), token); got != kid {
				t.Errorf("token kid = %q; want %q", got, kid)
			}
			want := alg
			if want == "" {
				want = DefaultAlgorithm
			}
			tok, _ := jws.Parse(token, 0)
			if tok.Header.Alg != want || tok.Header.Typ != "at+jwt" {
				t.Errorf("header = %+v; want alg %s typ at+jwt", tok.Header, want)
			}
			keys, _ := s.ListKeys(t.Context())
			if len(keys) != 1 || keys[0].State != store.KeyActive || keys[0].ID != kid {
				t.Fatalf("stored keys = %+v; want one active %s", keys, kid)
			}
			if bytes.Contains(keys[0].PrivateKey, []byte("PRIVATE")) || len(keys[0].PrivateKey) < 40 {
				t.Errorf("stored private key does not look sealed")
			}
			// A second keyring on the same store reuses the key.
			k2 := mustNew(t, cfg)
			if _, kid2 := sign(t, k2); kid2 != kid {
				t.Errorf("second keyring signs with %q; want %q", kid2, kid)
			}
		})
	}
}

func TestLifecycle(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	c := newClock()
	k := mustNew(t, testConfig(s, c))
	_, old := sign(t, k)

	if err := k.Rotate(ctx); err != nil {
		t.Fatalf("Rotate() = %v", err)
	}
	if err := k.Rotate(ctx); err != nil { // pending: no second next key
		t.Fatalf("Rotate() again = %v", err)
	}
	infos := k.Keys()
	if len(infos) != 2 || infos[1].State != store.KeyNext {
		t.Fatalf("Keys() after Rotate = %+v; want active + next", infos)
	}
	next := infos[1].ID
	if got, want := infos[1].ActivatedAt, c.Now().Add(10*time.Minute); !got.Equal(want) {
		t.Errorf("next ActivatedAt = %v; want %v", got, want)
	}
	if kids := jwksKIDs(t, k.JWKS()); len(kids) != 2 {
		t.Errorf("JWKS() kids = %v; want the active and the next key", kids)
	}
	if _, kid := sign(t, k); kid != old {
		t.Errorf("Sign() before PrePublish uses %q; want the old key %q", kid, old)
	}

	// At the activation time Sign switches by itself, before any Advance.
	c.Add(10 * time.Minute)
	switchAt := c.Now()
	token, kid := sign(t, k)
	if kid != next {
		t.Fatalf("Sign() at activation uses %q; want %q", kid, next)
	}
	verify(t, k.JWKS(), token)

	c.Add(time.Minute)
	if err := k.Advance(ctx); err != nil {
		t.Fatalf("Advance() = %v", err)
	}
	got, _ := s.GetKey(ctx, old)
	wantUntil := switchAt.Add(time.Hour + PublishLeeway)
	if got.State != store.KeyRetiring || !got.RetiredAt.Equal(switchAt) || !got.PublishUntil.Equal(wantUntil) {
		t.Errorf("old key = %s retired %v until %v; want retiring %v until %v", got.State, got.RetiredAt, got.PublishUntil, switchAt, wantUntil)
	}
	if len(got.PrivateKey) != 0 {
		t.Errorf("retiring key still stores its private key")
	}
	if n, _ := s.GetKey(ctx, next); n.State != store.KeyActive || !n.ActivatedAt.Equal(switchAt) {
		t.Errorf("new key = %s at %v; want active at %v", n.State, n.ActivatedAt, switchAt)
	}
	if kids := jwksKIDs(t, k.JWKS()); len(kids) != 2 {
		t.Errorf("JWKS() while retiring = %v; want both keys", kids)
	}

	// Still published one instant before PublishUntil, gone at it.
	c.Add(wantUntil.Sub(c.Now()) - time.Second)
	if err := k.Advance(ctx); err != nil {
		t.Fatal(err)
	}
	if kids := jwksKIDs(t, k.JWKS()); len(kids) != 2 {
		t.Errorf("JWKS() just before PublishUntil = %v; want both keys", kids)
	}
	c.Add(time.Second)
	if err := k.Advance(ctx); err != nil {
		t.Fatal(err)
	}
	if kids := jwksKIDs(t, k.JWKS()); len(kids) != 1 || kids[0] != next {
		t.Errorf("JWKS() after PublishUntil = %v; want [%s]", kids, next)
	}
	if got, _ := s.GetKey(ctx, old); got.State != store.KeyRetired {
		t.Errorf("old key state = %s; want retired", got.State)
	}
	if infos := k.Keys(); len(infos) != 2 || infos[0].State != store.KeyRetired {
		t.Errorf("Keys() = %+v; want the retired key listed", infos)
	}
}

func TestAdvanceIdempotent(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	c := newClock()
	k := mustNew(t, testConfig(s, c))
	if err := k.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	c.Add(11 * time.Minute)
	if err := k.Advance(ctx); err != nil {
		t.Fatal(err)
	}
	before, _ := s.ListKeys(ctx)
	for range 3 {
		if err := k.Advance(ctx); err != nil {
			t.Fatal(err)
		}
	}
	after, _ := s.ListKeys(ctx)
	if len(before) != len(after) {
		t.Fatalf("Advance() changed the number of keys: %d -> %d", len(before), len(after))
	}
	for i := range before {
		b, a := before[i], after[i]
		if b.State != a.State || !b.ActivatedAt.Equal(a.ActivatedAt) || !b.RetiredAt.Equal(a.RetiredAt) || !b.PublishUntil.Equal(a.PublishUntil) {
			t.Errorf("Advance() again changed key %s: %+v -> %+v", b.ID, b, a)
		}
	}
}

// TestSkippedNext covers a replica that was down while two successive
// next keys became due: each key signed between its activation and its
// successor's, so each is retired at its successor's activation.
func TestSkippedNext(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	c := newClock()
	k := mustNew(t, testConfig(s, c))
	first := k.Keys()[0].ID
	if err := k.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	c.Add(10 * time.Minute)
	at1 := c.Now()
	// A second rotation lands while the first is due but not yet advanced
	// (another replica's Rotate runs the due transitions first).
	if err := k.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	infos := k.Keys()
	if len(infos) != 3 || infos[0].State != store.KeyRetiring || !infos[0].RetiredAt.Equal(at1) {
		t.Fatalf("Keys() = %+v; want the first key retiring at %v", infos, at1)
	}
	if infos[0].ID != first || infos[1].State != store.KeyActive || infos[2].State != store.KeyNext {
		t.Fatalf("Keys() = %+v; want retiring, active, next", infos)
	}
}

func TestReplicasConverge(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	c := newClock()
	cfg := testConfig(s, c)
	var wg sync.WaitGroup
	rings := make([]*Keyring, 4)
	errs := make([]error, len(rings))
	for i := range rings {
		wg.Go(func() { rings[i], errs[i] = New(ctx, cfg) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("New() = %v", err)
		}
	}
	keys, _ := s.ListKeys(ctx)
	if len(keys) != 1 {
		t.Fatalf("replicas starting at once created %d keys; want 1", len(keys))
	}
	a, b := rings[0], rings[1]
	c.Add(time.Second)
	if err := a.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	// b has not refreshed: it keeps signing with the old key and its JWKS
	// lacks the new one; after a refresh it publishes it.
	if kids := jwksKIDs(t, b.JWKS()); len(kids) != 1 {
		t.Fatalf("b JWKS() before refresh = %v", kids)
	}
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.JWKS(), b.JWKS()) {
		t.Errorf("JWKS() differ after refresh:\n%s\n%s", a.JWKS(), b.JWKS())
	}
	c.Add(10 * time.Minute)
	tokA, kidA := sign(t, a)
	tokB, kidB := sign(t, b)
	if kidA != kidB {
		t.Errorf("replicas sign with %q and %q at the same instant", kidA, kidB)
	}
	verify(t, b.JWKS(), tokA)
	verify(t, a.JWKS(), tokB)
	// Both advance; the result is the same as one.
	for _, r := range rings {
		if err := r.Advance(ctx); err != nil {
			t.Fatal(err)
		}
	}
	keys, _ = s.ListKeys(ctx)
	if len(keys) != 2 || keys[0].State != store.KeyRetiring || keys[1].State != store.KeyActive {
		t.Errorf("keys after all replicas advanced = %v, %v; want retiring, active", keys[0].State, keys[len(keys)-1].State)
	}
}

func TestScheduledRotation(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	c := newClock()
	cfg := testConfig(s, c)
	cfg.RotateEvery = time.Hour
	k := mustNew(t, cfg)
	start := c.Now()
	c.Add(49 * time.Minute)
	if err := k.Advance(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(k.Keys()); n != 1 {
		t.Fatalf("Keys() 49m after activation = %d keys; want 1", n)
	}
	c.Add(time.Minute)
	if err := k.Advance(ctx); err != nil {
		t.Fatal(err)
	}
	infos := k.Keys()
	if len(infos) != 2 || infos[1].State != store.KeyNext || !infos[1].ActivatedAt.Equal(start.Add(time.Hour)) {
		t.Fatalf("Keys() 50m after activation = %+v; want a next key due at %v", infos, start.Add(time.Hour))
	}
	c.Add(10 * time.Minute)
	if _, kid := sign(t, k); kid != infos[1].ID {
		t.Errorf("Sign() after RotateEvery uses %q; want %q", kid, infos[1].ID)
	}
}

func TestRunRefreshes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		s := memstore.New()
		cfg := Config{Store: s, Master: master, PrePublish: time.Minute, RefreshEvery: 5 * time.Second}
		a := mustNew(t, cfg)
		b := mustNew(t, cfg)
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		if err := b.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(6 * time.Second)
		if kids := jwksKIDs(t, a.JWKS()); len(kids) != 2 {
			t.Errorf("JWKS() one RefreshEvery after another replica's Rotate = %v; want 2 keys", kids)
		}
		time.Sleep(time.Minute)
		keys := a.Keys()
		if len(keys) != 2 || keys[0].State != store.KeyRetiring || keys[1].State != store.KeyActive {
			t.Errorf("Keys() after Run passed the activation = %+v; want retiring, active", keys)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run() = %v; want context.Canceled", err)
		}
	})
}

func TestWrongMaster(t *testing.T) {
	s := memstore.New()
	c := newClock()
	mustNew(t, testConfig(s, c))
	cfg := testConfig(s, c)
	cfg.Master = bytes.Repeat([]byte{8}, 32)
	_, err := New(t.Context(), cfg)
	if err == nil || !strings.Contains(err.Error(), "cannot open") {
		t.Fatalf("New() with another master = %v; want a cannot-open error", err)
	}
}

func TestTamperedKeys(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		name   string
		tamper func(a, b *store.SigningKey)
	}{
		{"swapped sealed keys", func(a, b *store.SigningKey) { a.PrivateKey, b.PrivateKey = b.PrivateKey, a.PrivateKey }},
		{"swapped public keys", func(a, b *store.SigningKey) { a.PublicJWK, b.PublicJWK = b.PublicJWK, a.PublicJWK }},
		{"flipped bit", func(a, b *store.SigningKey) { a.PrivateKey[len(a.PrivateKey)-1] ^= 1 }},
		{"truncated", func(a, b *store.SigningKey) { a.PrivateKey = a.PrivateKey[:10] }},
		{"wrong algorithm", func(a, b *store.SigningKey) { a.Algorithm = "EdDSA" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := memstore.New()
			c := newClock()
			k := mustNew(t, testConfig(s, c))
			if err := k.Rotate(ctx); err != nil {
				t.Fatal(err)
			}
			keys, _ := s.ListKeys(ctx)
			tc.tamper(keys[0], keys[1])
			for _, sk := range keys {
				if _, err := s.UpdateKey(ctx, sk.ID, func(d *store.SigningKey) error { *d = *sk; return nil }); err != nil {
					t.Fatal(err)
				}
			}
			if err := k.Refresh(ctx); err == nil {
				t.Errorf("Refresh() over tampered keys = nil; want an error")
			}
			// The last good snapshot keeps signing.
			token, _ := sign(t, k)
			verify(t, k.JWKS(), token)
			k2 := testConfig(s, c)
			if _, err := New(ctx, k2); err == nil {
				t.Errorf("New() over tampered keys = nil; want an error")
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	s := memstore.New()
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no store", Config{Master: master}, "Store is required"},
		{"short master", Config{Store: s, Master: master[:31]}, "at least 32 bytes"},
		{"bad algorithm", Config{Store: s, Master: master, Algorithm: "HS256"}, "not allowed"},
		{"none", Config{Store: s, Master: master, Algorithm: "none"}, "not allowed"},
		{"negative", Config{Store: s, Master: master, MaxTokenTTL: -1}, "MaxTokenTTL must not be negative"},
		{"refresh not before prepublish", Config{Store: s, Master: master, PrePublish: time.Second, RefreshEvery: time.Second}, "shorter than PrePublish"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(t.Context(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New() = %v; want an error containing %q", err, tc.want)
			}
		})
	}
	if keys, _ := s.ListKeys(t.Context()); len(keys) != 0 {
		t.Errorf("a rejected config created %d keys", len(keys))
	}
}

func TestEmptyStoreUnderKeyring(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	k := mustNew(t, testConfig(s, newClock()))
	keys, _ := s.ListKeys(ctx)
	if err := s.DeleteKey(ctx, keys[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := k.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := k.Sign("JWT", []byte("{}")); !errors.Is(err, ErrNoKey) {
		t.Errorf("Sign() with no keys = %v; want ErrNoKey", err)
	}
	if err := k.Ready(); !errors.Is(err, ErrNoKey) {
		t.Errorf("Ready() with no keys = %v; want ErrNoKey", err)
	}
	if got := string(k.JWKS()); got != `{"keys":[]}` {
		t.Errorf("JWKS() with no keys = %s", got)
	}
	if err := k.Advance(ctx); err != nil {
		t.Fatal(err)
	}
	sign(t, k)
}

// TestSignDuringRefresh runs Sign against concurrent refreshes and
// rotations (run with -race).
func TestSignDuringRefresh(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	c := newClock()
	k := mustNew(t, testConfig(s, c))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, _, err := k.Sign("JWT", []byte(`{}`)); err != nil {
					t.Error(err)
					return
				}
				_ = k.JWKS()
			}
		})
	}
	for range 20 {
		if err := k.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		// Two steps with a store read between them, as Run would make.
		c.Add(6 * time.Minute)
		if err := k.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		c.Add(5 * time.Minute)
		if err := k.Advance(ctx); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

func BenchmarkSign(b *testing.B) {
	payload := []byte(`{"iss":"https://issuer.example/","sub":"abc@clients","aud":"https://api.example","exp":1700003600,"iat":1700000000,"jti":"0123456789abcdef","scope":"read write"}`)
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		k, err := New(b.Context(), Config{Store: memstore.New(), Master: master, Algorithm: alg})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				if _, _, err := k.Sign("at+jwt", payload); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start)
		})
		b.Run(alg+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			start := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, _, err := k.Sign("at+jwt", payload); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportCPU(b, start)
		})
	}
}

// BenchmarkJWKS is the JWKS endpoint's cost: a pointer load.
func BenchmarkJWKS(b *testing.B) {
	k, err := New(b.Context(), Config{Store: memstore.New(), Master: master})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if len(k.JWKS()) == 0 {
			b.Fatal("empty JWKS")
		}
	}
}

// BenchmarkRefresh is what Run does every RefreshEvery in a steady state
// (three published keys, nothing due).
func BenchmarkRefresh(b *testing.B) {
	c := newClock()
	s := memstore.New()
	k, err := New(b.Context(), testConfig(s, c))
	if err != nil {
		b.Fatal(err)
	}
	for range 2 {
		c.Add(11 * time.Minute)
		if err := k.Rotate(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := k.tick(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

// TestScheduledRotationInvariant runs two replicas through twelve hours of
// scheduled rotations on a simulated clock, one refreshing every minute
// and the other every three, and checks the promise verifiers rely on at
// every minute: every unexpired token's key is in both replicas' JWKS.
func TestScheduledRotationInvariant(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	c := newClock()
	cfg := testConfig(s, c)
	cfg.RotateEvery = 2 * time.Hour
	cfg.RefreshEvery = time.Minute
	a, b := mustNew(t, cfg), mustNew(t, cfg)
	type issued struct {
		kid string
		exp time.Time
	}
	var live []issued
	kids := map[string]bool{}
	for minute := range 12 * 60 {
		c.Add(time.Minute)
		if err := a.tick(ctx); err != nil {
			t.Fatal(err)
		}
		if minute%3 == 0 {
			if err := b.tick(ctx); err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range []*Keyring{a, b} {
			_, kid := sign(t, r)
			kids[kid] = true
			live = append(live, issued{kid, c.Now().Add(cfg.MaxTokenTTL)})
		}
		inA := map[string]bool{}
		for _, kid := range jwksKIDs(t, a.JWKS()) {
			inA[kid] = true
		}
		inB := map[string]bool{}
		for _, kid := range jwksKIDs(t, b.JWKS()) {
			inB[kid] = true
		}
		kept := live[:0]
		for _, tok := range live {
			if !tok.exp.After(c.Now()) {
				continue
			}
			kept = append(kept, tok)
			if !inA[tok.kid] || !inB[tok.kid] {
				t.Fatalf("minute %d: key %s of a live token is missing from a JWKS (in a: %v, in b: %v)", minute, tok.kid, inA[tok.kid], inB[tok.kid])
			}
		}
		live = kept
	}
	if len(kids) < 6 {
		t.Errorf("12 hours with RotateEvery 2h signed with %d keys; want at least 6", len(kids))
	}
	if n := len(jwksKIDs(t, a.JWKS())); n > 3 {
		t.Errorf("JWKS() holds %d keys; want at most next + active + retiring", n)
	}
}

// flakyKeys is a store whose reads can be made to fail, as when a
// replica loses its database connection.
type flakyKeys struct {
	store.Keys
	mu   sync.Mutex
	down bool
}

func (f *flakyKeys) setDown(down bool) { f.mu.Lock(); f.down = down; f.mu.Unlock() }

func (f *flakyKeys) ListKeys(ctx context.Context) ([]*store.SigningKey, error) {
	f.mu.Lock()
	down := f.down
	f.mu.Unlock()
	if down {
		return nil, errors.New("flaky: store unreachable")
	}
	return f.Keys.ListKeys(ctx)
}

// TestStaleReplicaStopsSigning: replica B loses the store just before A
// rotates. Without a bound B would go on signing with the old key long
// after A's successor activated and A retired the old key, whose
// publication (counted from the successor's activation) would not cover
// B's tokens. B may sign for MaxStale after its last read, then refuses.
func TestStaleReplicaStopsSigning(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxStale time.Duration
		want     time.Duration // the effective bound
	}{
		{"default", 0, 10*time.Minute + PublishLeeway},
		{"PrePublish", 10 * time.Minute, 10 * time.Minute},
		{"short", time.Minute, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			s := memstore.New()
			c := newClock()
			a := mustNew(t, testConfig(s, c))
			fb := &flakyKeys{Keys: s}
			cfg := testConfig(fb, c)
			cfg.MaxStale = tc.maxStale
			b := mustNew(t, cfg)
			_, old := sign(t, b)
			lastRead := c.Now()
			fb.setDown(true)
			if err := a.Rotate(ctx); err != nil {
				t.Fatal(err)
			}
			if err := b.Refresh(ctx); err == nil {
				t.Fatal("Refresh() with the store down = nil error")
			}
			// Up to the bound B still signs, with the old key.
			c.Add(tc.want)
			if _, kid := sign(t, b); kid != old {
				t.Errorf("stale replica Sign() at the bound uses %q; want the old key %q", kid, old)
			}
			if err := b.Ready(); err != nil {
				t.Errorf("stale replica Ready() at the bound = %v; want nil", err)
			}
			c.Add(time.Second)
			if err := a.Advance(ctx); err != nil {
				t.Fatal(err)
			}
			if tok, kid, err := b.Sign("JWT", []byte(`{}`)); !errors.Is(err, ErrStale) {
				t.Errorf("stale replica Sign() %v after its last read = %q, %q, %v; want ErrStale", c.Now().Sub(lastRead), tok, kid, err)
			}
			if err := b.Ready(); !errors.Is(err, ErrStale) {
				t.Errorf("stale replica Ready() = %v; want ErrStale", err)
			}
			// The store is back: B reads it and signs again.
			fb.setDown(false)
			if err := b.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			if _, kid := sign(t, b); tc.want >= 10*time.Minute && kid == old {
				t.Errorf("Sign() after the store came back uses the retired key %q", kid)
			}
		})
	}
}

// TestMaxStaleBound: a MaxStale beyond PrePublish + PublishLeeway would
// let a cut-off replica sign tokens that outlive their key's publication.
func TestMaxStaleBound(t *testing.T) {
	c := newClock()
	for _, tc := range []struct {
		maxStale time.Duration
		ok       bool
	}{
		{10*time.Minute + PublishLeeway, true},
		{10*time.Minute + PublishLeeway + time.Second, false},
		{-time.Second, false},
	} {
		cfg := testConfig(memstore.New(), c)
		cfg.MaxStale = tc.maxStale
		_, err := New(t.Context(), cfg)
		if (err == nil) != tc.ok {
			t.Errorf("New(MaxStale %v) = %v; want ok %v", tc.maxStale, err, tc.ok)
		}
	}
}

// TestPublicKeysVersion checks the versioned snapshot of typed public keys:
// it always matches JWKS, and its version changes exactly when the
// published keys do.
func TestPublicKeysVersion(t *testing.T) {
	ctx := t.Context()
	c := newClock()
	k := mustNew(t, testConfig(memstore.New(), c))
	check := func(step string, wantVersion uint64) {
		t.Helper()
		set, v := k.PublicKeys()
		if v != wantVersion {
			t.Errorf("%s: PublicKeys() version = %d; want %d", step, v, wantVersion)
		}
		var ids []string
		for _, key := range set.Keys() {
			ids = append(ids, key.ID)
		}
		if want := jwksKIDs(t, k.JWKS()); !slices.Equal(ids, want) {
			t.Errorf("%s: PublicKeys() ids = %v; JWKS() kids = %v", step, ids, want)
		}
	}
	check("new", 1)
	if err := k.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	check("refresh without change", 1)
	if err := k.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	check("rotate", 2)
	c.Add(11 * time.Minute)
	if err := k.Advance(ctx); err != nil {
		t.Fatal(err)
	}
	check("next became active, old retiring", 2)
	c.Add(2 * time.Hour)
	if err := k.Advance(ctx); err != nil {
		t.Fatal(err)
	}
	check("old key unpublished", 3)
	// A token of the published key verifies with the typed set.
	token, kid := sign(t, k)
	set, _ := k.PublicKeys()
	if keys := set.Lookup(kid); len(keys) != 1 {
		t.Fatalf("PublicKeys().Lookup(%q) = %v; want the signing key", kid, keys)
	}
	verify(t, k.JWKS(), token)
}

// TestRevoke is emergency key revocation: the key leaves the key set and
// stops signing at once, its successor signs without waiting for its
// pre-publication, another replica follows at its next store read, and
// the private key is erased.
func TestRevoke(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	c := newClock()
	a := mustNew(t, testConfig(s, c))
	b := mustNew(t, testConfig(s, c)) // another replica
	_, k1 := sign(t, a)
	if err := a.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	k2 := a.Keys()[1].ID
	_, v1 := a.PublicKeys()

	// The active key is revoked while k2 is only pre-published.
	c.Add(time.Minute)
	if err := a.Revoke(ctx, k1); err != nil {
		t.Fatalf("Revoke(active) = %v", err)
	}
	if kids := jwksKIDs(t, a.JWKS()); !slices.Equal(kids, []string{k2}) {
		t.Errorf("JWKS() after Revoke(%s) = %v; want [%s]", k1, kids, k2)
	}
	if set, v := a.PublicKeys(); v == v1 || set.Lookup(k1) != nil {
		t.Errorf("PublicKeys() after Revoke = version %d (was %d), has k1 %v; want a new version without k1", v, v1, set.Lookup(k1) != nil)
	}
	if _, kid := sign(t, a); kid != k2 {
		t.Errorf("Sign() after Revoke uses %q; want the successor %q at once", kid, k2)
	}
	got, _ := s.GetKey(ctx, k1)
	if got.State != store.KeyRevoked || len(got.PrivateKey) != 0 || !got.PublishUntil.Equal(c.Now()) {
		t.Errorf("stored revoked key = %s, %d private bytes, until %v; want revoked, erased, until now", got.State, len(got.PrivateKey), got.PublishUntil)
	}
	if n, _ := s.GetKey(ctx, k2); n.State != store.KeyActive || !n.ActivatedAt.Equal(c.Now()) {
		t.Errorf("successor = %s at %v; want active at %v", n.State, n.ActivatedAt, c.Now())
	}
	// The other replica still has the old snapshot, until it reads the store.
	if _, kid := sign(t, b); kid != k1 {
		t.Fatalf("replica b before its refresh signs with %q; want %q (its snapshot)", kid, k1)
	}
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, kid := sign(t, b); kid != k2 {
		t.Errorf("replica b after its refresh signs with %q; want %q", kid, k2)
	}
	if kids := jwksKIDs(t, b.JWKS()); !slices.Equal(kids, []string{k2}) {
		t.Errorf("replica b JWKS() = %v; want [%s]", kids, k2)
	}
	// Transitions later never bring the key back.
	c.Add(3 * time.Hour)
	if err := b.Advance(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetKey(ctx, k1); got.State != store.KeyRevoked {
		t.Errorf("revoked key after Advance = %s; want revoked", got.State)
	}

	// No next key: a new key is created active.
	if err := a.Revoke(ctx, k2); err != nil {
		t.Fatalf("Revoke(only key) = %v", err)
	}
	_, k3 := sign(t, a)
	if k3 == k2 || k3 == k1 {
		t.Errorf("Sign() after revoking the only key uses %q; want a new key", k3)
	}
	if kids := jwksKIDs(t, a.JWKS()); !slices.Equal(kids, []string{k3}) {
		t.Errorf("JWKS() = %v; want [%s]", kids, k3)
	}

	// Revoking again does nothing; an unknown kid is not found.
	if err := a.Revoke(ctx, k2); err != nil {
		t.Errorf("Revoke(revoked) = %v; want nil", err)
	}
	if err := a.Revoke(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Revoke(unknown) = %v; want ErrNotFound", err)
	}
}

// TestRevokeRetiring pulls a key that no longer signs but is still
// published: it leaves the key set, the active key keeps signing.
func TestRevokeRetiring(t *testing.T) {
	ctx := t.Context()
	c := newClock()
	k := mustNew(t, testConfig(memstore.New(), c))
	_, k1 := sign(t, k)
	if err := k.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	c.Add(11 * time.Minute)
	if err := k.Advance(ctx); err != nil {
		t.Fatal(err)
	}
	_, k2 := sign(t, k)
	if err := k.Revoke(ctx, k1); err != nil {
		t.Fatal(err)
	}
	if kids := jwksKIDs(t, k.JWKS()); !slices.Equal(kids, []string{k2}) {
		t.Errorf("JWKS() after revoking the retiring key = %v; want [%s]", kids, k2)
	}
	if _, kid := sign(t, k); kid != k2 {
		t.Errorf("Sign() = %q; want %q", kid, k2)
	}
}
