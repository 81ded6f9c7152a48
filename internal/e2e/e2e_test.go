// Package e2e holds end-to-end tests: they build the m2m command, start
// the real token server ("m2m serve") on a loopback port with its SQLite
// data directory, manage it with the admin CLI while it runs, and talk to
// it with unmodified golang.org/x/oauth2/clientcredentials.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/m2mkit/m2m/internal/cli"
)

// m2mBin is the m2m command built once for all tests.
var m2mBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "m2m-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	m2mBin = filepath.Join(dir, "m2m")
	args := []string{"build", "-o", m2mBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "github.com/m2mkit/m2m/cmd/m2m")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building m2m:", err)
		return 1
	}
	return m.Run()
}

// server is a running "m2m serve".
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	data   string
	url    string
	stdout *syncBuffer
	stderr *syncBuffer
	exited chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer runs m2m serve on a free loopback port with data in dir and
// waits until it listens.
func startServer(t *testing.T, data string, args ...string) *server {
	t.Helper()
	s := &server{t: t, data: data, stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan error, 1)}
	s.cmd = exec.Command(m2mBin, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--key-refresh", "100ms", "--log-format", "json"}, args...)...)
	s.cmd.Stdout = s.stdout
	out, err := s.cmd.StderrPipe() // the log, where the listening record is
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			s.stderr.Write([]byte(line + "\n"))
			if u, ok := cli.ListeningURL(line); ok {
				listening <- u
			}
		}
		s.exited <- s.cmd.Wait()
	}()
	select {
	case s.url = <-listening:
	case err := <-s.exited:
		t.Fatalf("m2m serve exited: %v\nstdout:\n%s\nstderr:\n%s", err, s.stdout, s.stderr)
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		t.Fatalf("m2m serve did not start\nstdout:\n%s\nstderr:\n%s", s.stdout, s.stderr)
	}
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
			<-s.exited
		}
	})
	return s
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatal(err)
	}
	select {
	case err := <-s.exited:
		if err != nil {
			s.t.Fatalf("m2m serve after SIGTERM: %v\nstderr:\n%s", err, s.stderr)
		}
	case <-time.After(15 * time.Second):
		s.t.Fatal("m2m serve did not stop after SIGTERM")
	}
}

// m2m runs an admin command on the server's data and returns its stdout.
func (s *server) m2m(args ...string) string {
	s.t.Helper()
	cmd := exec.Command(m2mBin, append(args, "--data", s.data)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		s.t.Fatalf("m2m %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

type createdClient struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

func (s *server) createClient(args ...string) createdClient {
	s.t.Helper()
	var c createdClient
	out := s.m2m(append([]string{"client", "create", "--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.ClientID == "" || c.ClientSecret == "" {
		s.t.Fatalf("client create printed %q: %v", out, err)
	}
	return c
}

// jwksVerifier verifies tokens against the server's JWKS, refetching it
// when a token names an unknown kid (as a verifier must across rotation).
type jwksVerifier struct {
	url, issuer, audience string

	mu      sync.Mutex
	set     jose.JSONWebKeySet
	fetches int
}

func (v *jwksVerifier) fetch() error {
	resp, err := http.Get(v.url + "/.well-known/jwks.json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return err
	}
	v.set = set
	v.fetches++
	return nil
}

type claims struct {
	Iss      string `json:"iss"`
	Sub      string `json:"sub"`
	Aud      string `json:"aud"`
	Exp      int64  `json:"exp"`
	Iat      int64  `json:"iat"`
	Jti      string `json:"jti"`
	Scope    string `json:"scope"`
	ClientID string `json:"client_id"`
	Azp      string `json:"azp"`
	Gty      string `json:"gty"`
}

// verify checks tok's signature and registered claims and returns the
// claims and the kid.
func (v *jwksVerifier) verify(tok string) (*claims, string, error) {
	jwsObj, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256})
	if err != nil {
		return nil, "", err
	}
	kid := jwsObj.Signatures[0].Header.KeyID
	v.mu.Lock()
	keys := v.set.Key(kid)
	if len(keys) == 0 {
		if err := v.fetch(); err != nil {
			v.mu.Unlock()
			return nil, kid, err
		}
		keys = v.set.Key(kid)
	}
	v.mu.Unlock()
	if len(keys) != 1 {
		return nil, kid, fmt.Errorf("kid %q not in the JWKS", kid)
	}
	payload, err := jwsObj.Verify(keys[0])
	if err != nil {
		return nil, kid, err
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, kid, err
	}
	now := time.Now().Unix()
	switch {
	case c.Iss != v.issuer && c.Iss != v.issuer+"/":
		return nil, kid, fmt.Errorf("iss %q; want %q", c.Iss, v.issuer)
	case c.Aud != v.audience:
		return nil, kid, fmt.Errorf("aud %q; want %q", c.Aud, v.audience)
	case c.Exp <= now || c.Iat > now+5:
		return nil, kid, fmt.Errorf("iat %d exp %d at %d", c.Iat, c.Exp, now)
	}
	return &c, kid, nil
}

const audience = "https://api.example.test"

func TestServeClientCredentials(t *testing.T) {
	data := filepath.Join(t.TempDir(), "m2m-data")
	s := startServer(t, data, "--audience-profile", "https://other.example.test=auth0")
	for _, want := range []string{"created data directory", "m2m.db", "master.key", "signing key", `"issuer":"http://127.0.0.1:`} {
		if !strings.Contains(s.stderr.String(), want) {
			t.Errorf("serve log lacks %q:\n%s", want, s.stderr)
		}
	}
	if fi, err := os.Stat(filepath.Join(data, "master.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("master.key: %v, %v; want mode 0600", fi, err)
	}
	c := s.createClient("--name", "worker", "--audience", audience, "--audience", "https://other.example.test", "--scope", "read write", "--ttl", "10m")
	v := &jwksVerifier{url: s.url, issuer: s.url, audience: audience}

	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cfg := clientcredentials.Config{
			ClientID: c.ClientID, ClientSecret: c.ClientSecret, TokenURL: s.url + "/oauth/token",
			Scopes: []string{"read"}, EndpointParams: url.Values{"audience": {audience}}, AuthStyle: style,
		}
		tok, err := cfg.Token(context.Background())
		if err != nil {
			t.Fatalf("Token(auth style %v) = %v", style, err)
		}
		if tok.TokenType != "Bearer" || tok.Extra("scope") != "read" || time.Until(tok.Expiry) > 10*time.Minute+5*time.Second || time.Until(tok.Expiry) < 9*time.Minute {
			t.Errorf("token = %+v, scope %v; want Bearer, scope read, 10 minutes", tok, tok.Extra("scope"))
		}
		cl, _, err := v.verify(tok.AccessToken)
		if err != nil {
			t.Fatalf("verify = %v", err)
		}
		if cl.Sub != c.ClientID || cl.ClientID != c.ClientID || cl.Scope != "read" || cl.Jti == "" {
			t.Errorf("claims = %+v; want sub and client_id %s, scope read, a jti", cl, c.ClientID)
		}
	}

	// An Auth0 SDK's request: a JSON body with the credentials and the
	// audience, answered with an Auth0-shaped token for that audience.
	resp, err := http.Post(s.url+"/oauth/token", "application/json", strings.NewReader(
		`{"grant_type":"client_credentials","client_id":"`+c.ClientID+`","client_secret":"`+c.ClientSecret+`","audience":"https://other.example.test"}`))
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	v0 := &jwksVerifier{url: s.url, issuer: s.url, audience: "https://other.example.test"}
	cl, _, err := v0.verify(body.AccessToken)
	if err != nil || resp.StatusCode != 200 || body.ExpiresIn != 600 {
		t.Fatalf("Auth0-style request: %d, expires_in %d, verify %v", resp.StatusCode, body.ExpiresIn, err)
	}
	if cl.Iss != s.url+"/" || cl.Sub != c.ClientID+"@clients" || cl.Azp != c.ClientID || cl.Gty != "client-credentials" || cl.Scope != "read write" {
		t.Errorf("Auth0 profile claims = %+v", cl)
	}

	// Metadata points at the endpoints; metrics count the tokens.
	var md map[string]any
	getJSON(t, s.url+"/.well-known/oauth-authorization-server", &md)
	if md["issuer"] != s.url || md["token_endpoint"] != s.url+"/oauth/token" || md["jwks_uri"] != s.url+"/.well-known/jwks.json" {
		t.Errorf("metadata = %v", md)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		getJSON(t, s.url+path, &md)
	}
	if m := get(t, s.url+"/metrics"); !strings.Contains(m, `m2m_tokens_issued_total{profile="rfc9068"} 2`) || !strings.Contains(m, `m2m_tokens_issued_total{profile="auth0"} 1`) {
		t.Errorf("metrics lack the issued tokens:\n%.2000s", m)
	}
	if strings.Contains(s.stderr.String(), c.ClientSecret) {
		t.Error("the client secret appears in the server's logs")
	}

	// A restart reuses the data: same key, same clients.
	kid := keyIDs(t, s.url)
	s.stop()
	if !strings.Contains(s.stderr.String(), `"msg":"m2m: stopped"`) {
		t.Errorf("no clean stop:\n%s", s.stderr)
	}
	s2 := startServer(t, data)
	if strings.Contains(s2.stderr.String(), "created data directory") {
		t.Errorf("restart created the data again:\n%s", s2.stderr)
	}
	if got := keyIDs(t, s2.url); got != kid {
		t.Errorf("keys after restart = %s; want %s", got, kid)
	}
	cfg := clientcredentials.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, TokenURL: s2.url + "/oauth/token"}
	if _, err := cfg.Token(context.Background()); err != nil {
		t.Errorf("Token after restart = %v", err)
	}
	s2.stop()
}

func keyIDs(t *testing.T, base string) string {
	var set jose.JSONWebKeySet
	getJSON(t, base+"/.well-known/jwks.json", &set)
	var ids []string
	for _, k := range set.Keys {
		ids = append(ids, k.KeyID)
	}
	return strings.Join(ids, ",")
}

func get(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d %s", u, resp.StatusCode, b)
	}
	return string(b)
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(get(t, u)), v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

// TestServeErrors covers every error code of the token endpoint against
// the running server, through clientcredentials where it can send the
// request and raw HTTP where it cannot.
func TestServeErrors(t *testing.T) {
	s := startServer(t, filepath.Join(t.TempDir(), "d"))
	c := s.createClient("--name", "worker", "--audience", audience, "--scope", "read")
	limited := s.createClient("--name", "limited", "--audience", audience, "--rate-limit", "0.01", "--burst", "1")
	off := s.createClient("--name", "off", "--audience", audience)
	s.m2m("client", "disable", off.ClientID)
	tokenURL := s.url + "/oauth/token"
	cc := func(id, secret string, scopes []string, params url.Values) error {
		cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: tokenURL, Scopes: scopes,
			EndpointParams: params, AuthStyle: oauth2.AuthStyleInHeader}
		_, err := cfg.Token(context.Background())
		return err
	}
	tests := []struct {
		name      string
		do        func() error
		status    int
		code      string
		challenge bool
	}{
		{"wrong secret (Basic)", func() error { return cc(c.ClientID, "wrong", nil, nil) }, 401, "invalid_client", true},
		{"unknown client", func() error { return cc("nobody", c.ClientSecret, nil, nil) }, 401, "invalid_client", true},
		{"scope not granted", func() error { return cc(c.ClientID, c.ClientSecret, []string{"admin"}, nil) }, 400, "invalid_scope", false},
		{"audience not granted", func() error {
			return cc(c.ClientID, c.ClientSecret, nil, url.Values{"audience": {"https://evil.example.test"}})
		}, 403, "access_denied", false},
		{"malformed resource", func() error { return cc(c.ClientID, c.ClientSecret, nil, url.Values{"resource": {"not a uri"}}) }, 400, "invalid_target", false},
		{"disabled client", func() error { return cc(off.ClientID, off.ClientSecret, nil, nil) }, 400, "unauthorized_client", false},
		{"unsupported grant type", func() error {
			return cc(c.ClientID, c.ClientSecret, nil, url.Values{"grant_type": {"password"}})
		}, 400, "unsupported_grant_type", false},
		{"repeated parameter", func() error {
			return rawPost(tokenURL, "application/x-www-form-urlencoded",
				"grant_type=client_credentials&client_id="+c.ClientID+"&client_secret="+c.ClientSecret+"&scope=read&scope=read")
		}, 400, "invalid_request", false},
		{"JSON body without grant_type", func() error {
			return rawPost(tokenURL, "application/json", `{"client_id":"`+c.ClientID+`","client_secret":"`+c.ClientSecret+`"}`)
		}, 400, "invalid_request", false},
		{"rate limited", func() error {
			if err := cc(limited.ClientID, limited.ClientSecret, nil, nil); err != nil {
				return fmt.Errorf("first request: %w", err)
			}
			return cc(limited.ClientID, limited.ClientSecret, nil, nil)
		}, 429, "too_many_requests", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) {
				t.Fatalf("error = %v; want a *oauth2.RetrieveError", err)
			}
			if re.Response.StatusCode != tc.status || re.ErrorCode != tc.code {
				t.Errorf("response = %d %q (%s); want %d %q", re.Response.StatusCode, re.ErrorCode, re.Body, tc.status, tc.code)
			}
			ch := re.Response.Header.Get("WWW-Authenticate")
			if strings.HasPrefix(ch, "Basic realm=") != tc.challenge {
				t.Errorf("WWW-Authenticate = %q; want a Basic challenge: %v", ch, tc.challenge)
			}
			if tc.status == 429 {
				h := re.Response.Header
				if h.Get("Retry-After") == "" || h.Get("X-RateLimit-Limit") != "1" || h.Get("X-RateLimit-Remaining") != "0" || h.Get("X-RateLimit-Reset") == "" {
					t.Errorf("429 headers = %v; want Retry-After and X-RateLimit-*", h)
				}
			}
		})
	}

	// Admin changes made while the server runs take effect within the
	// client cache bound (2 s).
	s.m2m("client", "disable", c.ClientID)
	waitFor(t, 3*time.Second, func() bool {
		var re *oauth2.RetrieveError
		return errors.As(cc(c.ClientID, c.ClientSecret, nil, nil), &re) && re.ErrorCode == "unauthorized_client"
	})
	s.m2m("client", "enable", c.ClientID)
	var rotated createdClient
	json.Unmarshal([]byte(s.m2m("client", "rotate-secret", c.ClientID, "--grace", "0s", "--json")), &rotated)
	// Wait for the event with the old secret: it works while the server
	// trusts its cached record and fails once (one failure, well within
	// the failure throttle) when the server reads the rotated one. Polling
	// with the new secret would count a failure per attempt until then.
	// Until then the server may also still hold the disabled record,
	// which refuses after authentication (not a throttled failure).
	waitFor(t, 5*time.Second, func() bool {
		var re *oauth2.RetrieveError
		err := cc(c.ClientID, c.ClientSecret, nil, nil)
		switch {
		case err == nil, errors.As(err, &re) && re.ErrorCode == "unauthorized_client":
			return false
		case errors.As(err, &re) && re.ErrorCode == "invalid_client":
			return true
		}
		t.Fatalf("old secret after rotate-secret --grace 0s: %v; want success or unauthorized_client, then invalid_client", err)
		return false
	})
	if err := cc(c.ClientID, rotated.ClientSecret, nil, nil); err != nil {
		t.Errorf("new secret once the old one is refused: %v", err)
	}
}

// waitFor polls ok every 50 ms until it holds, and fails the test when it
// does not within limit. It waits for a condition (an event in another
// process), never for time to pass.
func waitFor(t *testing.T, limit time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !ok() {
		select {
		case <-deadline.C:
			t.Fatalf("condition not met within %v", limit)
		case <-tick.C:
		}
	}
}

// rawPost sends a token request clientcredentials cannot express and
// returns its refusal as a RetrieveError.
func rawPost(u, contentType, body string) error {
	resp, err := http.Post(u, contentType, strings.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 {
		return nil
	}
	var e struct {
		Error string `json:"error"`
	}
	json.Unmarshal(b, &e)
	return &oauth2.RetrieveError{Response: resp, Body: b, ErrorCode: e.Error}
}

// TestServeKeyRotationUnderTraffic rotates the signing key twice with the
// admin CLI while clients fetch and verify tokens continuously: no request
// may fail, and tokens signed by the new keys must verify.
func TestServeKeyRotationUnderTraffic(t *testing.T) {
	s := startServer(t, filepath.Join(t.TempDir(), "d"))
	c := s.createClient("--name", "busy", "--audience", audience, "--rate-limit", "100000", "--burst", "100000")
	v := &jwksVerifier{url: s.url, issuer: s.url, audience: audience}
	cfg := clientcredentials.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, TokenURL: s.url + "/oauth/token"}

	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu       sync.Mutex
		requests int
		failures []error
		kids     = map[string]int{}
		wg       sync.WaitGroup
		// progress receives the number of kids and requests so far after
		// every request, for the waits below.
		progress = make(chan [2]int, 64)
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				tok, err := cfg.Token(context.Background())
				var kid string
				if err == nil {
					_, kid, err = v.verify(tok.AccessToken)
				}
				mu.Lock()
				requests++
				if err != nil {
					failures = append(failures, err)
				} else {
					kids[kid]++
				}
				p := [2]int{len(kids), requests}
				mu.Unlock()
				select {
				case progress <- p:
				default: // the waiter catches up with the next one
				}
			}
		}()
	}
	// until waits for the traffic to have seen nKids keys and nRequests
	// requests in all.
	until := func(nKids, nRequests int, what string) {
		t.Helper()
		deadline := time.NewTimer(15 * time.Second)
		defer deadline.Stop()
		for {
			select {
			case p := <-progress:
				if p[0] >= nKids && p[1] >= nRequests {
					return
				}
			case <-deadline.C:
				cancel()
				wg.Wait()
				t.Fatalf("%s: no %d keys and %d requests within 15s (kids %v, %d requests, failures %v)", what, nKids, nRequests, kids, requests, failures)
			}
		}
	}
	until(1, 20, "traffic before the first rotation")
	for i := range 2 {
		s.m2m("key", "rotate", "--pre-publish", "1s")
		mu.Lock()
		n := requests
		mu.Unlock()
		// The next key activates after its pre-publication; keep the
		// traffic going until tokens carry it, and a little beyond.
		until(2+i, n+20, "tokens signed by the rotated key")
	}
	mu.Lock()
	n := requests
	mu.Unlock()
	until(3, n+20, "traffic after the second rotation")
	cancel()
	wg.Wait()
	t.Logf("%d requests, tokens by kid: %v, JWKS fetches: %d", requests, kids, v.fetches)
	if len(failures) > 0 {
		t.Errorf("%d of %d requests failed; first: %v", len(failures), requests, failures[0])
	}
	if len(kids) != 3 {
		t.Errorf("tokens were signed by %d keys; want 3 (the first and two rotations)", len(kids))
	}
	// The stored key states follow the server's key refresh (100 ms here),
	// so wait for them.
	var out string
	defer func() {
		if t.Failed() {
			t.Logf("key list after two rotations:\n%s", out)
		}
	}()
	waitFor(t, 5*time.Second, func() bool {
		out = s.m2m("key", "list")
		return strings.Count(out, " retiring ") == 2 && strings.Count(out, " active ") == 1
	})
}

// TestServeScheduledRotation runs the server with a short rotation
// schedule: keys rotate by themselves and tokens keep verifying.
func TestServeScheduledRotation(t *testing.T) {
	s := startServer(t, filepath.Join(t.TempDir(), "d"), "--rotate-every", "2s", "--pre-publish", "1s")
	c := s.createClient("--name", "cron", "--audience", audience, "--rate-limit", "1000", "--burst", "1000")
	v := &jwksVerifier{url: s.url, issuer: s.url, audience: audience}
	cfg := clientcredentials.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, TokenURL: s.url + "/oauth/token"}
	kids := map[string]bool{}
	// Request a token every 50 ms until a second key has signed one (the
	// schedule's event), for at most 10 s.
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	pace := time.NewTicker(50 * time.Millisecond)
	defer pace.Stop()
	for len(kids) < 2 {
		tok, err := cfg.Token(context.Background())
		if err != nil {
			t.Fatalf("Token() = %v", err)
		}
		_, kid, err := v.verify(tok.AccessToken)
		if err != nil {
			t.Fatalf("verify = %v", err)
		}
		kids[kid] = true
		select {
		case <-pace.C:
		case <-deadline.C:
			t.Fatalf("tokens signed by %d keys in 10 s with --rotate-every 2s; want at least 2", len(kids))
		}
	}
}

// TestServeAdminAPI manages a client through the running server's admin
// API (m2m client --server), with the admin token created on first start.
func TestServeAdminAPI(t *testing.T) {
	data := filepath.Join(t.TempDir(), "d")
	s := startServer(t, data)
	if fi, err := os.Stat(filepath.Join(data, "admin.token")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token: %v, %v; want mode 0600", fi, err)
	}
	var c createdClient
	out := s.m2m("client", "create", "--server", s.url, "--name", "remote", "--audience", audience, "--json")
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.ClientSecret == "" {
		t.Fatalf("client create --server printed %q: %v", out, err)
	}
	cfg := clientcredentials.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, TokenURL: s.url + "/oauth/token"}
	if _, err := cfg.Token(context.Background()); err != nil {
		t.Fatalf("Token() = %v", err)
	}
	// Through the admin API a change applies at once, not within 2 s.
	s.m2m("client", "disable", c.ClientID, "--server", s.url)
	var re *oauth2.RetrieveError
	if _, err := cfg.Token(context.Background()); !errors.As(err, &re) || re.ErrorCode != "unauthorized_client" {
		t.Errorf("Token() right after disable --server = %v; want unauthorized_client", err)
	}
	if out := s.m2m("client", "list", "--server", s.url); !strings.Contains(out, c.ClientID) || !strings.Contains(out, "disabled") {
		t.Errorf("client list --server:\n%s", out)
	}
	// Key rotation through the admin API publishes a second key.
	if out := s.m2m("key", "rotate", "--server", s.url, "--json"); strings.Count(out, `"kid"`) != 2 {
		t.Errorf("key rotate --server printed %s; want two published keys", out)
	}
	// A wrong admin token is refused.
	bad := filepath.Join(t.TempDir(), "bad.token")
	os.WriteFile(bad, bytes.Repeat([]byte{7}, 32), 0o600)
	cmd := exec.Command(m2mBin, "client", "list", "--server", s.url, "--admin-token-file", bad)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "401") {
		t.Errorf("client list with a wrong admin token: %v %s; want a 401 failure", err, out)
	}
}
