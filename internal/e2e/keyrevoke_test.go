package e2e

import (
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
)

// TestEmergencyKeyRevocation pulls a compromised signing key through one
// of two replicas on PostgreSQL and Redis and checks every party that
// trusted it: both replicas' JWKS drop it, both stop signing with it and
// sign with its successor at once (no pre-publication wait), both
// introspection endpoints answer inactive for its tokens, and a
// long-running jwtauth verifier on a remote JWKS stops accepting its
// token (even one it had cached) within its refresh bound.
func TestEmergencyKeyRevocation(t *testing.T) {
	be := sharedBackends(t)
	data := filepath.Join(t.TempDir(), "shared")
	a := startServer(t, data, be.replicaArgs()...)
	b := startServer(t, data, be.replicaArgs()...)
	replicas := []*server{a, b}
	caller := be.createClient(t, data, "--name", "gateway", "--audience", audience)
	c := be.createClient(t, data, "--name", "svc", "--audience", audience, "--rate-limit", "1000", "--burst", "1000")

	first := requestToken(t, a.url, c.ClientID, c.ClientSecret)
	if first.status != http.StatusOK {
		t.Fatalf("token = %d %s", first.status, first.error)
	}
	compromised := kidOf(t, first.token)

	// A resource server's verifier: the real middleware verifier on the
	// remote JWKS of replica B, with the opt-in short refresh an operator
	// sets to see an emergency removal quickly.
	const refresh = time.Second
	keys := jwk.NewRemoteKeySet(b.url + "/.well-known/jwks.json")
	keys.RefreshInterval = refresh
	keys.MinRefetchInterval = 100 * time.Millisecond
	verifier, err := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer: replicaIssuer, Audiences: []string{audience}, Algorithms: []string{"ES256", "EdDSA", "RS256"},
		Keys: keys, Profile: jwtauth.ProfileRFC9068,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := verifier.VerifyToken(ctx, first.token); err != nil {
		t.Fatalf("VerifyToken(token of %s) before the revocation: %v", compromised, err)
	}
	for _, s := range replicas {
		if !active(t, s.url, caller, first.token) {
			t.Fatalf("token introspected at %s before the revocation: inactive", s.url)
		}
	}

	// Pull the key through replica A's admin API.
	adminToken, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, a.url+"/admin/keys/"+compromised+"/revoke", nil)
	req.Header.Set("Authorization", "Bearer "+base64.RawURLEncoding.EncodeToString(adminToken))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST /admin/keys/%s/revoke = %d; want 2xx", compromised, resp.StatusCode)
	}
	revokedAt := time.Now()

	// Replica A: at once.
	if ids := keyIDs(t, a.url); strings.Contains(ids, compromised) {
		t.Errorf("A's JWKS right after the revocation = %s; want %s gone", ids, compromised)
	}
	if active(t, a.url, caller, first.token) {
		t.Errorf("token of the revoked key introspected at A right after the revocation: active; want inactive")
	}
	if kid := kidOf(t, requestToken(t, a.url, c.ClientID, c.ClientSecret).token); kid == compromised {
		t.Errorf("A signs with the revoked key %s right after the revocation", kid)
	}

	// Replica B: within its key refresh (startServer's --key-refresh 100ms)
	// plus slack for a loaded machine.
	waitFor(t, 5*time.Second, func() bool {
		return !strings.Contains(keyIDs(t, b.url), compromised) && !active(t, b.url, caller, first.token)
	})
	t.Logf("replica B dropped %s after %v", compromised, time.Since(revokedAt).Round(time.Millisecond))
	for _, s := range replicas {
		tok := requestToken(t, s.url, c.ClientID, c.ClientSecret)
		if tok.status != http.StatusOK {
			t.Fatalf("token from %s after the revocation = %d %s; want the successor key to sign at once", s.url, tok.status, tok.error)
		}
		if kid := kidOf(t, tok.token); kid == compromised {
			t.Errorf("%s signs with the revoked key after the revocation", s.url)
		}
		// The successor was created at the revocation, so a verifier
		// that fetched the set just before may miss it; it is accepted
		// within the set's freshness (RefreshInterval here) at most.
		waitFor(t, refresh+5*time.Second, func() bool {
			_, err := verifier.VerifyToken(ctx, tok.token)
			return err == nil
		})
	}

	// The verifier: it refetches at most every RefreshInterval, so the
	// revoked key's token (cached from the first check) is refused within
	// that bound.
	waitFor(t, refresh+5*time.Second, func() bool {
		_, err := verifier.VerifyToken(ctx, first.token)
		return err != nil
	})
	t.Logf("the remote-JWKS verifier refused the revoked key's token after %v", time.Since(revokedAt).Round(time.Millisecond))
}

// kidOf returns the kid of a compact JWS header.
func kidOf(t *testing.T, tok string) string {
	t.Helper()
	h, _, ok := strings.Cut(tok, ".")
	if !ok {
		t.Fatalf("not a JWS: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(raw), `"kid":"`)
	if !ok {
		t.Fatalf("no kid in header %s", raw)
	}
	kid, _, _ := strings.Cut(rest, `"`)
	return kid
}
