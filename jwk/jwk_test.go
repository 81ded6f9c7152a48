package jwk

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var (
	ecKey, _    = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384Key, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, _, _ = ed25519.GenerateKey(rand.Reader)
	rsaKey      = mustRSA(2048)
)

func mustRSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

func mustKey(t testing.TB, pub any, kid, alg string) Key {
	t.Helper()
	k, err := FromPublic(pub, kid, alg)
	if err != nil {
		t.Fatal(err)
	}
	return *k
}

func jwks(t testing.TB, keys ...Key) []byte {
	t.Helper()
	b, err := MarshalSet(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseSet(t *testing.T) {
	good := string(jwks(t, mustKey(t, &ecKey.PublicKey, "e1", "ES256"), mustKey(t, edPub, "d1", "EdDSA"), mustKey(t, &rsaKey.PublicKey, "r1", "RS256")))
	small := mustRSA(1024)
	smallJWK, _ := json.Marshal(map[string]string{"kty": "RSA", "kid": "small", "n": b64(small.N.Bytes()), "e": "AQAB"})
	tests := []struct {
		name    string
		doc     string
		wantErr error
		kids    []string
		skipped int
	}{
		{"three key types", good, nil, []string{"e1", "d1", "r1"}, 0},
		{"skips oct, enc, unknown and short RSA", `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"},` +
			`{"kty":"EC","crv":"P-256","use":"enc","x":"` + b64(ecKey.X.FillBytes(make([]byte, 32))) + `","y":"` + b64(ecKey.Y.FillBytes(make([]byte, 32))) + `","kid":"enc"},` +
			`{"kty":"XYZ","kid":"u"},` + string(smallJWK) + `,` +
			strings.TrimSuffix(strings.TrimPrefix(good, `{"keys":[`), `]}`) + `]}`, nil, []string{"e1", "d1", "r1"}, 4},
		{"private key refused", `{"keys":[{"kty":"EC","crv":"P-256","kid":"p","x":"` + b64(ecKey.X.FillBytes(make([]byte, 32))) + `","y":"` + b64(ecKey.Y.FillBytes(make([]byte, 32))) + `","d":"` + b64(ecKey.D.FillBytes(make([]byte, 32))) + `"}]}`, ErrMalformed, nil, 0},
		{"no keys member", `{"kty":"EC"}`, ErrMalformed, nil, 0},
		{"empty", `{"keys":[]}`, ErrNoKeys, nil, 0},
		{"not json", `[`, ErrMalformed, nil, 0},
		{"too many", `{"keys":[` + strings.Repeat(`{},`, MaxKeys) + `{}]}`, ErrTooLarge, nil, 0},
		{"too large", `{"keys":[],"x":"` + strings.Repeat("a", DefaultMaxSetBytes) + `"}`, ErrTooLarge, nil, 0},
		{"alg does not fit", `{"keys":[{"kty":"EC","crv":"P-256","alg":"RS256","kid":"x","x":"` + b64(ecKey.X.FillBytes(make([]byte, 32))) + `","y":"` + b64(ecKey.Y.FillBytes(make([]byte, 32))) + `"}]}`, ErrNoKeys, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSet([]byte(tt.doc))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseSet() error = %v; want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			var kids []string
			for _, k := range s.Keys() {
				kids = append(kids, k.ID)
				if k.Thumbprint == "" {
					t.Errorf("key %s has no thumbprint", k.ID)
				}
			}
			if fmt.Sprint(kids) != fmt.Sprint(tt.kids) || s.Skipped != tt.skipped {
				t.Errorf("ParseSet() kids %v skipped %d; want %v skipped %d", kids, s.Skipped, tt.kids, tt.skipped)
			}
		})
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func TestLookupRules(t *testing.T) {
	e1 := mustKey(t, &ecKey.PublicKey, "e1", "")
	bare := mustKey(t, edPub, "", "")
	r1 := mustKey(t, &rsaKey.PublicKey, "r1", "")
	tests := []struct {
		name string
		set  *Set
		kid  string
		want []string // thumbprints by key name
	}{
		{"kid match", NewSet(e1, r1), "r1", []string{"r1"}},
		{"unknown kid", NewSet(e1, r1), "zz", nil},
		{"no kid, several keys", NewSet(e1, r1), "", nil},
		{"no kid, one named key", NewSet(e1), "", nil},
		{"no kid, one unnamed key", NewSet(bare), "", []string{"bare"}},
		{"unnamed entry ignored, named one found", NewSet(bare, e1), "e1", []string{"e1"}},
		{"unnamed entry never matches a kid", NewSet(bare, e1), "", nil},
	}
	names := map[string]string{e1.Thumbprint: "e1", bare.Thumbprint: "bare", r1.Thumbprint: "r1"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, k := range tt.set.Lookup(tt.kid) {
				got = append(got, names[k.Thumbprint])
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Lookup(%q) = %v; want %v", tt.kid, got, tt.want)
			}
		})
	}
	if !NewSet(e1).Has("e1", e1.Thumbprint) || NewSet(e1).Has("e1", r1.Thumbprint) {
		t.Errorf("Has: want true for the same key, false for other material under the kid")
	}
}

func TestFits(t *testing.T) {
	tests := []struct {
		pub  any
		alg  string
		want bool
	}{
		{&ecKey.PublicKey, "ES256", true}, {&ecKey.PublicKey, "ES384", false}, {&ec384Key.PublicKey, "ES384", true},
		{&rsaKey.PublicKey, "RS256", true}, {&rsaKey.PublicKey, "PS512", true}, {&rsaKey.PublicKey, "HS256", false},
		{edPub, "EdDSA", true}, {edPub, "ES256", false}, {&ecKey.PublicKey, "HS256", false},
	}
	for _, tt := range tests {
		k := Key{Public: tt.pub}
		if got := k.Fits(tt.alg); got != tt.want {
			t.Errorf("Key{%T}.Fits(%s) = %v; want %v", tt.pub, tt.alg, got, tt.want)
		}
	}
	if k := (Key{Public: &rsaKey.PublicKey, Algorithm: "RS256"}); k.Fits("PS256") {
		t.Errorf("a key restricted to RS256 fits PS256")
	}
}

func TestParsePEMAndFile(t *testing.T) {
	der, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	pemData := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.pem")
	if err := os.WriteFile(path, pemData, 0o600); err != nil {
		t.Fatal(err)
	}
	clock := time.Unix(1700000000, 0)
	f := &FileKeySet{Path: path, Now: func() time.Time { return clock }}
	keys, err := f.Lookup(context.Background(), "")
	if err != nil || len(keys) != 1 {
		t.Fatalf("FileKeySet.Lookup(\"\") = %v, %v; want the PEM key", keys, err)
	}
	// Rewrite as a JWKS with a kid; the change is seen after the interval.
	if err := os.WriteFile(path, jwks(t, mustKey(t, edPub, "ed-1", "EdDSA")), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(path, time.Now().Add(time.Hour), time.Now().Add(time.Hour))
	if keys, _ := f.Lookup(context.Background(), "ed-1"); keys != nil {
		t.Errorf("reloaded before CheckInterval")
	}
	clock = clock.Add(2 * time.Second)
	if keys, _ := f.Lookup(context.Background(), "ed-1"); len(keys) != 1 {
		t.Errorf("FileKeySet did not reload the changed file")
	}
	// A broken file keeps the last good set.
	os.WriteFile(path, []byte("garbage"), 0o600)
	os.Chtimes(path, time.Now().Add(2*time.Hour), time.Now().Add(2*time.Hour))
	clock = clock.Add(2 * time.Second)
	if keys, _ := f.Lookup(context.Background(), "ed-1"); len(keys) != 1 {
		t.Errorf("FileKeySet dropped its keys when the file became invalid")
	}
	if _, err := ParsePEM([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), ""); err == nil {
		t.Errorf("ParsePEM accepted a private key")
	}
	// MaxKeys keys are accepted; one more is an error, not a silent cut.
	if s, err := ParsePEM(bytes.Repeat(pemData, MaxKeys), "k"); err != nil || s.Len() != MaxKeys {
		t.Errorf("ParsePEM(%d keys) = %d keys, %v; want %d keys", MaxKeys, s.Len(), err, MaxKeys)
	}
	if _, err := ParsePEM(bytes.Repeat(pemData, MaxKeys+1), "k"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ParsePEM(%d keys) error = %v; want ErrTooLarge", MaxKeys+1, err)
	}
}

// jwksServer serves a settable JWKS and counts requests.
type jwksServer struct {
	srv   *httptest.Server
	body  atomic.Value // []byte
	hits  atomic.Int64
	gate  chan struct{}
	fail  atomic.Bool
	extra atomic.Int64 // bytes of padding
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	j := &jwksServer{}
	j.body.Store(body)
	j.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j.hits.Add(1)
		if j.gate != nil {
			<-j.gate
		}
		if j.fail.Load() {
			http.Error(w, "down", 503)
			return
		}
		b := j.body.Load().([]byte)
		if n := j.extra.Load(); n > 0 {
			b = append(append([]byte(nil), b[:len(b)-1]...), []byte(`,"pad":"`+strings.Repeat("x", int(n))+`"}`)...)
		}
		w.Write(b)
	}))
	t.Cleanup(j.srv.Close)
	return j
}

type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
func newClock() *clock                   { c := &clock{}; c.ns.Store(time.Unix(1700000000, 0).UnixNano()); return c }

// waitIdle waits for the fetch in flight, if any, to finish: it is
// started synchronously by the lookup that triggers it, so after that
// lookup returns the flight is set or already done.
func waitIdle(t *testing.T, r *RemoteKeySet) {
	t.Helper()
	r.mu.Lock()
	f := r.flight
	r.mu.Unlock()
	if f == nil {
		return
	}
	select {
	case <-f.done:
	case <-t.Context().Done():
		t.Fatal("refresh did not finish")
	}
}

func TestRemoteKeySetRotation(t *testing.T) {
	k1 := mustKey(t, &ecKey.PublicKey, "k1", "ES256")
	k2 := mustKey(t, edPub, "k2", "EdDSA")
	srv := newJWKSServer(t, jwks(t, k1))
	clk := newClock()
	r := &RemoteKeySet{URL: srv.srv.URL, Now: clk.Now}
	ctx := context.Background()
	if keys, err := r.Lookup(ctx, "k1"); err != nil || len(keys) != 1 {
		t.Fatalf("Lookup(k1) = %v, %v; want k1", keys, err)
	}
	// The issuer publishes k2 before using it; a token with k2 arrives.
	srv.body.Store(jwks(t, k1, k2))
	if keys, _ := r.Lookup(ctx, "k2"); keys != nil {
		t.Fatalf("Lookup(k2) refetched within MinRefetchInterval of the last fetch")
	}
	clk.Advance(DefaultMinRefetchInterval)
	if keys, err := r.Lookup(ctx, "k2"); err != nil || len(keys) != 1 || keys[0].Thumbprint != k2.Thumbprint {
		t.Fatalf("Lookup(k2) after rotation = %v, %v; want k2 from a refetch", keys, err)
	}
	if got := srv.hits.Load(); got != 2 {
		t.Errorf("fetches = %d; want 2", got)
	}
	// k1 retires: after RefreshInterval a lookup refreshes in the
	// background and still answers from the stale set meanwhile.
	srv.body.Store(jwks(t, k2))
	srv.gate = make(chan struct{})
	clk.Advance(DefaultRefreshInterval + time.Second)
	if keys, _ := r.Lookup(ctx, "k1"); len(keys) != 1 {
		t.Errorf("stale Lookup(k1) = %v; want the stale key while the refresh runs", keys)
	}
	for range 100 {
		r.Lookup(ctx, "k1") // no second fetch while one is in flight
	}
	close(srv.gate)
	waitIdle(t, r)
	srv.gate = nil
	if got := srv.hits.Load(); got != 3 {
		t.Errorf("fetches = %d; want 3 (one background refresh)", got)
	}
	if r.Current().Has("k1", k1.Thumbprint) {
		t.Errorf("k1 still in the set after the refresh")
	}
}

func TestRemoteKeySetUnknownKidFlood(t *testing.T) {
	k1 := mustKey(t, &ecKey.PublicKey, "k1", "ES256")
	k2 := mustKey(t, edPub, "k2", "EdDSA")
	srv := newJWKSServer(t, jwks(t, k1))
	clk := newClock()
	r := &RemoteKeySet{URL: srv.srv.URL, Now: clk.Now}
	ctx := context.Background()
	r.Lookup(ctx, "k1")
	clk.Advance(DefaultMinRefetchInterval)
	// A flood of made-up kids, within one MinRefetchInterval: one fetch.
	var wg sync.WaitGroup
	for i := range 1000 {
		wg.Go(func() {
			if keys, err := r.Lookup(ctx, fmt.Sprintf("random-%d", i)); keys != nil || err != nil {
				t.Errorf("Lookup(random) = %v, %v; want none", keys, err)
			}
		})
	}
	wg.Wait()
	if got := srv.hits.Load(); got != 2 {
		t.Errorf("fetches after the flood = %d; want 2 (initial + one refetch)", got)
	}
	// The same bad kid again, after the interval: the negative cache
	// refuses it without a fetch.
	clk.Advance(DefaultMinRefetchInterval + time.Second)
	r.Lookup(ctx, "again") // a fetch begun after this lookup: "again" is now negative
	clk.Advance(DefaultMinRefetchInterval + time.Second)
	hits := srv.hits.Load()
	r.Lookup(ctx, "again") // the rate limit would allow a fetch; the negative cache refuses
	if srv.hits.Load() != hits {
		t.Errorf("a negatively cached kid caused a fetch")
	}
	clk.Advance(DefaultNegativeTTL)
	r.Lookup(ctx, "again")
	if srv.hits.Load() != hits+1 {
		t.Errorf("a kid past its NegativeTTL did not cause a fetch")
	}
	// A real rotation after the flood is still picked up at the next
	// allowed refetch: the new kid was never negatively cached.
	srv.body.Store(jwks(t, k1, k2))
	clk.Advance(DefaultMinRefetchInterval + time.Second)
	if keys, _ := r.Lookup(ctx, "k2"); len(keys) != 1 {
		t.Errorf("Lookup(k2) after the flood = %v; want k2", keys)
	}
}

func TestRemoteKeySetFailures(t *testing.T) {
	k1 := mustKey(t, &ecKey.PublicKey, "k1", "ES256")
	t.Run("first fetch fails", func(t *testing.T) {
		srv := newJWKSServer(t, jwks(t, k1))
		srv.fail.Store(true)
		r := &RemoteKeySet{URL: srv.srv.URL}
		if _, err := r.Lookup(context.Background(), "k1"); err == nil {
			t.Errorf("Lookup with an unreachable set: nil error; want a technical error")
		}
	})
	t.Run("refresh failure keeps the set", func(t *testing.T) {
		srv := newJWKSServer(t, jwks(t, k1))
		clk := newClock()
		r := &RemoteKeySet{URL: srv.srv.URL, Now: clk.Now}
		r.Lookup(context.Background(), "k1")
		srv.fail.Store(true)
		clk.Advance(DefaultRefreshInterval + time.Second)
		r.Lookup(context.Background(), "k1")
		waitIdle(t, r)
		if keys, err := r.Lookup(context.Background(), "k1"); len(keys) != 1 || err != nil {
			t.Errorf("after a failed refresh Lookup = %v, %v; want the old key", keys, err)
		}
		// Until the next retry is due, lookups of the stale set take no
		// lock: they answer even while the mutex is held.
		r.mu.Lock()
		done := make(chan struct{})
		go func() { r.Lookup(context.Background(), "k1"); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("a lookup of the stale set waited for the lock")
		}
		r.mu.Unlock()
		<-done
		clk.Advance(DefaultMinRefetchInterval)
		r.Lookup(context.Background(), "k1")
		waitIdle(t, r)
		if got := r.Fetches(); got != 3 {
			t.Errorf("Fetches() after MinRefetchInterval = %d; want 3 (a retry of the refresh)", got)
		}
	})
	t.Run("response too large", func(t *testing.T) {
		srv := newJWKSServer(t, jwks(t, k1))
		srv.extra.Store(2048)
		r := &RemoteKeySet{URL: srv.srv.URL, MaxResponseBytes: 1024}
		if _, err := r.Lookup(context.Background(), "k1"); err == nil || !strings.Contains(err.Error(), "too large") {
			t.Errorf("Lookup with an oversized response: %v; want too large", err)
		}
	})
	t.Run("waiter honours its context", func(t *testing.T) {
		srv := newJWKSServer(t, jwks(t, k1))
		srv.gate = make(chan struct{})
		defer close(srv.gate)
		r := &RemoteKeySet{URL: srv.srv.URL}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if _, err := r.Lookup(ctx, "k1"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Lookup = %v; want DeadlineExceeded", err)
		}
	})
}

func TestOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jwks.json")
	os.WriteFile(path, jwks(t, mustKey(t, edPub, "d", "EdDSA")), 0o600)
	ks, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if keys, _ := ks.Lookup(context.Background(), "d"); len(keys) != 1 {
		t.Errorf("Open(file).Lookup(d) = %v; want the key", keys)
	}
	ks, err = Open("https://issuer.example/.well-known/jwks.json")
	if _, ok := ks.(*RemoteKeySet); err != nil || !ok {
		t.Errorf("Open(url) = %T, %v; want a *RemoteKeySet", ks, err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Errorf("Open(missing file): nil error")
	}
}

// TestRemoteKeySetRefusesDowngrade checks that a jwks_uri on https is not
// followed to plain http, where anyone on the path could substitute keys;
// a redirect that stays on https is followed.
func TestRemoteKeySetRefusesDowngrade(t *testing.T) {
	k1 := mustKey(t, &ecKey.PublicKey, "k1", "ES256")
	plain := newJWKSServer(t, jwks(t, k1))
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-http":
			http.Redirect(w, r, plain.srv.URL+"/jwks.json", http.StatusFound)
		case "/to-https":
			http.Redirect(w, r, "/jwks.json", http.StatusFound)
		default:
			w.Write(jwks(t, k1))
		}
	}))
	t.Cleanup(secure.Close)
	tests := []struct {
		path    string
		wantErr bool
	}{
		{"/to-http", true},
		{"/to-https", false},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			r := &RemoteKeySet{URL: secure.URL + tc.path, HTTPClient: secure.Client()}
			keys, err := r.Lookup(context.Background(), "k1")
			if gotErr := err != nil; gotErr != tc.wantErr || !tc.wantErr && len(keys) != 1 {
				t.Errorf("Lookup via %s = %d keys, %v; want error %v", tc.path, len(keys), err, tc.wantErr)
			}
		})
	}
	if got := plain.hits.Load(); got != 0 {
		t.Errorf("the plain http server was asked %d times; want 0", got)
	}
}

// TestFromPublicIncomplete checks that nil or incomplete public keys are
// errors, not panics.
func TestFromPublicIncomplete(t *testing.T) {
	offCurve := ecKey.PublicKey
	offCurve.Y = new(big.Int).Add(offCurve.Y, big.NewInt(1))
	tests := []struct {
		name string
		pub  crypto.PublicKey
	}{
		{"nil rsa", (*rsa.PublicKey)(nil)},
		{"zero rsa", &rsa.PublicKey{}},
		{"rsa exponent 1", &rsa.PublicKey{N: rsaKey.N, E: 1}},
		{"nil ecdsa", (*ecdsa.PublicKey)(nil)},
		{"zero ecdsa", &ecdsa.PublicKey{}},
		{"ecdsa off the curve", &offCurve},
		{"nil ed25519", ed25519.PublicKey(nil)},
		{"nil", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("FromPublic(%s) panicked: %v", tc.name, r)
				}
			}()
			if k, err := FromPublic(tc.pub, "k", ""); err == nil {
				t.Errorf("FromPublic(%s) = %+v, nil; want an error", tc.name, k)
			}
		})
	}
}

// TestRemoteKeySetNegativeBoundedByFreshness: a kid missing from a fetch
// (a key its server had not loaded yet) is looked up again once the set
// is due for a refresh, even when only tokens with that kid arrive, so it
// is never refused for the whole NegativeTTL.
func TestRemoteKeySetNegativeBoundedByFreshness(t *testing.T) {
	k1 := mustKey(t, &ecKey.PublicKey, "k1", "ES256")
	k2 := mustKey(t, edPub, "k2", "EdDSA")
	srv := newJWKSServer(t, jwks(t, k1))
	clk := newClock()
	r := &RemoteKeySet{URL: srv.srv.URL, Now: clk.Now, RefreshInterval: time.Minute}
	ctx := context.Background()
	r.Lookup(ctx, "k1")
	clk.Advance(DefaultMinRefetchInterval)
	if keys, _ := r.Lookup(ctx, "k2"); keys != nil { // fetched, not there yet: negative
		t.Fatalf("Lookup(k2) before it is published = %v; want none", keys)
	}
	srv.body.Store(jwks(t, k1, k2))
	clk.Advance(DefaultMinRefetchInterval)
	if keys, _ := r.Lookup(ctx, "k2"); keys != nil {
		t.Fatalf("Lookup(k2) within the set's freshness = %v; want the negative cache to answer", keys)
	}
	clk.Advance(time.Minute) // past the set's freshness, far below DefaultNegativeTTL
	if keys, err := r.Lookup(ctx, "k2"); len(keys) != 1 || err != nil {
		t.Errorf("Lookup(k2) after the set's freshness = %v, %v; want k2 from a refetch", keys, err)
	}
}
