package federation_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m/federation"
	"github.com/m2mkit/m2m/federation/federationtest"
	"github.com/m2mkit/m2m/store"
)

func refusal(t *testing.T, err error) *federation.Refusal {
	t.Helper()
	var rf *federation.Refusal
	if !errors.As(err, &rf) {
		t.Fatalf("Verify = %v; want a *Refusal", err)
	}
	return rf
}

func TestKeyRotationAtTheIssuer(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if _, err := f.v.Verify(ctx, f.iss.Token(good()), nil); err != nil {
		t.Fatal(err)
	}
	f.iss.Rotate()
	tok := f.iss.Token(good())
	// Within MinRefetchInterval of the last fetch, an unknown kid does not
	// cause another fetch.
	if rf := refusal(t, nilMatch(f.v.Verify(ctx, tok, nil))); rf.Rule != federation.RuleSignature {
		t.Errorf("Verify with a new kid right after a fetch = %v; want rule signature", rf)
	}
	if n := f.iss.Fetches(federationtest.JWKSPath); n != 1 {
		t.Errorf("JWKS fetched %d times; want 1 (rate-limited)", n)
	}
	f.clock.Add(federation.DefaultMinRefetchInterval)
	if _, err := f.v.Verify(ctx, tok, nil); err != nil {
		t.Fatalf("Verify with the new kid after MinRefetchInterval = %v; want a match", err)
	}
	if n := f.iss.Fetches(federationtest.JWKSPath); n != 2 {
		t.Errorf("JWKS fetched %d times; want 2", n)
	}
}

func nilMatch(_ *federation.Match, err error) error { return err }

func TestJWKSByValueAndURI(t *testing.T) {
	iss := federationtest.NewIssuer(t)
	byValue := &store.TrustPolicy{Name: "by-value", Issuer: iss.URL, JWKS: iss.JWKS(), Audiences: []string{"m2m"}, Subject: "*", ClientID: "a"}
	f := newFixture(t, nil, byValue)
	f.iss = iss
	iss.SetNow(f.clock.Now)
	if _, err := f.v.Verify(context.Background(), iss.Token(good()), nil); err != nil {
		t.Fatalf("Verify with a JWK Set by value = %v", err)
	}
	if n := iss.Fetches(federationtest.DiscoveryPath) + iss.Fetches(federationtest.JWKSPath); n != 0 {
		t.Errorf("%d fetches; want none with a JWK Set by value", n)
	}
	byURI := &store.TrustPolicy{Name: "by-uri", Issuer: iss.URL, JWKSURI: iss.URL + federationtest.JWKSPath, Audiences: []string{"m2m"}, Subject: "*", ClientID: "a"}
	f.policies.set(byURI)
	f.v.Invalidate()
	if _, err := f.v.Verify(context.Background(), iss.Token(good()), nil); err != nil {
		t.Fatalf("Verify with a jwks_uri = %v", err)
	}
	if n := iss.Fetches(federationtest.DiscoveryPath); n != 0 {
		t.Errorf("discovery fetched %d times; want none with a jwks_uri", n)
	}
}

// TestIssuerFailures: every way an issuer's keys can fail to be had is a
// clean refusal with rule keys, bounded by the fetch timeout.
func TestIssuerFailures(t *testing.T) {
	other := federationtest.NewIssuer(t)
	big := strings.Repeat(" ", federation.DefaultMaxDocumentBytes+1)
	tests := []struct {
		name   string
		setup  func(f *fixture) // may change the policy's issuer (the tokens follow)
		detail string
	}{
		{"unreachable", func(f *fixture) { setIssuer(f, "https://127.0.0.1:1") }, "connect"},
		{"hangs", func(f *fixture) {
			f.iss.Handle(federationtest.DiscoveryPath, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		}, "discovery"},
		{"discovery status", func(f *fixture) {
			f.iss.Handle(federationtest.DiscoveryPath, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", 500) })
		}, "status 500"},
		{"discovery not JSON", func(f *fixture) {
			f.iss.Handle(federationtest.DiscoveryPath, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html>")) })
		}, "not a JSON object"},
		{"discovery issuer mismatch", func(f *fixture) {
			f.iss.Handle(federationtest.DiscoveryPath, discovery("https://evil.example", f.iss.URL+federationtest.JWKSPath))
		}, "issuer is not the policy's"},
		{"discovery oversized", func(f *fixture) {
			f.iss.Handle(federationtest.DiscoveryPath, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(big)) })
		}, "larger than"},
		{"discovery oversized chunked", func(f *fixture) {
			f.iss.Handle(federationtest.DiscoveryPath, func(w http.ResponseWriter, r *http.Request) {
				for range 64 {
					_, _ = w.Write([]byte(big[:federation.DefaultMaxDocumentBytes/32]))
					w.(http.Flusher).Flush()
				}
			})
		}, "larger than"},
		{"jwks oversized", func(f *fixture) {
			f.iss.Handle(federationtest.JWKSPath, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(big)) })
		}, "too large"},
		{"jwks not a key set", func(f *fixture) {
			f.iss.Handle(federationtest.JWKSPath, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{"keys":7}`)) })
		}, "jwk"},
		{"redirect to another origin", func(f *fixture) {
			f.iss.Handle(federationtest.DiscoveryPath, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, other.URL+federationtest.DiscoveryPath, http.StatusFound)
			})
		}, "another origin"},
		{"jwks redirect to another origin", func(f *fixture) {
			f.iss.Handle(federationtest.JWKSPath, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, other.URL+federationtest.JWKSPath, http.StatusFound)
			})
		}, "another origin"},
		{"issuer by a name resolving to loopback", func(f *fixture) {
			u, _ := url.Parse(f.iss.URL)
			setIssuer(f, "https://localhost:"+u.Port())
		}, "non-public address"},
		{"discovered jwks_uri at an address the policy does not name", func(f *fixture) {
			u, _ := url.Parse(f.iss.URL)
			f.iss.Handle(federationtest.DiscoveryPath, discovery(f.iss.URL, "https://127.0.0.2:"+u.Port()+federationtest.JWKSPath))
		}, "non-public address"},
		{"discovered jwks_uri over http", func(f *fixture) {
			f.iss.Handle(federationtest.DiscoveryPath, discovery(f.iss.URL, "http://example.com/jwks"))
		}, "plain http"},
		{"plain http issuer by name", func(f *fixture) {
			u, _ := url.Parse(f.iss.URL)
			setIssuer(f, "http://localhost:"+u.Port())
		}, "plain http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(c *federation.Config) { c.FetchTimeout = 300 * time.Millisecond })
			tt.setup(f)
			_, err := f.v.Verify(context.Background(), f.iss.Token(with(good(), "iss", f.policies.list[0].Issuer)), nil)
			rf := refusal(t, err)
			t.Logf("refusal: %v", rf)
			if rf.Rule != federation.RuleKeys || !strings.Contains(rf.Detail, tt.detail) {
				t.Errorf("Verify = %v; want rule keys with %q in the detail", rf, tt.detail)
			}
			// A second token right away is refused without a new fetch
			// (the failure is remembered for MinRefetchInterval).
			before := f.iss.Fetches(federationtest.DiscoveryPath)
			_, err = f.v.Verify(context.Background(), f.iss.Token(with(good(), "iss", f.policies.list[0].Issuer)), nil)
			if rf := refusal(t, err); rf.Rule != federation.RuleKeys {
				t.Errorf("second Verify = %v; want rule keys", rf)
			}
			if after := f.iss.Fetches(federationtest.DiscoveryPath); after != before {
				t.Errorf("discovery fetched again right after a failure")
			}
		})
	}
}

func setIssuer(f *fixture, iss string) {
	p := f.policies.list[0].Clone()
	p.Issuer = iss
	f.policies.set(p)
}

func discovery(issuer, jwksURI string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "jwks_uri": jwksURI})
	}
}

func TestSameOriginRedirectFollowed(t *testing.T) {
	f := newFixture(t, nil)
	f.iss.Handle(federationtest.JWKSPath, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/keys", http.StatusFound)
	})
	f.iss.Handle("/keys", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(f.iss.JWKS()) })
	if _, err := f.v.Verify(context.Background(), f.iss.Token(good()), nil); err != nil {
		t.Fatalf("Verify through a same-origin redirect = %v", err)
	}
}

// TestPlainHTTPLoopbackNamed: plain http is accepted for a loopback
// address the policy names itself (a local test issuer).
func TestPlainHTTPLoopbackNamed(t *testing.T) {
	iss := federationtest.NewIssuer(t)
	plain := httptest.NewServer(iss.Server.Config.Handler)
	t.Cleanup(plain.Close)
	p := &store.TrustPolicy{Name: "local", Issuer: "http://" + plain.Listener.Addr().String(),
		JWKSURI: plain.URL + federationtest.JWKSPath, Audiences: []string{"m2m"}, Subject: "*", ClientID: "a"}
	f := newFixture(t, nil, p)
	tok := federationtestToken(t, iss, with(good(), "iss", p.Issuer, "exp", time.Now().Add(time.Minute).Unix()))
	f.clock.t = time.Now()
	if _, err := f.v.Verify(context.Background(), tok, nil); err != nil {
		t.Fatalf("Verify from a plain http loopback issuer the policy names = %v", err)
	}
	if _, _, err := net.SplitHostPort(plain.Listener.Addr().String()); err != nil {
		t.Fatal(err)
	}
}

func federationtestToken(t *testing.T, iss *federationtest.Issuer, claims map[string]any) string {
	t.Helper()
	iss.SetNow(time.Now)
	return iss.Token(claims)
}
