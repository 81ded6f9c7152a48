package clientcred

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
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

// TestRefusalHidesEchoedSecret checks that a token endpoint which echoes
// the request (the form, the JSON body, the Basic credentials) in its
// refusal cannot put the client secret in an error or a log line.
func TestRefusalHidesEchoedSecret(t *testing.T) {
	const secret = `s3cret/+&="\x`
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		desc := "got " + string(b) + " with " + r.Header.Get("Authorization")
		if r.URL.Query().Get("pad") != "" {
			// The secret straddles the 1 KiB cut of RetrieveError.Body.
			desc = strings.Repeat("p", 1024-len(`{"error":"invalid_client","error_description":"`)-8) + desc
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": desc, "error_uri": "https://e.example/?s=" + secret})
	})
	styles := []struct {
		name  string
		style AuthStyle
	}{{"post", AuthStyleInParams}, {"basic", AuthStyleInHeader}, {"json", AuthStyleJSON}}
	for _, st := range styles {
		for _, pad := range []string{"", "?pad=1"} {
			t.Run(st.name+pad, func(t *testing.T) {
				var logs bytes.Buffer
				cfg := Config{
					ClientID: "client-1", ClientSecret: secret, Audience: "a", AuthStyle: st.style,
					TokenURL:   "https://idp.test/oauth/token" + pad,
					HTTPClient: &http.Client{Transport: handlerTransport(echo)},
					Retry:      RetryPolicy{MaxAttempts: 1},
					Logger:     slog.New(slog.NewTextHandler(&logs, nil)),
					LookupEnv:  func(string) (string, bool) { return "", false },
				}
				s, err := NewTokenSource(cfg)
				if err != nil {
					t.Fatal(err)
				}
				_, err = s.Token(context.Background())
				var re *RetrieveError
				if !errors.As(err, &re) {
					t.Fatalf("Token() = %v; want a *RetrieveError", err)
				}
				js, _ := json.Marshal(secret)
				for _, form := range []string{secret, url.QueryEscape(secret), string(js[1 : len(js)-1]), "s3cret"} {
					for what, text := range map[string]string{
						"Error()": err.Error(), "Description": re.Description, "ErrorURI": re.ErrorURI,
						"Body": string(re.Body), "log": logs.String(),
					} {
						if strings.Contains(text, form) {
							t.Errorf("%s = %q; it shows the secret as %q", what, text, form)
						}
					}
				}
				basic := base64.StdEncoding.EncodeToString([]byte("client-1:" + url.QueryEscape(secret)))
				if strings.Contains(string(re.Body), basic[:20]) {
					t.Errorf("Body shows the Basic credentials: %q", re.Body)
				}
			})
		}
	}
}

// TestStatusErrorHidesEchoedToken checks that an API which echoes the
// request in an error answer does not put the access token in a
// StatusError, even where the 4 KiB cut would split it.
func TestStatusErrorHidesEchoedToken(t *testing.T) {
	// With the second pad, the first 4 KiB end in the middle of the token.
	for _, pad := range []int{0, 4096 - len("you sent Bearer ") - 3} {
		t.Run(fmt.Sprint("pad ", pad), func(t *testing.T) {
			api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusForbidden)
				io.WriteString(w, strings.Repeat("p", pad)+"you sent "+r.Header.Get("Authorization"))
			})
			c := &Client{
				HTTPClient:    &http.Client{Transport: &Transport{Source: &countingSource{typ: "Bearer"}, Base: handlerTransport(api)}},
				ErrorOnStatus: true,
			}
			_, err := c.Get(context.Background(), "https://api.test/x")
			var se *StatusError
			if !errors.As(err, &se) {
				t.Fatalf("Get = %v; want a *StatusError", err)
			}
			if strings.Contains(string(se.Body), "tok") {
				t.Errorf("StatusError.Body ends %q; it shows the access token", se.Body[max(0, len(se.Body)-40):])
			}
			if len(se.Body) > 4096 {
				t.Errorf("len(StatusError.Body) = %d; want at most 4096", len(se.Body))
			}
		})
	}
}
