package cli

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestNoCredentialPrinted runs the commands that print a URL they were
// given (in an error or a refusal) with a credential in it, and fails if
// the credential reaches stdout or stderr.
func TestNoCredentialPrinted(t *testing.T) {
	const secret = "hunter2-s3cret"
	// An API that gives tokens and then answers 500 with the URL it got.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"access_token":"t","token_type":"Bearer","expires_in":60}`)
			return
		}
		http.Error(w, "nope", http.StatusInternalServerError)
	}))
	defer srv.Close()
	creds := map[string]string{"M2M_CLIENT_ID": "id", "M2M_CLIENT_SECRET": "s"}
	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		env  map[string]string
		args []string
	}{
		{nil, []string{"client", "list", "--server", "ftp://admin:" + secret + "@127.0.0.1:1"}},
		{map[string]string{"M2M_ADMIN_TOKEN": strings.Repeat("A", 43)}, []string{"client", "list", "--server", "http://admin:" + secret + "@127.0.0.1:1/?token=" + secret}},
		{nil, []string{"revoke", "--jti", "j", "--until", until, "--redis", "redis://:" + secret + "@127.0.0.1:1/0"}},
		{nil, []string{"revoke", "--jti", "j", "--until", until, "--redis", "redis://:" + secret + "@[bad"}},
		{creds, []string{"request", "GET", srv.URL + "/api?token=" + secret, "--token-url", srv.URL + "/token", "--audience", "a"}},
		{creds, []string{"request", "GET", "http://u:" + secret + "@127.0.0.1:1/api", "--token-url", srv.URL + "/token", "--audience", "a", "--retries", "0"}},
		{creds, []string{"token", "--token-url", "ftp://u:" + secret + "@x/t", "--audience", "a"}},
		{nil, []string{"jwt", "verify", "--jwks", "http://u:" + secret + "@127.0.0.1:1/jwks", "--issuer", "i", "--audience", "a", "--token", "x"}},
	} {
		t.Run(strings.Join(tc.args[:2], " "), func(t *testing.T) {
			code, stdout, stderr := run(t, tc.env, "", tc.args...)
			if code == 0 {
				t.Errorf("m2m %v = exit 0; want a failure", tc.args)
			}
			if strings.Contains(stdout+stderr, secret) {
				t.Errorf("m2m %s printed the credential: stdout %q, stderr %q", strings.ReplaceAll(strings.Join(tc.args, " "), secret, "SECRET"), stdout, stderr)
			}
		})
	}
}
