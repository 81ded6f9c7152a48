package authserver_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/store"
)

// TestNoClientIDOracle is issue 13 item 4: nothing a caller can see tells
// an unknown client id from a known one with a wrong secret: not the
// status, body or headers of the answer (client_secret_post and _basic,
// both profiles, before and after the failure throttle), and not the
// public /metrics.
func TestNoClientIDOracle(t *testing.T) {
	for _, profile := range []jwtauth.Profile{jwtauth.ProfileRFC9068, jwtauth.ProfileAuth0} {
		t.Run(string(profile), func(t *testing.T) {
			f := newFixture(t, func(cfg *authserver.Config, _ *store.Client) { cfg.Profile = profile })
			// Each id gets its own failure budget per address, so both
			// sequences see the same throttle states.
			answer := func(id string, basic bool, remote string) (int, http.Header, string) {
				form := url.Values{"grant_type": {"client_credentials"}}
				if !basic {
					form.Set("client_id", id)
					form.Set("client_secret", "wrong-secret")
				}
				r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(form.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if basic {
					r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(id+":wrong-secret")))
				}
				r.RemoteAddr = remote
				w := httptest.NewRecorder()
				f.srv.ServeHTTP(w, r)
				h := w.Header().Clone()
				h.Del("Date")
				return w.Code, h, w.Body.String()
			}
			for _, basic := range []bool{false, true} {
				for i := range 12 { // past the default burst of 10
					remote := map[bool]string{false: "192.0.2.1:1", true: "192.0.2.2:1"}[basic]
					kc, kh, kb := answer(f.id, basic, remote)
					uc, uh, ub := answer("no-such-client-x", basic, remote)
					if kc != uc || kb != ub || !cmp.Equal(kh, uh) {
						t.Fatalf("basic=%v attempt %d: known id answered %d %v %q; unknown id %d %v %q; want the same", basic, i, kc, kh, kb, uc, uh, ub)
					}
				}
			}
			w := httptest.NewRecorder()
			f.srv.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
			b, _ := io.ReadAll(w.Body)
			metrics := string(b)
			if strings.Contains(metrics, "unknown_client") || strings.Contains(metrics, "bad_secret") {
				t.Errorf("/metrics tells unknown ids from wrong secrets:\n%s", grepLines(metrics, "refused"))
			}
			if !strings.Contains(metrics, `reason="invalid_client"`) {
				t.Errorf("/metrics lacks reason=\"invalid_client\":\n%s", grepLines(metrics, "refused"))
			}
		})
	}
}

func grepLines(s, sub string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
