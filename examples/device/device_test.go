package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// boot starts a device on dir and returns its test server and what it
// printed.
func boot(t *testing.T, dir string, now func() time.Time) (*httptest.Server, string) {
	t.Helper()
	var out bytes.Buffer
	d, err := newDevice(config{Dir: dir, Out: &out, Now: now, BcryptCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.handler())
	t.Cleanup(srv.Close)
	return srv, out.String()
}

var passwordLine = regexp.MustCompile(`(?m)^    (\S+)$`)

type response struct {
	status int
	header http.Header
	body   map[string]any
}

func do(t *testing.T, srv *httptest.Server, method, path, body string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	r := response{status: res.StatusCode, header: res.Header}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &r.body); err != nil {
			t.Fatalf("%s %s: body %q is not a JSON object", method, path, data)
		}
	}
	return r
}

func login(t *testing.T, srv *httptest.Server, user, pass string) response {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"user": user, "pass": pass})
	return do(t, srv, "POST", "/api/login", string(b))
}

func TestDevice(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	now := time.Now()
	clock := func() time.Time { return now }
	srv, out := boot(t, dir, clock)

	// First boot: a 32-byte secret and a password file, both 0600, and the
	// admin password printed once.
	for _, name := range []string{"secret.bin", "htpasswd"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %04o; want 0600", name, fi.Mode().Perm())
		}
		if name == "secret.bin" && fi.Size() != 32 {
			t.Errorf("secret.bin size = %d; want 32", fi.Size())
		}
	}
	m := passwordLine.FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "first boot") {
		t.Fatalf("first boot printed %q; want the admin password", out)
	}
	password := m[1]
	if ht, _ := os.ReadFile(filepath.Join(dir, "htpasswd")); !bytes.HasPrefix(ht, []byte("admin:$2a$04$")) || bytes.Contains(ht, []byte(password)) {
		t.Errorf("htpasswd = %q; want admin with a bcrypt hash, not the password", ht)
	}

	// Login.
	if r := login(t, srv, "admin", password+"x"); r.status != http.StatusUnauthorized || r.body["error"] != "bad_credentials" {
		t.Errorf("login with a wrong password = %d %v; want 401 bad_credentials", r.status, r.body)
	}
	if r := login(t, srv, "nobody", password); r.status != http.StatusUnauthorized {
		t.Errorf("login as an unknown user = %d; want 401", r.status)
	}
	if r := do(t, srv, "POST", "/api/login", `{"user": "admin"}`); r.status != http.StatusBadRequest {
		t.Errorf("login without pass = %d %v; want 400", r.status, r.body)
	}
	r := login(t, srv, "admin", password)
	token, _ := r.body["token"].(string)
	if r.status != http.StatusOK || strings.Count(token, ".") != 2 {
		t.Fatalf("login = %d %v; want 200 with a token", r.status, r.body)
	}
	bearer := []string{"Authorization", "Bearer " + token}

	// Ack.
	if r := do(t, srv, "POST", "/api/ack", `{"count": 3}`); r.status != http.StatusUnauthorized ||
		!strings.HasPrefix(r.header.Get("WWW-Authenticate"), `Bearer realm="camera"`) {
		t.Errorf("ack without a token = %d %q; want 401 with a Bearer challenge", r.status, r.header.Get("WWW-Authenticate"))
	}
	if r := do(t, srv, "POST", "/api/ack", `{"count": 3}`, "Authorization", "Bearer "+token[:len(token)-2]+"xx"); r.status != http.StatusUnauthorized ||
		!strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("ack with a forged token = %d %q; want 401 invalid_token", r.status, r.header.Get("WWW-Authenticate"))
	}
	r = do(t, srv, "POST", "/api/ack", `{"count": 3}`, bearer...)
	if r.status != http.StatusOK || r.body["user"] != "admin" || r.body["acked"] != 3.0 || r.body["total"] != 3.0 {
		t.Errorf("ack = %d %v; want 200 admin acked 3 total 3", r.status, r.body)
	}
	for _, body := range []string{`{}`, `{"count": null}`, `{"seen": 1}`, ""} {
		r := do(t, srv, "POST", "/api/ack", body, bearer...)
		if r.status != http.StatusBadRequest || r.body["error_description"] != "missing count" {
			t.Errorf("ack with %q = %d %v; want 400 missing count", body, r.status, r.body)
		}
	}
	for _, body := range []string{`{"count": -1}`, `{"count": 1.5}`, `{"count": "3"}`, `{"count": 1e3}`, `[1]`, `{"count": 1} {}`} {
		if r := do(t, srv, "POST", "/api/ack", body, bearer...); r.status != http.StatusBadRequest {
			t.Errorf("ack with %q = %d %v; want 400", body, r.status, r.body)
		}
	}
	if r := do(t, srv, "POST", "/api/ack", `{"count": 1, "pad": "`+strings.Repeat("x", 5000)+`"}`, bearer...); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("ack with a 5 KB body = %d; want 413", r.status)
	}
	if r := do(t, srv, "POST", "/api/ack", `{"count": 3}`, "Authorization", "Basic "+basicAuth("admin", password)); r.status != http.StatusUnauthorized {
		t.Errorf("ack with Basic auth = %d; want 401 (Bearer only)", r.status)
	}

	// Admin page with Basic auth.
	r = do(t, srv, "GET", "/admin", "")
	if want := `Basic realm="camera admin", charset="UTF-8"`; r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") != want {
		t.Errorf("admin without credentials = %d %q; want 401 %q", r.status, r.header.Get("WWW-Authenticate"), want)
	}
	if r := do(t, srv, "GET", "/admin", "", "Authorization", "Basic "+basicAuth("admin", "wrong")); r.status != http.StatusUnauthorized || r.body["error"] != "bad_credentials" {
		t.Errorf("admin with a wrong password = %d %v; want 401 bad_credentials", r.status, r.body)
	}
	if r := do(t, srv, "GET", "/admin", "", bearer...); r.status != http.StatusUnauthorized {
		t.Errorf("admin with a Bearer token = %d; want 401 (Basic only)", r.status)
	}
	r = do(t, srv, "GET", "/admin", "", "Authorization", "Basic "+basicAuth("admin", password))
	if r.status != http.StatusOK || r.body["user"] != "admin" || r.body["acks"] != 3.0 {
		t.Errorf("admin = %d %v; want 200 admin with 3 acks", r.status, r.body)
	}

	// A restart keeps the secret and the password: the token still works,
	// and nothing is printed.
	srv2, out2 := boot(t, dir, clock)
	if out2 != "" {
		t.Errorf("second boot printed %q; want nothing", out2)
	}
	if r := do(t, srv2, "POST", "/api/ack", `{"count": 1}`, bearer...); r.status != http.StatusOK {
		t.Errorf("ack after restart = %d %v; want 200", r.status, r.body)
	}
	if r := login(t, srv2, "admin", password); r.status != http.StatusOK {
		t.Errorf("login after restart = %d; want 200", r.status)
	}

	// Tokens expire after an hour.
	now = now.Add(time.Hour + time.Minute)
	if r := do(t, srv2, "POST", "/api/ack", `{"count": 1}`, bearer...); r.status != http.StatusUnauthorized || r.body["error"] != "expired" {
		t.Errorf("ack with an expired token = %d %v; want 401 expired", r.status, r.body)
	}
	now = now.Add(-time.Hour - time.Minute)

	// Deleting secret.bin and restarting invalidates every token.
	if err := os.Remove(filepath.Join(dir, "secret.bin")); err != nil {
		t.Fatal(err)
	}
	srv3, out3 := boot(t, dir, clock)
	if !strings.Contains(out3, "created the signing secret") || strings.Contains(out3, "password") {
		t.Errorf("boot without secret.bin printed %q; want a new secret and no new password", out3)
	}
	if r := do(t, srv3, "POST", "/api/ack", `{"count": 1}`, bearer...); r.status != http.StatusUnauthorized || r.body["error"] != "bad_signature" {
		t.Errorf("old token after deleting the secret = %d %v; want 401 bad_signature", r.status, r.body)
	}
}

func basicAuth(user, pass string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pass)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

func TestDeviceRefusesLooseSecret(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret.bin"), bytes.Repeat([]byte{1}, 32), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "secret.bin"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := newDevice(config{Dir: dir}); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("newDevice with a world-readable secret = %v; want an error saying chmod 600", err)
	}
}

func TestDeviceHtpasswdFlag(t *testing.T) {
	dir := t.TempDir()
	if _, err := newDevice(config{Dir: dir, Htpasswd: filepath.Join(dir, "missing")}); err == nil {
		t.Error("newDevice with a missing -htpasswd file = nil error; want an error")
	}
	if _, err := os.Stat(filepath.Join(dir, "htpasswd")); err == nil {
		t.Error("newDevice with -htpasswd created DATA/htpasswd; want no file")
	}
	ht := filepath.Join(dir, "users")
	// "U*U", bcrypt cost 5 (OpenBSD test set).
	if err := os.WriteFile(ht, []byte("owner:$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	d, err := newDevice(config{Dir: dir, Htpasswd: ht, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "password") {
		t.Errorf("boot with -htpasswd printed %q; want no password", out.String())
	}
	srv := httptest.NewServer(d.handler())
	defer srv.Close()
	if r := login(t, srv, "owner", "U*U"); r.status != http.StatusOK {
		t.Errorf("login as owner = %d %v; want 200", r.status, r.body)
	}
}

// TestRun starts the program as main does and stops it.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	dir := filepath.Join(t.TempDir(), "data")
	var stdout, stderr bytes.Buffer
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"-addr", "127.0.0.1:0", "-data", dir}, &stdout, &stderr, func(a string) { addrc <- a })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-errc:
		t.Fatalf("run = %v before listening", err)
	}
	res, err := http.Get("http://" + addr + "/admin")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /admin = %d; want 401", res.StatusCode)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("run after cancel = %v; want nil", err)
	}
	if !strings.Contains(stdout.String(), "listening on http://") || !strings.Contains(stderr.String(), "reason=missing_credentials") {
		t.Errorf("stdout %q, stderr %q; want the address and a refusal log line", stdout.String(), stderr.String())
	}
	if err := run(context.Background(), []string{"-no-such-flag"}, io.Discard, io.Discard, nil); err == nil {
		t.Error("run(-no-such-flag) = nil; want an error")
	}
}

func TestDeviceThrottle(t *testing.T) {
	srv, _ := boot(t, t.TempDir(), nil)
	// ratelimit.DefaultFailureLimit allows a burst of 10 failures; the
	// login and the admin page share the count.
	for i := range 10 {
		path := "/admin"
		if i%2 == 0 {
			if r := login(t, srv, "admin", "guess"); r.status != http.StatusUnauthorized {
				t.Fatalf("failed login %d = %d; want 401", i, r.status)
			}
			continue
		}
		if r := do(t, srv, "GET", path, "", "Authorization", "Basic "+basicAuth("admin", "guess")); r.status != http.StatusUnauthorized {
			t.Fatalf("failed admin %d = %d; want 401", i, r.status)
		}
	}
	r := do(t, srv, "GET", "/admin", "", "Authorization", "Basic "+basicAuth("admin", "guess"))
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Errorf("admin after 10 failures = %d, Retry-After %q; want 429 with Retry-After", r.status, r.header.Get("Retry-After"))
	}
	if r := login(t, srv, "admin", "guess"); r.status != http.StatusTooManyRequests {
		t.Errorf("login after 10 failures = %d; want 429", r.status)
	}
}
