package jwk_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/jwk"
)

// A RemoteKeySet with MaxStale stops trusting its cached keys once the
// jwks_uri has been unreachable for that long: lookups then fail with
// m2m.ErrUnavailable (HTTP 503) until a fetch succeeds.
func ExampleRemoteKeySet_maxStale() {
	k, _ := jwk.FromPublic(ed25519.PublicKey(rfc8037Pub), "ed", "EdDSA")
	doc, _ := jwk.MarshalSet(*k)
	var down atomic.Bool
	issuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Write(doc)
	}))
	defer issuer.Close()

	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	keys := &jwk.RemoteKeySet{
		URL:      issuer.URL,
		MaxStale: 6 * time.Hour,
		Now:      func() time.Time { return now },
	}
	ctx := context.Background()
	found, _ := keys.Lookup(ctx, "ed")
	fmt.Println("fetched:", len(found))

	down.Store(true)
	now = now.Add(7 * time.Hour)
	_, err := keys.Lookup(ctx, "ed")
	fmt.Println("7h later, issuer down:", errors.Is(err, m2m.ErrUnavailable))
	// Output:
	// fetched: 1
	// 7h later, issuer down: true
}
