package federation_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m/federation"
	"github.com/m2mkit/m2m/federation/federationtest"
)

// TestFetchFailuresHideCredentials: an issuer's jwks_uri (in the policy
// or in its discovery document) may carry a credential in its query, as
// a signed link does, and so may the URL a fetch is redirected to. When
// the fetch fails, neither the refusal nor the log shows it.
func TestFetchFailuresHideCredentials(t *testing.T) {
	const secret = "S3cret-sig-value"
	other := federationtest.NewIssuer(t)
	tests := []struct {
		name  string
		setup func(f *fixture)
	}{
		{"policy jwks_uri answers 503", func(f *fixture) {
			setJWKSURI(f, f.iss.URL+federationtest.JWKSPath+"?sig="+secret)
			f.iss.Handle(federationtest.JWKSPath, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 503) })
		}},
		{"policy jwks_uri redirected to a signed link that fails", func(f *fixture) {
			setJWKSURI(f, f.iss.URL+federationtest.JWKSPath)
			f.iss.Handle(federationtest.JWKSPath, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/keys?X-Amz-Signature="+secret, http.StatusFound)
			})
			f.iss.Handle("/keys", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "expired", 403) })
		}},
		{"redirect to another origin with a token", func(f *fixture) {
			setJWKSURI(f, f.iss.URL+federationtest.JWKSPath+"?sig="+secret)
			f.iss.Handle(federationtest.JWKSPath, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, other.URL+"/keys?access_token="+secret, http.StatusFound)
			})
		}},
		{"discovered jwks_uri answers 503", func(f *fixture) {
			f.iss.Handle(federationtest.DiscoveryPath, discovery(f.iss.URL, f.iss.URL+federationtest.JWKSPath+"?sig="+secret))
			f.iss.Handle(federationtest.JWKSPath, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 503) })
		}},
		{"discovery redirected to another origin with a token", func(f *fixture) {
			f.iss.Handle(federationtest.DiscoveryPath, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, other.URL+federationtest.DiscoveryPath+"?token="+secret, http.StatusFound)
			})
		}},
		{"discovered jwks_uri refused", func(f *fixture) {
			f.iss.Handle(federationtest.DiscoveryPath, discovery(f.iss.URL, "http://u:"+secret+"@example.com/jwks?sig="+secret))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			f := newFixture(t, func(c *federation.Config) {
				c.FetchTimeout = 2 * time.Second
				c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})
			tt.setup(f)
			_, err := f.v.Verify(context.Background(), f.iss.Token(good()), nil)
			rf := refusal(t, err)
			if rf.Rule != federation.RuleKeys {
				t.Errorf("Verify = %v; want rule keys", rf)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(rf.Detail, secret) {
				t.Errorf("Verify = %q; the refusal shows the credential", err)
			}
			if strings.Contains(logs.String(), secret) {
				t.Errorf("the log shows the credential:\n%s", logs.String())
			}
		})
	}
}

func setJWKSURI(f *fixture, uri string) {
	p := f.policies.list[0].Clone()
	p.JWKSURI = uri
	f.policies.set(p)
}
