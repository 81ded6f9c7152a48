package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestTrustPolicies(t *testing.T) {
	f := newFixture(t, nil)
	b := f.signIn(testAdminToken)
	ctx := context.Background()
	if w := b.get("/console/trust"); w.Code != 200 || !strings.Contains(w.Body.String(), "create a client") {
		t.Fatalf("trust page without clients = %d; want 200 asking for a client first:\n%s", w.Code, w.Body)
	}
	client := f.createClient("deployer")
	form := url.Values{"name": {"gha-deploy"}, "issuer": {"https://token.actions.githubusercontent.com"},
		"audience": {"https://auth.example.test"}, "subject": {"repo:acme/billing:ref:refs/heads/main"},
		"client_id": {client.ID}, "scopes": {""}, "max_ttl": {"15m"}, "single_use": {"on"}}

	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("issuer", "ftp://issuer.example.test")
	if w := b.post("/console/trust", bad); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "issuer") || !strings.Contains(w.Body.String(), `value="gha-deploy"`) {
		t.Errorf("create with a bad issuer = %d; want 400 naming the issuer and keeping the form:\n%s", w.Code, w.Body)
	}
	bad.Set("issuer", form.Get("issuer"))
	bad.Set("max_ttl", "soon")
	if w := b.post("/console/trust", bad); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "max_ttl") {
		t.Errorf("create with max_ttl soon = %d; want 400 naming max_ttl", w.Code)
	}
	if list, _ := f.st.ListTrustPolicies(ctx); len(list) != 0 {
		t.Fatalf("refused forms created %d policies", len(list))
	}

	if w := b.post("/console/trust", form); w.Code != http.StatusSeeOther {
		t.Fatalf("create = %d %s; want 303", w.Code, w.Body)
	}
	p, err := f.st.GetTrustPolicy(ctx, "gha-deploy")
	if err != nil {
		t.Fatal(err)
	}
	if p.ClientID != client.ID || p.MaxTTL.String() != "15m0s" || !p.SingleUse || p.Subject != form.Get("subject") {
		t.Errorf("created policy %+v; want the form's values", p)
	}
	w := b.get("/console/trust")
	if !strings.Contains(w.Body.String(), "Trust policy gha-deploy created") || !strings.Contains(w.Body.String(), "repo:acme/billing:ref:refs/heads/main") {
		t.Errorf("trust page after create lacks the message or the policy:\n%s", w.Body)
	}
	if w := b.post("/console/trust", form); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "exists") {
		t.Errorf("create twice = %d; want 400 saying the name exists", w.Code)
	}

	if w := b.get("/console/trust/gha-deploy/delete"); w.Code != 200 || !strings.Contains(w.Body.String(), "Delete policy") {
		t.Errorf("delete confirmation = %d", w.Code)
	}
	if w := b.post("/console/trust/gha-deploy/delete", nil); w.Code != http.StatusSeeOther {
		t.Fatalf("delete = %d %s", w.Code, w.Body)
	}
	if _, err := f.st.GetTrustPolicy(ctx, "gha-deploy"); err == nil {
		t.Error("delete left the policy")
	}
	if w := b.get("/console/trust/gha-deploy/delete"); w.Code != http.StatusNotFound {
		t.Errorf("confirmation for a deleted policy = %d; want 404", w.Code)
	}
}
