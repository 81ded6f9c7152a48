package authserver_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/store"
)

// TestNoSecretInLogs is issue 13 item 5: a client id is logged only when it
// names a registered client; anything else (a secret sent as the id) is
// logged as a short fingerprint and a length. Every endpoint that
// authenticates clients is tried, with the secret in either field and
// with control characters.
func TestNoSecretInLogs(t *testing.T) {
	var buf bytes.Buffer
	f := newFixture(t, func(cfg *authserver.Config, _ *store.Client) {
		cfg.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		cfg.ClientCacheTTL = -1 // no cache: the refusal itself must know
	})
	fingerprint := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return hex.EncodeToString(sum[:4])
	}
	tests := []struct {
		name       string
		id, secret string
		logged     string // what the log must show
		hidden     string // what it must not
	}{
		{"swapped id and secret", f.secret, f.id, `"sha256":"` + fingerprint(f.secret) + `"`, f.secret},
		{"secret as id, no secret", f.secret, "", `"len":43`, f.secret},
		{"known id, wrong secret", f.id, "wrong-" + f.secret, `"client_id":"` + f.id + `"`, f.secret},
		{"control characters", "evil\n\x1b[31mid", "x", `"client_id_unknown"`, "\x1b"},
	}
	for _, tt := range tests {
		for _, path := range []string{"/oauth/token", "/oauth/introspect"} {
			t.Run(tt.name+path, func(t *testing.T) {
				buf.Reset()
				form := url.Values{"grant_type": {"client_credentials"}, "client_id": {tt.id}, "token": {"x"}}
				if tt.secret != "" {
					form.Set("client_secret", tt.secret)
				}
				r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				w := httptest.NewRecorder()
				f.srv.ServeHTTP(w, r)
				if w.Code < 400 {
					t.Fatalf("%s = %d; want a refusal", path, w.Code)
				}
				logs := buf.String()
				if !strings.Contains(logs, tt.logged) {
					t.Errorf("log lacks %s:\n%s", tt.logged, logs)
				}
				if strings.Contains(logs, tt.hidden) {
					t.Errorf("log contains %q:\n%s", tt.hidden, logs)
				}
			})
		}
	}
}
