package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m/internal/testbackend"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/redis/go-redis/v9"
)

// backends are the PostgreSQL database (a fresh schema) and the Redis key
// prefix (random) of one replica test.
type backends struct {
	postgres, redis, prefix string
}

// sharedBackends creates a fresh PostgreSQL schema on M2M_TEST_POSTGRES_DSN
// and a random key prefix on M2M_TEST_REDIS_ADDR, both removed when the
// test ends, or skips the test when either variable is unset.
func sharedBackends(t testing.TB) backends {
	t.Helper()
	addr := testbackend.RedisAddr(t)
	pg := testbackend.PostgresSchema(t, "m2m_e2e_")
	prefix := "m2m-e2e-" + testbackend.Suffix() + ":"
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	return backends{postgres: pg, redis: "redis://" + addr + "/0", prefix: prefix}
}

// replicaIssuer is the issuer every replica is given: replicas behind one
// load balancer are one authorization server.
const replicaIssuer = "https://auth.replicas.test"

// replicaArgs are the serve flags of a replica on the given backends.
func (b backends) replicaArgs(extra ...string) []string {
	return append([]string{"--database", b.postgres, "--redis", b.redis, "--redis-prefix", b.prefix,
		"--issuer", replicaIssuer, "--pre-publish", "2s"}, extra...)
}

// admin runs an admin command against the shared database and returns
// its stdout.
func (b backends) admin(t *testing.T, data string, args ...string) string {
	t.Helper()
	cmd := exec.Command(m2mBin, append(args, "--data", data, "--database", b.postgres)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("m2m %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

func (b backends) createClient(t *testing.T, data string, args ...string) createdClient {
	t.Helper()
	var c createdClient
	out := b.admin(t, data, append([]string{"client", "create", "--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.ClientID == "" || c.ClientSecret == "" {
		t.Fatalf("client create printed %q: %v", out, err)
	}
	return c
}

// tokenResult is one answer of a token endpoint.
type tokenResult struct {
	status int
	token  string
	error  string
}

// requestToken asks base's token endpoint for a token with HTTP Basic.
func requestToken(t *testing.T, base, id, secret string) tokenResult {
	t.Helper()
	return postForm(t, base+"/oauth/token", id, secret, url.Values{"grant_type": {"client_credentials"}})
}

func postForm(t *testing.T, u, id, secret string, form url.Values) tokenResult {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Active      *bool  `json:"active"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	r := tokenResult{status: resp.StatusCode, token: body.AccessToken, error: body.Error}
	if body.Active != nil && *body.Active {
		r.token = "active"
	}
	return r
}

// active reports whether base's introspection endpoint says tok is active.
func active(t *testing.T, base string, caller createdClient, tok string) bool {
	t.Helper()
	r := postForm(t, base+"/oauth/introspect", caller.ClientID, caller.ClientSecret, url.Values{"token": {tok}})
	if r.status != http.StatusOK {
		t.Fatalf("introspect at %s = %d %s", base, r.status, r.error)
	}
	return r.token == "active"
}

// changeBound is how soon a change to a client made through one replica
// (or the database) must be honoured by another: the client cache bound
// (authserver.DefaultClientCacheTTL, 2 s), plus slack for a loaded machine.
const changeBound = 2*time.Second + time.Second

// TestReplicas runs two m2m serve processes on one PostgreSQL database and
// one Redis, as two replicas behind a load balancer.
func TestReplicas(t *testing.T) {
	be := sharedBackends(t)
	data := filepath.Join(t.TempDir(), "shared") // the master secret and admin token
	a := startServer(t, data, be.replicaArgs()...)
	b := startServer(t, data, be.replicaArgs()...)
	replicas := []*server{a, b}
	for _, s := range replicas {
		if !strings.Contains(s.stderr.String(), `"msg":"m2m: redis","url":"redis://`) {
			t.Fatalf("serve log lacks the Redis record:\n%s", s.stderr)
		}
	}
	caller := be.createClient(t, data, "--name", "gateway", "--audience", audience)

	t.Run("tokens verify with either JWKS", func(t *testing.T) {
		c := be.createClient(t, data, "--name", "svc", "--audience", audience)
		for _, from := range replicas {
			tok := requestToken(t, from.url, c.ClientID, c.ClientSecret)
			if tok.status != http.StatusOK {
				t.Fatalf("token from %s = %d %s", from.url, tok.status, tok.error)
			}
			for _, with := range replicas {
				v := &jwksVerifier{url: with.url, issuer: replicaIssuer, audience: audience}
				if _, _, err := v.verify(tok.token); err != nil {
					t.Errorf("token from %s with the JWKS of %s: %v", from.url, with.url, err)
				}
				if !active(t, with.url, caller, tok.token) {
					t.Errorf("token from %s introspected at %s: inactive; want active", from.url, with.url)
				}
			}
		}
	})

	t.Run("revocation through one is seen by the other", func(t *testing.T) {
		c := be.createClient(t, data, "--name", "revoked", "--audience", audience)
		tok := requestToken(t, a.url, c.ClientID, c.ClientSecret).token
		keep := requestToken(t, b.url, c.ClientID, c.ClientSecret).token
		if r := postForm(t, a.url+"/oauth/revoke", c.ClientID, c.ClientSecret, url.Values{"token": {tok}}); r.status != http.StatusOK {
			t.Fatalf("revoke at A = %d %s", r.status, r.error)
		}
		// Revocations live in Redis: B sees them at once.
		if active(t, b.url, caller, tok) {
			t.Errorf("revoked token introspected at B: active; want inactive at once")
		}
		if !active(t, b.url, caller, keep) {
			t.Errorf("another token of the client at B: inactive; want active")
		}
		// Everything issued so far, through the admin CLI on the database.
		// The token was issued before the command starts, so its iat (whole
		// seconds, at most its issue time) is before the revocation time.
		be.admin(t, data, "client", "revoke-tokens", c.ClientID)
		start := time.Now()
		waitFor(t, changeBound, func() bool { return !active(t, a.url, caller, keep) && !active(t, b.url, caller, keep) })
		t.Logf("revoke-tokens honoured by both replicas after %v", time.Since(start).Round(time.Millisecond))

		// Through one replica's admin API: that replica honours it at once.
		d := be.createClient(t, data, "--name", "revoked-api", "--audience", audience)
		dtok := requestToken(t, b.url, d.ClientID, d.ClientSecret).token
		if !active(t, a.url, caller, dtok) {
			t.Fatalf("fresh token introspected at A: inactive; want active")
		}
		if out := be.admin(t, data, "client", "revoke-tokens", d.ClientID, "--server", a.url); !strings.Contains(out, "revoked the tokens of client "+d.ClientID) {
			t.Errorf("revoke-tokens --server printed %q", out)
		}
		if active(t, a.url, caller, dtok) {
			t.Errorf("token introspected at A right after revoke-tokens through A's admin API: active; want inactive at once")
		}
		waitFor(t, changeBound, func() bool { return !active(t, b.url, caller, dtok) })
	})

	t.Run("disable and rotate-secret through one are refused by the other", func(t *testing.T) {
		c := be.createClient(t, data, "--name", "disabled", "--audience", audience)
		for _, s := range replicas { // both cache the client
			if r := requestToken(t, s.url, c.ClientID, c.ClientSecret); r.status != http.StatusOK {
				t.Fatalf("token = %d %s", r.status, r.error)
			}
		}
		be.admin(t, data, "client", "disable", c.ClientID, "--server", a.url)
		if r := requestToken(t, a.url, c.ClientID, c.ClientSecret); r.status == http.StatusOK {
			t.Errorf("token from A right after disabling through A's admin API = 200; want refused at once")
		}
		start := time.Now()
		waitFor(t, changeBound, func() bool {
			return requestToken(t, b.url, c.ClientID, c.ClientSecret).error == "unauthorized_client"
		})
		t.Logf("disable honoured by B after %v", time.Since(start).Round(time.Millisecond))

		r := be.createClient(t, data, "--name", "rotated", "--audience", audience)
		for _, s := range replicas {
			requestToken(t, s.url, r.ClientID, r.ClientSecret)
		}
		be.admin(t, data, "client", "rotate-secret", r.ClientID, "--grace", "0", "--server", b.url)
		start = time.Now()
		waitFor(t, changeBound, func() bool {
			return requestToken(t, a.url, r.ClientID, r.ClientSecret).error == "invalid_client"
		})
		t.Logf("rotate-secret honoured by A after %v", time.Since(start).Round(time.Millisecond))
	})

	t.Run("shared rate limit", func(t *testing.T) {
		const burst = 6
		c := be.createClient(t, data, "--name", "limited", "--audience", audience, "--rate-limit", "0.5", "--burst", "6")
		start := time.Now()
		granted := map[string]int{}
		for i := range 3 * burst {
			s := replicas[i%2]
			switch r := requestToken(t, s.url, c.ClientID, c.ClientSecret); r.status {
			case http.StatusOK:
				granted[s.url]++
			case http.StatusTooManyRequests:
			default:
				t.Fatalf("token = %d %s", r.status, r.error)
			}
		}
		elapsed := time.Since(start)
		total := granted[a.url] + granted[b.url]
		// The budget: the burst plus what the rate refilled meanwhile.
		budget := burst + int(0.5*elapsed.Seconds()+1)
		if total < burst || total > budget {
			t.Errorf("the two replicas granted %d tokens (%v) in %v; want between %d and %d (one shared budget)", total, granted, elapsed, burst, budget)
		}
		if granted[a.url] == 0 || granted[b.url] == 0 {
			t.Errorf("granted %v; want both replicas to have granted some", granted)
		}
	})

	t.Run("key rotated through one is published by both before it signs", func(t *testing.T) {
		c := be.createClient(t, data, "--name", "rotation", "--audience", audience, "--rate-limit", "1000", "--burst", "1000")
		before := keyIDs(t, a.url)
		be.admin(t, data, "key", "rotate", "--server", b.url)
		// Poll every 50 ms until a replica signs with the new key, for at
		// most 30 s.
		deadline := time.NewTimer(30 * time.Second)
		defer deadline.Stop()
		pace := time.NewTicker(50 * time.Millisecond)
		defer pace.Stop()
		var newKid string
	poll:
		for newKid == "" {
			// JWKS first, then tokens: a token must never carry a kid
			// that either JWKS lacked just before it was issued.
			published := map[string]string{a.url: keyIDs(t, a.url), b.url: keyIDs(t, b.url)}
			for _, s := range replicas {
				r := requestToken(t, s.url, c.ClientID, c.ClientSecret)
				if r.status != http.StatusOK {
					t.Fatalf("token = %d %s", r.status, r.error)
				}
				v := &jwksVerifier{url: s.url, issuer: replicaIssuer, audience: audience}
				_, kid, err := v.verify(r.token)
				if err != nil {
					t.Fatalf("token from %s: %v", s.url, err)
				}
				if strings.Contains(before, kid) {
					continue
				}
				for u, ids := range published {
					if !strings.Contains(ids, kid) {
						t.Fatalf("%s signed with %s before %s published it (JWKS %s)", s.url, kid, u, ids)
					}
				}
				newKid = kid
			}
			if newKid != "" {
				break
			}
			select {
			case <-pace.C:
			case <-deadline.C:
				break poll
			}
		}
		if newKid == "" {
			t.Fatalf("no replica signed with the rotated key within 30s (keys before %s, now %s)", before, keyIDs(t, a.url))
		}
		// Once one signs with it, both do: they switch at its activation time.
		waitFor(t, 2*time.Second, func() bool {
			for _, s := range replicas {
				v := &jwksVerifier{url: s.url, issuer: replicaIssuer, audience: audience}
				if _, kid, err := v.verify(requestToken(t, s.url, c.ClientID, c.ClientSecret).token); err != nil || kid != newKid {
					return false
				}
			}
			return true
		})
	})
}
