package basic_test

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/basic"
	"github.com/m2mkit/m2m/clientaddr"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/ratelimit"
)

// plainUsers is a test Users with plaintext passwords, counting calls.
type plainUsers struct {
	m     map[string]string
	calls int
	err   error
}

func (u *plainUsers) Authenticate(_ context.Context, user, pass string) (bool, error) {
	u.calls++
	if u.err != nil {
		return false, u.err
	}
	want, ok := u.m[user]
	return ok && subtle.ConstantTimeCompare([]byte(want), []byte(pass)) == 1, nil
}

// microdotUsers are the basic_users of the microdot vectors.
func microdotUsers() *plainUsers {
	return &plainUsers{m: map[string]string{"alice": "wonderland", "svc": "p:a:ss"}}
}

func request(auth ...string) *http.Request {
	r := httptest.NewRequest("GET", "/admin", nil)
	for _, a := range auth {
		r.Header.Add("Authorization", a)
	}
	return r
}

func TestVerifierVerify(t *testing.T) {
	const (
		alice = "Basic YWxpY2U6d29uZGVybGFuZA=="
		junk  = "Basic Y!W!x!p!Y!2!U!6!d!2!9!u!Z!G!V!y!b!G!F!u!Z!A!=!="
	)
	tests := []struct {
		name    string
		lenient bool
		scheme  string
		auth    []string
		subject string     // accepted as this user
		reason  m2m.Reason // refused with this reason; ReasonMissing means ErrNoCredentials
	}{
		{"missing", false, "", nil, "", m2m.ReasonMissing},
		{"other scheme", false, "", []string{"Bearer abc"}, "", m2m.ReasonMissing},
		{"ok", false, "", []string{alice}, "alice", ""},
		{"password with colons", false, "", []string{"Basic c3ZjOnA6YTpzcw=="}, "svc", ""},
		{"wrong password", false, "", []string{"Basic YWxpY2U6bm9wZQ=="}, "", m2m.ReasonBadCredentials},
		{"unknown user", false, "", []string{"Basic " + b64("bob:wonderland")}, "", m2m.ReasonBadCredentials},
		{"scheme case-insensitive", false, "", []string{"bAsIc YWxpY2U6d29uZGVybGFuZA=="}, "alice", ""},
		{"no colon", false, "", []string{"Basic YWxpY2V3b25kZXJsYW5k"}, "", m2m.ReasonMalformed},
		{"bad base64", false, "", []string{"Basic ###"}, "", m2m.ReasonMalformed},
		{"junk base64 strict", false, "", []string{junk}, "", m2m.ReasonMalformed},
		{"no credentials", false, "", []string{"Basic"}, "", m2m.ReasonMalformed},
		{"two headers", false, "", []string{alice, alice}, "", m2m.ReasonMalformed},
		{"huge header", false, "", []string{"Basic " + strings.Repeat("A", httpauth.MaxAuthorizationBytes)}, "", m2m.ReasonTooLarge},
		{"large credentials", false, "", []string{"Basic " + strings.Repeat("A", basic.MaxCredentialsBytes+4)}, "", m2m.ReasonTooLarge},
		{"custom scheme accepted", false, "Custom", []string{"custom YWxpY2U6d29uZGVybGFuZA=="}, "alice", ""},
		{"custom scheme still takes Basic", false, "Custom", []string{alice}, "alice", ""},
		{"lenient ok", true, "", []string{alice}, "alice", ""},
		{"lenient junk base64", true, "", []string{junk}, "alice", ""},
		{"lenient lower-case scheme", true, "", []string{"basic YWxpY2U6d29uZGVybGFuZA=="}, "", m2m.ReasonMissing},
		{"lenient custom scheme ignored", true, "Custom", []string{"Custom YWxpY2U6d29uZGVybGFuZA=="}, "", m2m.ReasonMissing},
		{"lenient custom scheme takes Basic", true, "Custom", []string{alice}, "alice", ""},
		{"lenient bad base64", true, "", []string{"Basic ###"}, "", m2m.ReasonMalformed},
		{"lenient no colon", true, "", []string{"Basic YWxpY2V3b25kZXJsYW5k"}, "", m2m.ReasonMalformed},
		{"lenient wrong password", true, "", []string{"Basic YWxpY2U6bm9wZQ=="}, "", m2m.ReasonBadCredentials},
		{"lenient two headers", true, "", []string{alice, alice}, "", m2m.ReasonMalformed},
		{"lenient huge header", true, "", []string{"Basic " + strings.Repeat("A", httpauth.MaxAuthorizationBytes)}, "", m2m.ReasonTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &basic.Verifier{Users: microdotUsers(), Lenient: tt.lenient, Scheme: tt.scheme}
			p, err := v.Verify(request(tt.auth...))
			if tt.subject != "" {
				if err != nil || p == nil || p.Subject != tt.subject || p.Scheme != m2m.SchemeBasic {
					t.Fatalf("Verify(%q) = %+v, %v; want subject %q, scheme %q", tt.auth, p, err, tt.subject, m2m.SchemeBasic)
				}
				return
			}
			if p != nil || m2m.ReasonOf(err) != tt.reason {
				t.Fatalf("Verify(%q) = %+v, %v; want reason %q", tt.auth, p, err, tt.reason)
			}
			if tt.reason == m2m.ReasonMissing && !errors.Is(err, m2m.ErrNoCredentials) {
				t.Fatalf("Verify(%q) error = %v; want m2m.ErrNoCredentials", tt.auth, err)
			}
			if tt.reason != m2m.ReasonMissing && strings.Contains(err.Error(), "wonderland") {
				t.Fatalf("Verify(%q) error %q contains the password", tt.auth, err)
			}
		})
	}
}

func TestVerifierConfigAndFailures(t *testing.T) {
	alice := request("Basic YWxpY2U6d29uZGVybGFuZA==")
	boom := errors.New("store down")
	tests := []struct {
		name string
		v    *basic.Verifier
	}{
		{"neither Users nor Check", &basic.Verifier{}},
		{"both Users and Check", &basic.Verifier{Users: microdotUsers(), Check: func(*http.Request, string, string) (*m2m.Principal, error) {
			return &m2m.Principal{Subject: "x"}, nil
		}}},
		{"Users fails", &basic.Verifier{Users: &plainUsers{err: boom}}},
		{"Check fails", &basic.Verifier{Check: func(*http.Request, string, string) (*m2m.Principal, error) { return nil, boom }}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tt.v.Verify(alice)
			if p != nil || err == nil || m2m.ReasonOf(err) != "" {
				t.Fatalf("Verify = %+v, %v; want a technical failure", p, err)
			}
		})
	}
}

func TestVerifierCheck(t *testing.T) {
	var gotUser, gotPass string
	v := &basic.Verifier{Check: func(r *http.Request, user, pass string) (*m2m.Principal, error) {
		gotUser, gotPass = user, pass
		switch user {
		case "svc":
			return &m2m.Principal{Subject: "svc", Scopes: []string{"admin"}}, nil
		case "off":
			return nil, m2m.Invalid(m2m.SchemeBasic, m2m.ReasonDisabled, "account disabled")
		}
		return nil, nil
	}}
	p, err := v.Verify(request("Basic c3ZjOnA6YTpzcw=="))
	if err != nil || p.Subject != "svc" || p.Scheme != m2m.SchemeBasic || !p.HasScope("admin") {
		t.Fatalf("Verify(svc) = %+v, %v; want svc with scope admin", p, err)
	}
	if gotUser != "svc" || gotPass != "p:a:ss" {
		t.Errorf("Check got %q, %q; want svc, p:a:ss", gotUser, gotPass)
	}
	if _, err := v.Verify(request("Basic " + b64("off:x"))); m2m.ReasonOf(err) != m2m.ReasonDisabled {
		t.Errorf("Verify(off) error = %v; want reason disabled", err)
	}
	if _, err := v.Verify(request("Basic " + b64("who:x"))); m2m.ReasonOf(err) != m2m.ReasonBadCredentials {
		t.Errorf("Verify(who) error = %v; want reason bad_credentials", err)
	}
}

func TestVerifierThrottle(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	users := microdotUsers()
	var logs bytes.Buffer
	v := &basic.Verifier{
		Users:    users,
		Throttle: &ratelimit.Throttle{Limiter: &ratelimit.Memory{Now: func() time.Time { return now }}, Limit: ratelimit.Limit{Rate: 1.0 / 60, Burst: 2}},
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
	}
	wrong := func(addr string) *http.Request {
		r := request("Basic YWxpY2U6bm9wZQ==")
		r.RemoteAddr = addr
		return r
	}
	for i := range 2 {
		if _, err := v.Verify(wrong("192.0.2.1:1234")); m2m.ReasonOf(err) != m2m.ReasonBadCredentials {
			t.Fatalf("failure %d: Verify error = %v; want bad_credentials", i+1, err)
		}
	}
	// The user is throttled, even with the right password and from another address.
	calls := users.calls
	r := request("Basic YWxpY2U6d29uZGVybGFuZA==")
	r.RemoteAddr = "198.51.100.7:999"
	_, err := v.Verify(r)
	var ce *m2m.CredentialError
	if !errors.As(err, &ce) || ce.Reason != m2m.ReasonThrottled || ce.RetryAfter < 1 || ce.HTTPStatus() != http.StatusTooManyRequests {
		t.Fatalf("Verify after 2 failures = %v; want throttled with Retry-After", err)
	}
	if users.calls != calls {
		t.Errorf("Users called %d times while throttled; want 0", users.calls-calls)
	}
	// The address is throttled for other users too.
	r = request("Basic c3ZjOnA6YTpzcw==")
	r.RemoteAddr = "192.0.2.1:5555"
	if _, err := v.Verify(r); m2m.ReasonOf(err) != m2m.ReasonThrottled {
		t.Fatalf("Verify(svc from throttled address) = %v; want throttled", err)
	}
	if !strings.Contains(logs.String(), "basic: throttled") || strings.Contains(logs.String(), "wonderland") {
		t.Errorf("logs = %q; want a throttle record without the password", logs.String())
	}
	// After the bucket refills, the right password works.
	now = now.Add(2 * time.Minute)
	r = request("Basic YWxpY2U6d29uZGVybGFuZA==")
	r.RemoteAddr = "198.51.100.7:999"
	if p, err := v.Verify(r); err != nil || p.Subject != "alice" {
		t.Fatalf("Verify after refill = %+v, %v; want alice", p, err)
	}
}

func TestVerifierChallenge(t *testing.T) {
	tests := []struct {
		v    *basic.Verifier
		want string
	}{
		{&basic.Verifier{}, `Basic realm="m2m", charset="UTF-8"`},
		{&basic.Verifier{Realm: "Please login"}, `Basic realm="Please login", charset="UTF-8"`},
		{&basic.Verifier{Realm: "M2M API", Charset: "ISO-8859-1", Scheme: "Custom"}, `Custom realm="M2M API", charset="ISO-8859-1"`},
		{&basic.Verifier{Realm: "a \"quoted\"\r\nrealm"}, `Basic realm="a \"quoted\"realm", charset="UTF-8"`},
	}
	for _, tt := range tests {
		if got := tt.v.Challenge(nil).String(); got != tt.want {
			t.Errorf("Challenge(nil) = %s; want %s", got, tt.want)
		}
	}
}

// TestMicrodotBasicRoutes replays the BasicAuth requests of the microdot
// vectors (shared/vectors/microdot_pyjwt.json, routes /basic and
// /basic-custom) through httpauth.Middleware with a Lenient Verifier: same
// accept/reject outcome, identity and challenge. (Status and body follow
// httpauth: 401 with a JSON error, where microdot sends an empty body and
// the route's error_status.)
func TestMicrodotBasicRoutes(t *testing.T) {
	routes := map[string]*basic.Verifier{
		"/basic":        {Realm: "Please login", Charset: "UTF-8", Scheme: "Basic", Lenient: true, Users: microdotUsers()},
		"/basic-custom": {Realm: "M2M API", Charset: "ISO-8859-1", Scheme: "Custom", Lenient: true, Users: microdotUsers()},
	}
	tests := []struct {
		name, path, auth string
		user             string // "" means rejected
		challenge        string
	}{
		{"basic_missing", "/basic", "", "", `Basic realm="Please login", charset="UTF-8"`},
		{"basic_ok", "/basic", "Basic YWxpY2U6d29uZGVybGFuZA==", "alice", ""},
		{"basic_password_with_colons", "/basic", "Basic c3ZjOnA6YTpzcw==", "svc", ""},
		{"basic_wrong_password", "/basic", "Basic YWxpY2U6bm9wZQ==", "", `Basic realm="Please login", charset="UTF-8"`},
		{"basic_lowercase_scheme", "/basic", "basic YWxpY2U6d29uZGVybGFuZA==", "", `Basic realm="Please login", charset="UTF-8"`},
		{"basic_no_colon", "/basic", "Basic YWxpY2V3b25kZXJsYW5k", "", `Basic realm="Please login", charset="UTF-8"`},
		{"basic_bad_base64", "/basic", "Basic ###", "", `Basic realm="Please login", charset="UTF-8"`},
		{"basic_lenient_base64", "/basic", "Basic Y!W!x!p!Y!2!U!6!d!2!9!u!Z!G!V!y!b!G!F!u!Z!A!=!=", "alice", ""},
		{"basic_custom_params", "/basic-custom", "", "", `Custom realm="M2M API", charset="ISO-8859-1"`},
		{"basic_custom_ok", "/basic-custom", "Basic YWxpY2U6d29uZGVybGFuZA==", "alice", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &httpauth.Middleware{Verifiers: []m2m.Verifier{routes[tt.path]}}
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				p, _ := m2m.FromContext(r.Context())
				httpauth.WriteJSON(w, http.StatusOK, map[string]any{"user": map[string]string{"username": p.Subject}})
			}))
			r := httptest.NewRequest("GET", tt.path, nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if tt.user != "" {
				want := `{"user":{"username":"` + tt.user + `"}}` + "\n"
				if w.Code != http.StatusOK || w.Body.String() != want {
					t.Fatalf("GET %s = %d %s; want 200 %s", tt.path, w.Code, w.Body, want)
				}
				return
			}
			if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != tt.challenge {
				t.Fatalf("GET %s = %d, WWW-Authenticate %q; want 401, %q", tt.path, w.Code, w.Header().Get("WWW-Authenticate"), tt.challenge)
			}
		})
	}
}

// slowUsers refuses every password after yielding the processor many
// times, counting calls safely, so that concurrent requests overlap in
// the password check (without a wall-clock sleep).
type slowUsers struct{ calls atomic.Int32 }

func (u *slowUsers) Authenticate(context.Context, string, string) (bool, error) {
	u.calls.Add(1)
	for range 1000 {
		runtime.Gosched()
	}
	return false, nil
}

func TestVerifierThrottleConcurrentGuesses(t *testing.T) {
	const burst, n = 3, 40
	users := &slowUsers{}
	v := &basic.Verifier{
		Users:    users,
		Throttle: ratelimit.NewThrottle(ratelimit.Limit{Rate: 1.0 / 3600, Burst: burst}),
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := request("Basic " + b64("alice:guess"))
			r.RemoteAddr = fmt.Sprintf("192.0.2.%d:1234", i+1)
			<-start
			_, _ = v.Verify(r)
		}()
	}
	close(start)
	wg.Wait()
	if got := users.calls.Load(); got > burst {
		t.Errorf("%d concurrent wrong passwords with burst %d: password checked %d times; want at most %d", n, burst, got, burst)
	}
}

// failingLimiter allows every check but cannot record a failure.
type failingLimiter struct{}

func (failingLimiter) Take(_ context.Context, _ string, _ ratelimit.Limit, n int) (ratelimit.Decision, error) {
	if n > 0 {
		return ratelimit.Decision{}, errors.New("limiter down")
	}
	return ratelimit.Decision{Allowed: true}, nil
}

func TestVerifierThrottleCannotRecord(t *testing.T) {
	v := &basic.Verifier{Users: microdotUsers(), Throttle: &ratelimit.Throttle{Limiter: failingLimiter{}}}
	r := request("Basic " + b64("alice:nope"))
	r.RemoteAddr = "192.0.2.1:1234"
	_, err := v.Verify(r)
	if err == nil || m2m.ReasonOf(err) != "" || !errors.Is(err, m2m.ErrUnavailable) {
		t.Fatalf("Verify(wrong password, failure not recorded) = %v; want a technical error wrapping m2m.ErrUnavailable", err)
	}
	w := httptest.NewRecorder()
	httpauth.WriteRefusal(w, err)
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("WriteRefusal status = %d; want %d", w.Code, http.StatusServiceUnavailable)
	}
	// The right password does not need a failure recorded.
	r = request("Basic YWxpY2U6d29uZGVybGFuZA==")
	r.RemoteAddr = "192.0.2.1:1234"
	if p, err := v.Verify(r); err != nil || p.Subject != "alice" {
		t.Errorf("Verify(right password) = %+v, %v; want alice", p, err)
	}
}

func TestVerifierThrottleIPv6Prefix(t *testing.T) {
	tests := []struct {
		name, first, second string
		shared              bool
		xffFirst, xffSecond string // X-Forwarded-For of each request
	}{
		// 10.0.0.0/8 is the trusted proxy.
		{name: "behind the proxy, same client", first: "10.0.0.1:1", second: "10.0.0.2:2", xffFirst: "203.0.113.5", xffSecond: "203.0.113.5", shared: true},
		{name: "behind the proxy, two clients", first: "10.0.0.1:1", second: "10.0.0.1:2", xffFirst: "203.0.113.5", xffSecond: "203.0.113.6", shared: false},
		{name: "behind the proxy, same /64", first: "10.0.0.1:1", second: "10.0.0.1:2", xffFirst: "2001:db8:1:2::1", xffSecond: "2001:db8:1:2::2", shared: true},
		{name: "untrusted peer cannot choose its address", first: "198.51.100.1:1", second: "198.51.100.1:2", xffFirst: "203.0.113.5", xffSecond: "203.0.113.6", shared: true},
		{name: "malformed header: the proxy", first: "10.0.0.1:1", second: "10.0.0.1:2", xffFirst: "junk", xffSecond: "junk, also", shared: true},

		{"same /64", "[2001:db8:1:2::1]:1", "[2001:db8:1:2:ffff::9]:2", true, "", ""},
		{"other /64", "[2001:db8:1:2::1]:1", "[2001:db8:1:3::1]:2", false, "", ""},
		{"IPv4", "192.0.2.1:1", "192.0.2.2:2", false, "", ""},
		{"IPv4-mapped", "[::ffff:192.0.2.1]:1", "192.0.2.1:2", true, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &basic.Verifier{Users: microdotUsers(), Throttle: ratelimit.NewThrottle(ratelimit.Limit{Rate: 1.0 / 3600, Burst: 1}),
				TrustedProxies: clientaddr.TrustedProxies{netip.MustParsePrefix("10.0.0.0/8")}}
			r := request("Basic " + b64("nobody:x"))
			r.RemoteAddr = tt.first
			if tt.xffFirst != "" {
				r.Header.Set("X-Forwarded-For", tt.xffFirst)
			}
			if _, err := v.Verify(r); m2m.ReasonOf(err) != m2m.ReasonBadCredentials {
				t.Fatalf("Verify(first) error = %v; want bad_credentials", err)
			}
			// Another user from the second address: throttled only when
			// the addresses share a key.
			r = request("Basic " + b64("someone:x"))
			r.RemoteAddr = tt.second
			if tt.xffSecond != "" {
				r.Header.Set("X-Forwarded-For", tt.xffSecond)
			}
			_, err := v.Verify(r)
			if got := m2m.ReasonOf(err) == m2m.ReasonThrottled; got != tt.shared {
				t.Errorf("Verify(from %s after a failure from %s) = %v; throttled = %v, want %v", tt.second, tt.first, err, got, tt.shared)
			}
		})
	}
}

// TestVerifierNoLockoutBehindNAT: behind one address, a client failing
// with a wrong password every two seconds does not lock out a user who
// has logged in from there before; users without a success there (a
// password sprayer) stay throttled with the address.
func TestVerifierNoLockoutBehindNAT(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	v := &basic.Verifier{
		Users:    microdotUsers(),
		Throttle: &ratelimit.Throttle{Limiter: &ratelimit.Memory{Now: func() time.Time { return now }}, Limit: ratelimit.Limit{Rate: 1.0 / 60, Burst: 3}},
	}
	send := func(cred string) error {
		r := request("Basic " + b64(cred))
		r.RemoteAddr = "203.0.113.1:1"
		_, err := v.Verify(r)
		return err
	}
	if err := send("alice:wonderland"); err != nil {
		t.Fatalf("first login = %v; want success", err)
	}
	throttled := 0
	for i := range 30 {
		err := send(fmt.Sprintf("mallory%d:guess", i))
		switch m2m.ReasonOf(err) {
		case m2m.ReasonBadCredentials:
		case m2m.ReasonThrottled:
			throttled++
		default:
			t.Fatalf("round %d: bad client: %v; want bad_credentials or throttled", i, err)
		}
		if err := send("alice:wonderland"); err != nil {
			t.Fatalf("round %d: alice at the same address: %v; want success", i, err)
		}
		now = now.Add(2 * time.Second)
	}
	if throttled == 0 {
		t.Errorf("the sprayer was never throttled in 30 failures")
	}
	// Without a success from there, the address lock applies, even to
	// the right password.
	send("mallory:guess")
	if err := send("svc:p:a:ss"); m2m.ReasonOf(err) != m2m.ReasonThrottled {
		t.Errorf("svc, never seen at the address: %v; want throttled", err)
	}
	// A wrong password for alice counts against alice as always.
	for range 3 {
		send("alice:guess")
	}
	if err := send("alice:wonderland"); m2m.ReasonOf(err) != m2m.ReasonThrottled {
		t.Errorf("alice after 3 wrong passwords: %v; want throttled", err)
	}
}
