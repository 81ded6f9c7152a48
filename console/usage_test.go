package console_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/m2mkit/m2m/authserver"
)

// token asks the token endpoint for a token with secret and returns the
// status.
func (f *fixture) token(id, secret string) int {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(w, r)
	return w.Code
}

// createSecretClient creates a client through the console and returns
// its id and secret.
func (b *browser) createSecretClient(name string) (id, secret string) {
	b.f.t.Helper()
	w := b.post("/console/clients", url.Values{"name": {name}, "audience": {"https://api.example.test"}})
	m := regexp.MustCompile(`id="client-id">([^<]+)<.*id="client-secret">([^<]+)<`).FindStringSubmatch(strings.ReplaceAll(w.Body.String(), "\n", " "))
	if w.Code != http.StatusCreated || m == nil {
		b.f.t.Fatalf("create = %d:\n%s", w.Code, w.Body)
	}
	return m[1], m[2]
}

func TestUsageAndQuotas(t *testing.T) {
	f := newFixture(t, nil)
	b := f.signIn(testAdminToken)
	id, secret := b.createSecretClient("billing")
	for range 3 {
		if code := f.token(id, secret); code != 200 {
			t.Fatalf("token = %d", code)
		}
	}
	page := b.get("/console/clients/" + id).Body.String()
	for _, want := range []string{`<span id="issued-24h">3</span>`, `role="img"`, "Tokens issued per hour", "Tokens issued per day", "No quota"} {
		if !strings.Contains(page, want) {
			t.Errorf("client page lacks %s", want)
		}
	}
	if list := b.get("/console/clients").Body.String(); !strings.Contains(list, `<td data-label="Tokens, 24 h" class="num">3</td>`) {
		t.Errorf("clients table does not count 3 tokens:\n%s", list)
	}

	for _, bad := range []url.Values{
		{"quota_hourly": {"-1"}, "quota_daily": {"0"}, "quota_mode": {"enforce"}},
		{"quota_hourly": {"ten"}, "quota_daily": {"0"}, "quota_mode": {"enforce"}},
		{"quota_hourly": {"1"}, "quota_daily": {"0"}, "quota_mode": {"block"}},
	} {
		if w := b.post("/console/clients/"+id+"/quotas", bad); w.Code != http.StatusBadRequest {
			t.Errorf("quotas %v = %d; want 400", bad, w.Code)
		}
	}
	if w := b.post("/console/clients/"+id+"/quotas", url.Values{"quota_hourly": {"4"}, "quota_daily": {"100"}, "quota_mode": {"enforce"}}); w.Code != http.StatusSeeOther {
		t.Fatalf("quotas = %d %s; want 303", w.Code, w.Body)
	}
	c, _ := f.st.GetClient(context.Background(), id)
	if c.QuotaHourly != 4 || c.QuotaDaily != 100 || c.QuotaMode != "enforce" {
		t.Errorf("stored quotas %d %d %q; want 4 100 enforce", c.QuotaHourly, c.QuotaDaily, c.QuotaMode)
	}
	if code := f.token(id, secret); code != 200 {
		t.Errorf("4th token under an hourly quota of 4 = %d; want 200", code)
	}
	if code := f.token(id, secret); code != http.StatusTooManyRequests {
		t.Errorf("5th token over an hourly quota of 4 = %d; want 429", code)
	}
	page = b.get("/console/clients/" + id).Body.String()
	if !strings.Contains(page, "This hour: 4 tokens of 4") || !strings.Contains(page, `value="4"`) || !strings.Contains(page, "1 over quota") {
		t.Errorf("client page does not show the quota use:\n%s", page)
	}

	// After a rotation, the old secret's use shows.
	b.post("/console/clients/"+id+"/rotate-secret", url.Values{"grace": {"1h"}})
	b.post("/console/clients/"+id+"/quotas", url.Values{"quota_hourly": {"0"}, "quota_daily": {"0"}, "quota_mode": {"enforce"}})
	if page := b.get("/console/clients/" + id).Body.String(); !strings.Contains(page, "not used since the rotation") {
		t.Errorf("client page does not say the old secret is unused:\n%s", page)
	}
	if code := f.token(id, secret); code != 200 {
		t.Fatalf("token with the old secret in its grace period = %d", code)
	}
	if page := b.get("/console/clients/" + id).Body.String(); !regexp.MustCompile(`id="previous-secret">works until [^;]+; last used 2026-12-03 09:00 UTC`).MatchString(page) {
		t.Errorf("client page does not show the old secret's last use:\n%s", page)
	}
}

func TestAudit(t *testing.T) {
	f := newFixture(t, nil)
	b := f.signIn(testAdminToken)
	id, _ := b.createSecretClient("billing")
	other, _ := b.createSecretClient("other")
	for range 30 {
		b.post("/console/clients/"+id+"/disable", nil)
		b.post("/console/clients/"+id+"/enable", nil)
	}
	page := b.get("/console/audit").Body.String()
	if n := strings.Count(page, "<tr>\n<td><time"); n != 50 {
		t.Errorf("first audit page has %d events; want 50", n)
	}
	if !strings.Contains(page, "admin-token:console") {
		t.Error("audit events do not name the console")
	}
	m := regexp.MustCompile(`<a href="(/console/audit\?before=\d+)">Older events</a>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("first audit page has no link to older events:\n%s", page)
	}
	older := b.get(m[1]).Body.String()
	if n := strings.Count(older, "<tr>\n<td><time"); n != 12 || !strings.Contains(older, "client.created") || strings.Contains(older, "Older events") {
		t.Errorf("second audit page has %d events; want the 12 oldest, with both creations, and no further page", n)
	}
	filtered := b.get("/console/audit?client=" + url.QueryEscape(other) + "&code=client.created").Body.String()
	if n := strings.Count(filtered, "<tr>\n<td><time"); n != 1 || !strings.Contains(filtered, `<option value="client.created" selected>`) {
		t.Errorf("audit filtered by client and code has %d events; want 1, with the filter kept", n)
	}
	if w := b.get("/console/audit?since=soon"); w.Code != http.StatusBadRequest {
		t.Errorf("audit since=soon = %d; want 400", w.Code)
	}
}

// TestWithoutUsageAndAudit checks the pages of a server that records
// neither: they say so instead of failing.
func TestWithoutUsageAndAudit(t *testing.T) {
	f := newFixtureWith(t, func(c *authserver.Config) { c.SkipUsage, c.SkipAudit = true, true }, nil)
	b := f.signIn(testAdminToken)
	id, _ := b.createSecretClient("billing")
	if w := b.get("/console/clients/" + id); w.Code != 200 || strings.Contains(w.Body.String(), "Usage") {
		t.Errorf("client page without usage = %d, with a Usage section %v; want 200 without", w.Code, strings.Contains(w.Body.String(), "Usage"))
	}
	if w := b.get("/console/clients"); w.Code != 200 || !strings.Contains(w.Body.String(), ">Created</th>") {
		t.Errorf("clients table without usage = %d; want 200 with the creation date instead", w.Code)
	}
	if w := b.get("/console/audit"); w.Code != 200 || !strings.Contains(w.Body.String(), "keeps no audit log") {
		t.Errorf("audit page without an audit log = %d; want 200 saying so", w.Code)
	}
}
