package authserver_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/memstore"
)

func TestAdminListKeys(t *testing.T) {
	const adminToken = "admin-token-for-tests"
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	st := memstore.New()
	ctx := context.Background()
	for _, k := range []*store.SigningKey{
		{ID: "k1", Algorithm: "ES256", State: store.KeyRetiring, PrivateKey: []byte("sealed"), CreatedAt: t0, ActivatedAt: t0, RetiredAt: t0.Add(48 * time.Hour), PublishUntil: t0.Add(72 * time.Hour)},
		{ID: "k2", Algorithm: "ES256", State: store.KeyActive, PrivateKey: []byte("sealed"), CreatedAt: t0.Add(time.Hour), ActivatedAt: t0.Add(48 * time.Hour)},
	} {
		if err := st.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		clients store.Clients
		token   string
		want    int
	}{
		{"lists", st, adminToken, 200},
		{"no admin token", st, "", 401},
		{"store without keys", &fakeClients{}, adminToken, 501},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(cfg *authserver.Config, _ *store.Client) {
				cfg.AdminTokenHash = authserver.HashSecret(adminToken)
				cfg.Clients = tt.clients
			})
			r := httptest.NewRequest("GET", "/admin/keys", nil)
			if tt.token != "" {
				r.Header.Set("Authorization", "Bearer "+tt.token)
			}
			w := httptest.NewRecorder()
			f.srv.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("GET /admin/keys = %d %s; want %d", w.Code, w.Body, tt.want)
			}
			if w.Code != 200 {
				return
			}
			var got struct{ Keys []authserver.KeyInfo }
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			at := func(d time.Duration) *time.Time { u := t0.Add(d); return &u }
			want := []authserver.KeyInfo{
				{KID: "k1", Algorithm: "ES256", State: "retiring", CreatedAt: t0, ActivatedAt: at(0), RetiredAt: at(48 * time.Hour), PublishUntil: at(72 * time.Hour)},
				{KID: "k2", Algorithm: "ES256", State: "active", CreatedAt: t0.Add(time.Hour), ActivatedAt: at(48 * time.Hour)},
			}
			if diff := cmp.Diff(want, got.Keys); diff != "" {
				t.Errorf("GET /admin/keys keys (-want +got):\n%s", diff)
			}
		})
	}
}
