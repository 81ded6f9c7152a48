package authserver_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/store"
)

// flakyRevocations is a revocation store that can be made to fail.
type flakyRevocations struct {
	down    atomic.Bool
	revoked map[string]bool
}

var errDown = errors.New("backend down")

func (f *flakyRevocations) RevokeToken(_ context.Context, jti string, _ time.Time) error {
	if f.down.Load() {
		return errDown
	}
	f.revoked[jti] = true
	return nil
}

func (f *flakyRevocations) IsRevoked(_ context.Context, jti string) (bool, error) {
	if f.down.Load() {
		return false, errDown
	}
	return f.revoked[jti], nil
}

// flakyClients fails every read while down.
type flakyClients struct {
	*fakeClients
	down atomic.Bool
}

func (f *flakyClients) GetClient(ctx context.Context, id string) (*store.Client, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.fakeClients.GetClient(ctx, id)
}

// TestLifecycleFaults: when the revocation or client store cannot answer,
// introspection and revocation answer 503 temporarily_unavailable, never
// "active" and never a silent 200, and recover with the store.
func TestLifecycleFaults(t *testing.T) {
	revs := &flakyRevocations{revoked: map[string]bool{}}
	var clients *flakyClients
	f := newFixture(t, func(cfg *authserver.Config, _ *store.Client) {
		clients = &flakyClients{fakeClients: cfg.Clients.(*fakeClients)}
		cfg.Clients, cfg.Revocations, cfg.ClientCacheTTL = clients, revs, -1
	})
	tok := decodeResponse(t, f.post(f.creds())).AccessToken
	call := func(path string) (int, string) {
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(url.Values{"token": {tok}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(f.id, f.secret)
		w := httptest.NewRecorder()
		f.srv.ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}
	if code, body := call("/oauth/introspect"); code != 200 || !strings.Contains(body, `"active":true`) {
		t.Fatalf("introspect = %d %s; want 200 active", code, body)
	}
	for _, tc := range []struct {
		name string
		down *atomic.Bool
	}{{"revocations down", &revs.down}, {"clients down", &clients.down}} {
		t.Run(tc.name, func(t *testing.T) {
			tc.down.Store(true)
			for _, path := range []string{"/oauth/introspect", "/oauth/revoke", "/oauth/token"} {
				var code int
				var body string
				if path == "/oauth/token" {
					w := f.post(f.creds())
					code, body = w.Code, w.Body.String()
				} else {
					code, body = call(path)
				}
				if path == "/oauth/token" && tc.name == "revocations down" {
					// Issuing does not read revocations.
					if code != http.StatusOK {
						t.Errorf("token with %s = %d %s; want 200", tc.name, code, body)
					}
					continue
				}
				if code != http.StatusServiceUnavailable || !strings.Contains(body, "temporarily_unavailable") {
					t.Errorf("POST %s with %s = %d %s; want 503 temporarily_unavailable", path, tc.name, code, body)
				}
			}
			tc.down.Store(false)
			if code, body := call("/oauth/introspect"); code != 200 || !strings.Contains(body, `"active":true`) {
				t.Errorf("introspect after %s recovered = %d %s; want 200 active", tc.name, code, body)
			}
		})
	}
	if code, _ := call("/oauth/revoke"); code != 200 || !revs.revoked[jtiOf(t, f, tok)] {
		t.Errorf("revoke after recovery = %d; want 200 and the jti recorded", code)
	}
}

func jtiOf(t *testing.T, f *fixture, tok string) string {
	t.Helper()
	_, claims := f.signer.verify(t, tok)
	jti, _ := claims["jti"].(string)
	return jti
}
