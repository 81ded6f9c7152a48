package keyring

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/memstore"
	"github.com/m2mkit/m2m/store/sqlstore"
)

// TestReplicasOnSQLite runs replicas on two handles of one SQLite file,
// as two processes would: they start at once, create one key, and see
// each other's rotation.
func TestReplicasOnSQLite(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "m2m.db")
	c := newClock()
	var handles []*sqlstore.Store
	for range 2 {
		s, err := sqlstore.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		handles = append(handles, s)
	}
	rings := make([]*Keyring, 4)
	errs := make([]error, len(rings))
	var wg sync.WaitGroup
	for i := range rings {
		wg.Go(func() { rings[i], errs[i] = New(ctx, testConfig(handles[i%2], c)) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("New() = %v", err)
		}
	}
	if keys, _ := handles[0].ListKeys(ctx); len(keys) != 1 {
		t.Fatalf("replicas starting at once created %d keys; want 1", len(keys))
	}
	a, b := rings[0], rings[1]
	c.Add(time.Second)
	if err := a.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if kids := jwksKIDs(t, b.JWKS()); len(kids) != 2 {
		t.Errorf("other replica's JWKS() after Rotate + Refresh = %v; want 2 keys", kids)
	}
	c.Add(10 * time.Minute)
	tok, _ := sign(t, b)
	verify(t, a.JWKS(), tok)
}

func TestLogs(t *testing.T) {
	var buf bytes.Buffer
	s := memstore.New()
	c := newClock()
	cfg := testConfig(s, c)
	cfg.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
	k := mustNew(t, cfg)
	if err := k.Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	keys, _ := s.ListKeys(t.Context())
	out := buf.String()
	if strings.Count(out, `"msg":"keyring: key transition"`) != 2 || !strings.Contains(out, `"reason":"create-first"`) || !strings.Contains(out, `"reason":"rotate"`) {
		t.Errorf("logs = %s; want the create-first and rotate transitions", out)
	}
	for _, sk := range keys {
		if !strings.Contains(out, `"kid":"`+sk.ID+`"`) {
			t.Errorf("logs lack kid %s", sk.ID)
		}
		enc, _ := json.Marshal(sk.PrivateKey)
		if strings.Contains(out, strings.Trim(string(enc), `"`)[:16]) {
			t.Errorf("logs contain sealed key material")
		}
	}
}

// FuzzLoad feeds arbitrary stored key material to Refresh: it must fail
// cleanly or load a key that signs, never panic.
func FuzzLoad(f *testing.F) {
	s := memstore.New()
	c := newClock()
	k, err := New(f.Context(), testConfig(s, c))
	if err != nil {
		f.Fatal(err)
	}
	keys, _ := s.ListKeys(f.Context())
	good := keys[0]
	f.Add(good.ID, good.Algorithm, good.PrivateKey, good.PublicJWK)
	f.Add(good.ID, "RS256", good.PrivateKey, good.PublicJWK)
	f.Add("x", "ES256", []byte{1}, []byte(`{"kty":"EC"}`))
	f.Add(good.ID, good.Algorithm, good.PrivateKey[:20], []byte(`{"kty":"oct","k":"AAAA","kid":"`+good.ID+`","alg":"ES256"}`))
	f.Fuzz(func(t *testing.T, kid, alg string, priv, pub []byte) {
		s := memstore.New()
		sk := &store.SigningKey{ID: kid, Algorithm: alg, State: store.KeyActive, PrivateKey: priv, PublicJWK: pub, CreatedAt: c.Now(), ActivatedAt: c.Now()}
		if err := s.CreateKey(t.Context(), sk); err != nil {
			return
		}
		fk := &Keyring{cfg: k.cfg, aead: k.aead, log: k.log}
		fk.cfg.Store = s
		if err := fk.Refresh(t.Context()); err != nil {
			return
		}
		if _, _, err := fk.Sign("JWT", []byte(`{}`)); err != nil {
			t.Fatalf("Refresh() accepted a key that cannot sign: %v", err)
		}
	})
}
