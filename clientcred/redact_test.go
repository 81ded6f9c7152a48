package clientcred

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestErrorsHideURLCredentials checks that a credential in a configured
// URL (user information, a secret in the query) never reaches an error.
func TestErrorsHideURLCredentials(t *testing.T) {
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	creds := func(base string) string { return strings.Replace(base, "http://", "http://bob:s3cret-pw@", 1) }
	noEnv := func(string) (string, bool) { return "", false }
	tests := []struct {
		name string
		cfg  Config
	}{
		{"token URL with a bad scheme", Config{TokenURL: "ftp://bob:s3cret-pw@idp.example/token"}},
		{"issuer with a bad scheme", Config{Issuer: "ldap://idp.example/?api_key=s3cret-pw"}},
		{"domain with user information", Config{Domain: "bob:s3cret-pw@tenant.auth0.com"}},
		{"discovery fails", Config{Issuer: creds(notFound.URL) + "/?token=s3cret-pw"}},
		{"token endpoint unreachable", Config{TokenURL: "http://bob:s3cret-pw@127.0.0.1:1/token?key=s3cret-pw"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.ClientID, cfg.ClientSecret, cfg.Audience, cfg.LookupEnv = "c", "client-secret", "a", noEnv
			cfg.Retry = RetryPolicy{MaxAttempts: 1}
			s, err := NewTokenSource(cfg)
			if err == nil {
				_, err = s.Token(context.Background())
			}
			if err == nil {
				t.Fatal("want an error")
			}
			for _, secret := range []string{"s3cret-pw", "client-secret"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error = %q; it shows %q", err, secret)
				}
			}
		})
	}
}
