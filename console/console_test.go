package console_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/console"
	"github.com/m2mkit/m2m/keyring"
	"github.com/m2mkit/m2m/ratelimit"
	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/memstore"
)

const testAdminToken = "console-test-admin-token"

// clock is an injected clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is a token server with its admin API and a console in front of
// it, all in-process.
type fixture struct {
	t       testing.TB
	st      *memstore.Store
	kr      *keyring.Keyring
	clock   *clock
	srv     *authserver.Server
	handler http.Handler
}

func newFixture(t testing.TB, mod func(*console.Config)) *fixture {
	t.Helper()
	return newFixtureWith(t, nil, mod)
}

// newFixtureWith is newFixture with the token server's configuration
// changed by srvMod too.
func newFixtureWith(t testing.TB, srvMod func(*authserver.Config), mod func(*console.Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, st: memstore.New(), clock: &clock{t: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}}
	master := make([]byte, keyring.MinMasterSize)
	rand.Read(master)
	var err error
	f.kr, err = keyring.New(context.Background(), keyring.Config{Store: f.st, Master: master, PrePublish: time.Hour, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	scfg := authserver.Config{Issuer: "https://auth.example.test", Clients: f.st, Signer: f.kr,
		AdminTokenHash: authserver.HashSecret(testAdminToken), KeyRotator: f.kr, Now: f.clock.Now}
	if srvMod != nil {
		srvMod(&scfg)
	}
	srv, err := authserver.New(scfg)
	f.srv = srv
	if err != nil {
		t.Fatal(err)
	}
	cfg := console.Config{Admin: srv.AdminHandler(), AdminToken: m2m.Secret(testAdminToken), Now: f.clock.Now}
	if mod != nil {
		mod(&cfg)
	}
	c, err := console.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.handler = c.Wrap(srv.AdminHandler())
	return f
}

// browser is one signed-in (or not) browser: its cookie and CSRF token.
type browser struct {
	f      *fixture
	cookie *http.Cookie
	csrf   string
}

func (f *fixture) do(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	return w
}

// signIn signs in with token and returns the browser, failing the test
// when the answer is not a redirect with a session cookie.
func (f *fixture) signIn(token string) *browser {
	f.t.Helper()
	w := f.do(formRequest("/console/signin", url.Values{"token": {token}}))
	if w.Code != http.StatusSeeOther {
		f.t.Fatalf("POST /console/signin = %d %s; want 303", w.Code, w.Body)
	}
	b := &browser{f: f}
	for _, ck := range w.Result().Cookies() {
		if ck.Name == console.CookieName {
			b.cookie = ck
		}
	}
	if b.cookie == nil {
		f.t.Fatalf("POST /console/signin set no %s cookie", console.CookieName)
	}
	page := b.get("/console/clients")
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page.Body.String())
	if m == nil {
		f.t.Fatalf("GET /console/clients has no CSRF field:\n%s", page.Body)
	}
	b.csrf = m[1]
	return b
}

func formRequest(path string, form url.Values) *http.Request {
	r := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = "192.0.2.7:5555"
	return r
}

func (b *browser) get(path string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", path, nil)
	if b.cookie != nil {
		r.AddCookie(b.cookie)
	}
	return b.f.do(r)
}

// post submits form with the browser's cookie and CSRF token.
func (b *browser) post(path string, form url.Values) *httptest.ResponseRecorder {
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok && b.csrf != "" {
		form.Set("csrf", b.csrf)
	}
	r := formRequest(path, form)
	if b.cookie != nil {
		r.AddCookie(b.cookie)
	}
	return b.f.do(r)
}

func (f *fixture) createClient(name string) *store.Client {
	f.t.Helper()
	c := &store.Client{Name: name, Audiences: []string{"https://api.example.test"}}
	if _, err := authserver.CreateClient(context.Background(), f.st, c, f.clock.Now); err != nil {
		f.t.Fatal(err)
	}
	return c
}

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t, nil)
	b := f.signIn(testAdminToken)
	anon := &browser{f: f}
	for _, tt := range []struct {
		name string
		w    *httptest.ResponseRecorder
	}{
		{"sign-in page", anon.get("/console/signin")},
		{"redirect to sign-in", anon.get("/console/clients")},
		{"clients", b.get("/console/clients")},
		{"keys", b.get("/console/keys")},
		{"style sheet", b.get("/console/static/console.css")},
		{"not found", b.get("/console/nowhere")},
		{"refused form", anon.post("/console/keys/rotate", nil)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.w.Header()
			for name, want := range map[string]string{
				"Content-Security-Policy": console.ContentSecurityPolicy,
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
				"X-Frame-Options":         "DENY",
				"Cache-Control":           "no-store",
			} {
				if got := h.Get(name); got != want {
					t.Errorf("%s = %q; want %q", name, got, want)
				}
			}
			csp := h.Get("Content-Security-Policy")
			if strings.Contains(csp, "unsafe") || !strings.Contains(csp, "default-src 'none'") {
				t.Errorf("Content-Security-Policy %q allows too much", csp)
			}
			if body := tt.w.Body.String(); strings.Contains(body, "<script") || strings.Contains(body, " style=") || strings.Contains(body, "<style") {
				t.Errorf("page has a script or inline style, which the CSP blocks:\n%s", body)
			}
		})
	}
}

func TestCookieFlags(t *testing.T) {
	for _, tt := range []struct {
		name       string
		tls        bool
		secure     bool
		wantSecure bool
	}{
		{"plain HTTP", false, false, false},
		{"TLS", true, false, true},
		{"SecureCookie behind a proxy", false, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(c *console.Config) { c.SecureCookie = tt.secure })
			r := formRequest("/console/signin", url.Values{"token": {testAdminToken}})
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			w := f.do(r)
			cookies := w.Result().Cookies()
			if len(cookies) != 1 {
				t.Fatalf("sign-in set cookies %v; want one", cookies)
			}
			ck := cookies[0]
			if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != console.Prefix || ck.Secure != tt.wantSecure {
				t.Errorf("cookie = HttpOnly %v SameSite %v Path %q Secure %v; want HttpOnly, Strict, %q, Secure %v",
					ck.HttpOnly, ck.SameSite, ck.Path, ck.Secure, console.Prefix, tt.wantSecure)
			}
			if len(ck.Value) < 43 {
				t.Errorf("session id %d characters; want at least 43 (256 bits)", len(ck.Value))
			}
		})
	}
}

func TestSignIn(t *testing.T) {
	f := newFixture(t, nil)
	for _, token := range []string{"", "wrong", testAdminToken + "x", strings.ToUpper(testAdminToken)} {
		w := f.do(formRequest("/console/signin", url.Values{"token": {token}}))
		if w.Code != http.StatusForbidden || len(w.Result().Cookies()) != 0 {
			t.Errorf("sign-in with %q = %d, cookies %v; want 403 and none", token, w.Code, w.Result().Cookies())
		}
	}
	// Not signed in: pages send to the sign-in page.
	if w := (&browser{f: f}).get("/console/clients"); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/console/signin" {
		t.Errorf("GET /console/clients without a session = %d %q; want 303 to /console/signin", w.Code, w.Header().Get("Location"))
	}
	if w := (&browser{f: f, cookie: &http.Cookie{Name: console.CookieName, Value: "forged"}}).get("/console/clients"); w.Code != http.StatusSeeOther {
		t.Errorf("GET /console/clients with a forged session = %d; want 303", w.Code)
	}
	b := f.signIn(testAdminToken)
	if w := b.get("/console/clients"); w.Code != 200 || !strings.Contains(w.Body.String(), "<h1>Clients</h1>") {
		t.Errorf("GET /console/clients signed in = %d; want 200 with the clients", w.Code)
	}
	// Sign-out ends the session on the server, not only in the browser.
	if w := b.post("/console/signout", nil); w.Code != http.StatusSeeOther {
		t.Fatalf("sign-out = %d %s; want 303", w.Code, w.Body)
	}
	if w := b.get("/console/clients"); w.Code != http.StatusSeeOther {
		t.Errorf("GET /console/clients after sign-out = %d; want 303 to sign-in", w.Code)
	}
}

func TestSignInThrottle(t *testing.T) {
	f := newFixture(t, func(c *console.Config) { c.SignInLimit = ratelimit.Limit{Rate: 1.0 / 60, Burst: 3} })
	signIn := func(token, addr string) *httptest.ResponseRecorder {
		r := formRequest("/console/signin", url.Values{"token": {token}})
		r.RemoteAddr = addr
		return f.do(r)
	}
	for i := range 3 {
		if w := signIn("guess", "192.0.2.7:1"); w.Code != http.StatusForbidden {
			t.Fatalf("failed sign-in %d = %d; want 403", i+1, w.Code)
		}
	}
	// Over the budget, failures are answered 429 with Retry-After...
	w := signIn("guess", "192.0.2.7:2")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" || len(w.Result().Cookies()) != 0 {
		t.Fatalf("failed sign-in over the budget = %d Retry-After %q; want 429 with Retry-After and no cookie", w.Code, w.Header().Get("Retry-After"))
	}
	// ...another address is not held back...
	if w := signIn("guess", "198.51.100.1:1"); w.Code != http.StatusForbidden {
		t.Errorf("failed sign-in from another address = %d; want 403", w.Code)
	}
	// ...and the right token is never refused: a guesser behind the same
	// address cannot lock the operator out.
	if w := signIn(testAdminToken, "192.0.2.7:3"); w.Code != http.StatusSeeOther {
		t.Errorf("right token from a throttled address = %d; want 303", w.Code)
	}
	f.clock.Add(time.Minute)
	if w := signIn("guess", "192.0.2.7:4"); w.Code != http.StatusForbidden {
		t.Errorf("failed sign-in after the bucket refilled = %d; want 403", w.Code)
	}
}

func TestSessionLifetime(t *testing.T) {
	f := newFixture(t, func(c *console.Config) {
		c.SessionTTL, c.IdleTimeout, c.MaxSessions = 2*time.Hour, 30*time.Minute, 2
	})
	alive := func(b *browser) bool { return b.get("/console/clients").Code == 200 }

	b := f.signIn(testAdminToken)
	f.clock.Add(29 * time.Minute)
	if !alive(b) {
		t.Fatal("session ended within its idle timeout")
	}
	f.clock.Add(31 * time.Minute)
	if alive(b) {
		t.Error("session outlived its idle timeout")
	}

	b = f.signIn(testAdminToken)
	for range 5 {
		f.clock.Add(25 * time.Minute)
		alive(b)
	}
	if alive(b) {
		t.Error("session outlived its TTL")
	}

	// At the bound, a sign-in ends the least recently used session.
	b1, b2 := f.signIn(testAdminToken), f.signIn(testAdminToken)
	f.clock.Add(time.Minute)
	alive(b1)
	b3 := f.signIn(testAdminToken)
	if !alive(b1) || alive(b2) || !alive(b3) {
		t.Errorf("after a third sign-in with MaxSessions 2: alive %v %v %v; want true false true", alive(b1), alive(b2), alive(b3))
	}
}

// TestActionsRefuseForgedForms posts every action without a session,
// without the CSRF token, with a wrong one and with another session's,
// and checks that each is refused and changes nothing.
func TestActionsRefuseForgedForms(t *testing.T) {
	f := newFixture(t, nil)
	victim := f.createClient("victim")
	b := f.signIn(testAdminToken)
	other := f.signIn(testAdminToken)
	id := url.PathEscape(victim.ID)
	actions := []struct {
		path string
		form url.Values
	}{
		{"/console/clients", url.Values{"name": {"forged"}, "audience": {"https://api.example.test"}}},
		{"/console/clients/" + id + "/disable", nil},
		{"/console/clients/" + id + "/rotate-secret", url.Values{"grace": {"0s"}}},
		{"/console/clients/" + id + "/delete", nil},
		{"/console/clients/" + id + "/enable", nil},
		{"/console/clients/" + id + "/quotas", url.Values{"quota_hourly": {"1"}, "quota_daily": {"1"}, "quota_mode": {"enforce"}}},
		{"/console/trust", url.Values{"name": {"forged"}, "issuer": {"https://issuer.example.test"}, "audience": {"a"}, "subject": {"*"}, "client_id": {victim.ID}}},
		{"/console/trust/forged/delete", nil},
		{"/console/keys/rotate", nil},
		{"/console/signout", nil},
	}
	forgeries := []struct {
		name string
		b    *browser
		csrf string
	}{
		{"no session", &browser{f: f}, b.csrf},
		{"no CSRF token", b, ""},
		{"wrong CSRF token", b, "AAAA" + b.csrf[4:]},
		{"another session's CSRF token", b, other.csrf},
	}
	keysBefore, _ := f.st.ListKeys(context.Background())
	for _, a := range actions {
		for _, fg := range forgeries {
			t.Run(a.path+"/"+fg.name, func(t *testing.T) {
				form := url.Values{"csrf": {fg.csrf}}
				for k, v := range a.form {
					form[k] = v
				}
				if w := fg.b.post(a.path, form); w.Code != http.StatusForbidden {
					t.Errorf("POST %s = %d; want 403", a.path, w.Code)
				}
			})
		}
	}
	// A cross-site form is refused before it reaches the console.
	r := formRequest("/console/clients/"+id+"/disable", url.Values{"csrf": {b.csrf}})
	r.AddCookie(b.cookie)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	if w := f.do(r); w.Code != http.StatusForbidden {
		t.Errorf("cross-site POST = %d; want 403", w.Code)
	}

	got, err := f.st.GetClient(context.Background(), victim.ID)
	if err != nil {
		t.Fatalf("victim client: %v", err)
	}
	if got.Disabled || len(got.PreviousSecretHash) != 0 {
		t.Errorf("victim client changed: disabled %v, rotated %v", got.Disabled, len(got.PreviousSecretHash) != 0)
	}
	if list, _ := f.st.ListClients(context.Background()); len(list) != 1 {
		t.Errorf("%d clients; want only the victim", len(list))
	}
	if keys, _ := f.st.ListKeys(context.Background()); len(keys) != len(keysBefore) {
		t.Errorf("%d keys; want %d", len(keys), len(keysBefore))
	}
	if b.get("/console/clients").Code != 200 {
		t.Error("a forged sign-out ended the session")
	}
}

func TestClientLifecycle(t *testing.T) {
	f := newFixture(t, nil)
	b := f.signIn(testAdminToken)
	ctx := context.Background()

	// A bad form is shown again with the problem, and creates nothing.
	w := b.post("/console/clients", url.Values{"name": {"billing"}, "audience": {""}})
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "audiences") || !strings.Contains(w.Body.String(), `value="billing"`) {
		t.Errorf("create without an audience = %d; want 400 naming audiences and keeping the name:\n%s", w.Code, w.Body)
	}
	w = b.post("/console/clients", url.Values{"name": {"billing"}, "audience": {"https://api.example.test"}, "scopes": {"read write"}})
	if w.Code != http.StatusCreated {
		t.Fatalf("create = %d %s; want 201", w.Code, w.Body)
	}
	m := regexp.MustCompile(`id="client-id">([^<]+)<.*id="client-secret">([^<]+)<`).FindStringSubmatch(strings.ReplaceAll(w.Body.String(), "\n", " "))
	if m == nil {
		t.Fatalf("the created page shows no client id and secret:\n%s", w.Body)
	}
	id, secret := m[1], m[2]
	c, err := f.st.GetClient(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "billing" || strings.Join(c.Scopes, " ") != "read write" || !bytes.Equal(c.SecretHash, authserver.HashSecret(secret)) {
		t.Errorf("created client %+v; want billing with scopes read write and the shown secret", c)
	}
	page := b.get("/console/clients/" + id)
	if page.Code != 200 || strings.Contains(page.Body.String(), secret) {
		t.Errorf("client page = %d, shows the secret %v; want 200 without it", page.Code, strings.Contains(page.Body.String(), secret))
	}

	if w := b.post("/console/clients/"+id+"/disable", nil); w.Code != http.StatusSeeOther {
		t.Fatalf("disable = %d %s", w.Code, w.Body)
	}
	if c, _ := f.st.GetClient(ctx, id); !c.Disabled {
		t.Error("disable left the client enabled")
	}
	if w := b.get("/console/clients/" + id); !strings.Contains(w.Body.String(), "Client disabled") {
		t.Error("the page after disable shows no message")
	}
	b.post("/console/clients/"+id+"/enable", nil)
	if c, _ := f.st.GetClient(ctx, id); c.Disabled {
		t.Error("enable left the client disabled")
	}

	for _, bad := range []string{"", "soon", "-1h", "721h", "1.5s"} {
		if w := b.post("/console/clients/"+id+"/rotate-secret", url.Values{"grace": {bad}}); w.Code != http.StatusBadRequest {
			t.Errorf("rotate with grace %q = %d; want 400", bad, w.Code)
		}
	}
	w = b.post("/console/clients/"+id+"/rotate-secret", url.Values{"grace": {"2h"}})
	if w.Code != 200 || !strings.Contains(w.Body.String(), "works until 2026-12-03 11:00 UTC") {
		t.Fatalf("rotate = %d; want 200 with the previous secret's expiry:\n%s", w.Code, w.Body)
	}
	if c, _ := f.st.GetClient(ctx, id); len(c.PreviousSecretHash) == 0 || !c.PreviousSecretExpiresAt.Equal(f.clock.Now().Add(2*time.Hour)) {
		t.Errorf("rotation kept no previous secret until +2h: %v", c.PreviousSecretExpiresAt)
	}

	if w := b.get("/console/clients/" + id + "/delete"); w.Code != 200 || !strings.Contains(w.Body.String(), "Delete client") {
		t.Errorf("delete confirmation page = %d", w.Code)
	}
	if _, err := f.st.GetClient(ctx, id); err != nil {
		t.Error("the confirmation page deleted the client")
	}
	if w := b.post("/console/clients/"+id+"/delete", nil); w.Code != http.StatusSeeOther {
		t.Fatalf("delete = %d %s", w.Code, w.Body)
	}
	if _, err := f.st.GetClient(ctx, id); err == nil {
		t.Error("delete left the client")
	}
	if w := b.get("/console/clients/" + id); w.Code != http.StatusNotFound {
		t.Errorf("deleted client's page = %d; want 404", w.Code)
	}
}

func TestKeys(t *testing.T) {
	f := newFixture(t, nil)
	b := f.signIn(testAdminToken)
	if w := b.get("/console/keys"); w.Code != 200 || strings.Count(w.Body.String(), `class="key `) != 1 || !strings.Contains(w.Body.String(), "active") {
		t.Fatalf("keys page = %d; want one active key:\n%s", w.Code, w.Body)
	}
	if w := b.post("/console/keys/rotate", nil); w.Code != http.StatusSeeOther {
		t.Fatalf("rotate = %d %s", w.Code, w.Body)
	}
	w := b.get("/console/keys")
	if strings.Count(w.Body.String(), `class="key `) != 2 || !strings.Contains(w.Body.String(), `class="key next"`) {
		t.Errorf("keys page after rotate has no next key:\n%s", w.Body)
	}
}

func TestNew(t *testing.T) {
	if _, err := console.New(console.Config{}); err == nil || !strings.Contains(err.Error(), "Admin") || !strings.Contains(err.Error(), "AdminToken") {
		t.Errorf("New(zero Config) = %v; want an error naming Admin and AdminToken", err)
	}
}

func TestWrapPassesTheRest(t *testing.T) {
	f := newFixture(t, nil)
	r := httptest.NewRequest("GET", "/admin/clients", nil)
	r.Header.Set("Authorization", "Bearer "+testAdminToken)
	w := f.do(r)
	body, _ := io.ReadAll(w.Body)
	if w.Code != 200 || !strings.Contains(string(body), `"clients"`) {
		t.Errorf("GET /admin/clients through Wrap = %d %s; want the admin API", w.Code, body)
	}
	if w := f.do(httptest.NewRequest("GET", "/console", nil)); w.Code != http.StatusSeeOther {
		t.Errorf("GET /console = %d; want a redirect", w.Code)
	}
	for path, want := range map[string]int{"/console/static/console.css": 200, "/console/static/": 404, "/console/static/x.css": 404} {
		if w := f.do(httptest.NewRequest("GET", path, nil)); w.Code != want {
			t.Errorf("GET %s = %d; want %d", path, w.Code, want)
		}
	}
}
