package authserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/memstore"
)

// auditCodes returns the admin audit events as "code target client",
// newest first.
func (a *trustAdmin) auditCodes(t *testing.T) []string {
	t.Helper()
	a.srv.FlushUsage(t.Context())
	w := a.do("GET", "/admin/audit?limit=50", trustAdminToken, "")
	var audit authserver.AuditList
	if err := json.Unmarshal(w.Body.Bytes(), &audit); err != nil || w.Code != 200 {
		t.Fatalf("GET /admin/audit = %d %s", w.Code, w.Body)
	}
	var out []string
	for _, e := range audit.Events {
		out = append(out, e.Code+" "+e.Target+" "+e.ClientID)
	}
	return out
}

// TestAdminTrustPolicyPatch: PATCH changes the fields given and keeps
// the others; each change is audited as trust_policy.updated.
func TestAdminTrustPolicyPatch(t *testing.T) {
	a := newTrustAdmin(t)
	if err := a.st.CreateClient(t.Context(), &store.Client{ID: "other", Audiences: []string{"https://api.example.test"}}); err != nil {
		t.Fatal(err)
	}
	if w := a.do("POST", "/admin/trust-policies", trustAdminToken, githubPolicy); w.Code != http.StatusCreated {
		t.Fatalf("POST = %d %s", w.Code, w.Body)
	}
	orig, err := a.st.GetTrustPolicy(t.Context(), "deploy")
	if err != nil {
		t.Fatal(err)
	}
	const jwks = `{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`
	for _, tt := range []struct {
		name string
		body string
		want func(p *store.TrustPolicy)
	}{
		{"subject only", `{"subject":"repo:acme/app:ref:refs/heads/release-*"}`,
			func(p *store.TrustPolicy) { p.Subject = "repo:acme/app:ref:refs/heads/release-*" }},
		{"claims replace the set", `{"claims":{"environment":"prod"}}`,
			func(p *store.TrustPolicy) { p.Claims = map[string]string{"environment": "prod"} }},
		{"claims cleared", `{"claims":{}}`, func(p *store.TrustPolicy) { p.Claims = nil }},
		{"jwks replaces discovery", `{"jwks":` + jwks + `}`, func(p *store.TrustPolicy) { p.JWKS = []byte(jwks) }},
		{"jwks_uri replaces jwks", `{"jwks_uri":"https://keys.example.test/jwks"}`,
			func(p *store.TrustPolicy) { p.JWKS, p.JWKSURI = nil, "https://keys.example.test/jwks" }},
		{"jwks_uri empty: discovery", `{"jwks_uri":""}`, func(p *store.TrustPolicy) { p.JWKSURI = "" }},
		{"client, scopes, ttl, single use", `{"client_id":"other","scopes":[],"max_ttl_seconds":60,"single_use":false}`,
			func(p *store.TrustPolicy) {
				p.ClientID, p.Scopes, p.MaxTTL, p.SingleUse = "other", nil, time.Minute, false
			}},
		{"issuer, audiences, preset", `{"issuer":"https://gitlab.example.test","audiences":["x","y"],"preset":""}`,
			func(p *store.TrustPolicy) {
				p.Issuer, p.Audiences, p.Preset = "https://gitlab.example.test", []string{"x", "y"}, ""
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before, err := a.st.GetTrustPolicy(t.Context(), "deploy")
			if err != nil {
				t.Fatal(err)
			}
			a.clock.Add(time.Minute)
			w := a.do("PATCH", "/admin/trust-policies/deploy", trustAdminToken, tt.body)
			if w.Code != http.StatusOK {
				t.Fatalf("PATCH %s = %d %s; want 200", tt.body, w.Code, w.Body)
			}
			want := before.Clone()
			tt.want(want)
			want.UpdatedAt = a.clock.Now()
			got, err := a.st.GetTrustPolicy(t.Context(), "deploy")
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("policy after PATCH %s (-want +got):\n%s", tt.body, d)
			}
			var info authserver.TrustPolicyInfo
			if err := json.Unmarshal(w.Body.Bytes(), &info); err != nil || info.Subject != got.Subject || !info.UpdatedAt.Equal(got.UpdatedAt) {
				t.Errorf("PATCH answered %s; want the stored policy", w.Body)
			}
		})
	}
	if got, _ := a.st.GetTrustPolicy(t.Context(), "deploy"); !got.CreatedAt.Equal(orig.CreatedAt) {
		t.Errorf("created_at after the updates = %v; want %v", got.CreatedAt, orig.CreatedAt)
	}
	codes := a.auditCodes(t)
	if n := strings.Count(strings.Join(codes, "\n"), "trust_policy.updated deploy"); n != 8 {
		t.Errorf("audit has %d trust_policy.updated events; want 8: %q", n, codes)
	}
}

func TestAdminTrustPolicyPatchRefusals(t *testing.T) {
	a := newTrustAdmin(t)
	if w := a.do("POST", "/admin/trust-policies", trustAdminToken, githubPolicy); w.Code != http.StatusCreated {
		t.Fatalf("POST = %d %s", w.Code, w.Body)
	}
	want, _ := a.st.GetTrustPolicy(t.Context(), "deploy")
	for _, tt := range []struct {
		name, path, body string
		status           int
		code             string
		fields           []string
	}{
		{"nothing to update", "/admin/trust-policies/deploy", `{}`, 400, "invalid_request", nil},
		{"nulls only", "/admin/trust-policies/deploy", `{"subject":null,"jwks":null}`, 400, "invalid_request", nil},
		{"no rename", "/admin/trust-policies/deploy", `{"name":"other"}`, 400, "invalid_request", nil},
		{"no such client", "/admin/trust-policies/deploy", `{"client_id":"nobody"}`, 400, "invalid_request", []string{"client_id"}},
		{"every problem", "/admin/trust-policies/deploy", `{"subject":"*","audiences":[],"client_id":"nobody","max_ttl_seconds":-1}`,
			400, "invalid_request", []string{"audiences", "subject", "max_ttl_seconds", "client_id"}},
		{"jwks and jwks_uri", "/admin/trust-policies/deploy", `{"jwks_uri":"https://k.example.test/","jwks":{"keys":[]}}`,
			400, "invalid_request", []string{"jwks"}},
		{"missing", "/admin/trust-policies/missing", `{"subject":"x"}`, 404, "not_found", nil},
		{"no token", "/admin/trust-policies/deploy", `{"subject":"x"}`, 401, "invalid_token", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tok := trustAdminToken
			if tt.status == 401 {
				tok = ""
			}
			w := a.do("PATCH", tt.path, tok, tt.body)
			var body struct {
				Error  string `json:"error"`
				Fields []struct{ Field, Problem string }
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != tt.status || body.Error != tt.code {
				t.Fatalf("PATCH %s %s = %d %s; want %d with error %q", tt.path, tt.body, w.Code, w.Body, tt.status, tt.code)
			}
			var fields []string
			for _, f := range body.Fields {
				fields = append(fields, f.Field)
			}
			if tt.fields != nil && !slices.Contains(fields, tt.fields[0]) {
				t.Errorf("fields = %v; want %v (%s)", fields, tt.fields, w.Body)
			}
			if tt.fields != nil && len(tt.fields) > 1 && !slices.Equal(fields, tt.fields) {
				t.Errorf("fields = %v; want %v (%s)", fields, tt.fields, w.Body)
			}
		})
	}
	got, _ := a.st.GetTrustPolicy(t.Context(), "deploy")
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("policy changed by refused updates (-want +got):\n%s", d)
	}
	for _, c := range a.auditCodes(t) {
		if strings.HasPrefix(c, "trust_policy.updated") {
			t.Errorf("a refused update was audited: %q", c)
		}
	}
}

// TestAdminDeleteClientWithTrustPolicies: a client that policies name is
// refused 409 with the policies listed, unless cascade=trust-policies,
// which deletes them with it and audits each.
func TestAdminDeleteClientWithTrustPolicies(t *testing.T) {
	a := newTrustAdmin(t)
	if err := a.st.CreateClient(t.Context(), &store.Client{ID: "free", Audiences: []string{"https://api.example.test"}}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"zeta", "alpha"} {
		if w := a.do("POST", "/admin/trust-policies", trustAdminToken, strings.Replace(githubPolicy, `"deploy"`, `"`+name+`"`, 1)); w.Code != http.StatusCreated {
			t.Fatalf("POST %s = %d %s", name, w.Code, w.Body)
		}
	}

	w := a.do("DELETE", "/admin/clients/deployer", trustAdminToken, "")
	var refused struct {
		Error            string   `json:"error"`
		ErrorDescription string   `json:"error_description"`
		TrustPolicies    []string `json:"trust_policies"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &refused); err != nil || w.Code != http.StatusConflict ||
		refused.Error != authserver.CodeClientHasTrustPolicies || !slices.Equal(refused.TrustPolicies, []string{"alpha", "zeta"}) {
		t.Fatalf("DELETE /admin/clients/deployer = %d %s; want 409 %s listing alpha and zeta", w.Code, w.Body, authserver.CodeClientHasTrustPolicies)
	}
	if !strings.Contains(refused.ErrorDescription, "cascade=trust-policies") {
		t.Errorf("error_description = %q; want it to say how to cascade", refused.ErrorDescription)
	}
	if _, err := a.st.GetClient(t.Context(), "deployer"); err != nil {
		t.Fatalf("the refused client was deleted: %v", err)
	}

	for _, bad := range []string{"?cascade=all", "?cascade=", "?cascade=trust-policies&cascade=trust-policies"} {
		if w := a.do("DELETE", "/admin/clients/deployer"+bad, trustAdminToken, ""); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "invalid_request") {
			t.Errorf("DELETE /admin/clients/deployer%s = %d %s; want 400 invalid_request", bad, w.Code, w.Body)
		}
	}

	w = a.do("DELETE", "/admin/clients/deployer?cascade=trust-policies", trustAdminToken, "")
	var deleted authserver.ClientDeleted
	if err := json.Unmarshal(w.Body.Bytes(), &deleted); err != nil || w.Code != http.StatusOK ||
		!cmp.Equal(deleted, authserver.ClientDeleted{ClientID: "deployer", Deleted: true, TrustPoliciesDeleted: []string{"alpha", "zeta"}}) {
		t.Fatalf("DELETE ?cascade=trust-policies = %d %s; want 200 naming alpha and zeta", w.Code, w.Body)
	}
	if list, _ := a.st.ListTrustPolicies(t.Context()); len(list) != 0 {
		t.Errorf("policies after the cascade = %d; want none", len(list))
	}
	if w := a.do("DELETE", "/admin/clients/free", trustAdminToken, ""); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"trust_policies_deleted":[]`) {
		t.Errorf("DELETE /admin/clients/free = %d %s; want 200 with no policies deleted", w.Code, w.Body)
	}
	if w := a.do("DELETE", "/admin/clients/deployer?cascade=trust-policies", trustAdminToken, ""); w.Code != http.StatusNotFound {
		t.Errorf("DELETE a deleted client = %d %s; want 404", w.Code, w.Body)
	}

	got := a.auditCodes(t)[:4]
	want := []string{"client.deleted  free", "client.deleted  deployer", "trust_policy.deleted zeta deployer", "trust_policy.deleted alpha deployer"}
	if !slices.Equal(got, want) {
		t.Errorf("audit events = %q; want %q", got, want)
	}
}

// TestAdminTrustChangesTakeEffectAtOnce: with policies cached as a
// running server caches them, a change through this server's admin API
// applies to its next token request, not a cache lifetime later.
func TestAdminTrustChangesTakeEffectAtOnce(t *testing.T) {
	f := newFedFixture(t, fedOptions{cachePolicies: true, adminTokenHash: authserver.HashSecret(trustAdminToken)})
	admin := func(method, path, body string) {
		t.Helper()
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+trustAdminToken)
		w := httptest.NewRecorder()
		f.as.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("%s %s = %d %s", method, path, w.Code, w.Body)
		}
	}
	tok := f.issuer.Token(goodClaims())
	if status, body := f.post(t, fedForm("jwt_bearer", tok, nil)); status != http.StatusOK {
		t.Fatalf("token before the change = %d %v; want 200", status, body)
	}
	admin("PATCH", "/admin/trust-policies/deploy", `{"subject":"repo:acme/app:ref:refs/heads/release"}`)
	if status, body := f.post(t, fedForm("jwt_bearer", tok, nil)); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("token after PATCH of the subject = %d %v; want 400 invalid_grant", status, body)
	}
	admin("PATCH", "/admin/trust-policies/deploy", `{"subject":"repo:acme/app:ref:refs/heads/main"}`)
	if status, body := f.post(t, fedForm("jwt_bearer", tok, nil)); status != http.StatusOK {
		t.Fatalf("token after the subject is back = %d %v; want 200", status, body)
	}
	admin("DELETE", "/admin/trust-policies/deploy", "")
	if status, body := f.post(t, fedForm("token_exchange", tok, nil)); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("token after DELETE of the policy = %d %v; want 400 invalid_grant", status, body)
	}
}

// FuzzTrustPolicyPatch sends arbitrary bodies to PATCH
// /admin/trust-policies/{name}: the answer is never a 5xx; a refusal
// leaves the policy as it was; an accepted change leaves a policy that
// passes Validate and still names an existing client.
func FuzzTrustPolicyPatch(f *testing.F) {
	for _, seed := range []string{
		`{"subject":"repo:acme/app:*"}`, `{"claims":{"environment":"prod"}}`, `{"claims":{}}`,
		`{"jwks_uri":""}`, `{"jwks":{"keys":[]}}`, `{"jwks":null,"jwks_uri":null}`, `{"client_id":"nobody"}`,
		`{"audiences":[]}`, `{"scopes":["a b"]}`, `{"max_ttl_seconds":-1}`, `{"max_ttl_seconds":9223372036854775807}`,
		`{"single_use":true,"preset":"gitlab"}`, `{"issuer":"http://127.0.0.1:1/"}`, `{}`, `null`, `[]`, `{"name":"x"}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		a := newTrustAdmin(t)
		if w := a.do("POST", "/admin/trust-policies", trustAdminToken, githubPolicy); w.Code != http.StatusCreated {
			t.Fatalf("POST = %d %s", w.Code, w.Body)
		}
		before, _ := a.st.GetTrustPolicy(t.Context(), "deploy")
		w := a.do("PATCH", "/admin/trust-policies/deploy", trustAdminToken, body)
		after, err := a.st.GetTrustPolicy(t.Context(), "deploy")
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case w.Code >= 500:
			t.Fatalf("PATCH %q = %d %s", body, w.Code, w.Body)
		case w.Code != http.StatusOK:
			if d := cmp.Diff(before, after); d != "" {
				t.Errorf("PATCH %q refused with %d but changed the policy (-before +after):\n%s", body, w.Code, d)
			}
		default:
			if err := after.Validate(); err != nil {
				t.Errorf("PATCH %q stored a policy Validate refuses: %v", body, err)
			}
			if _, err := a.st.GetClient(t.Context(), after.ClientID); err != nil {
				t.Errorf("PATCH %q left a policy for client %q: %v", body, after.ClientID, err)
			}
		}
	})
}

// Only the fields an update gives change: here the subject.
func ExampleUpdateTrustPolicy() {
	ctx := context.Background()
	st := memstore.New()
	st.CreateClient(ctx, &store.Client{ID: "deployer"})
	authserver.CreateTrustPolicy(ctx, st, st, &store.TrustPolicy{Name: "deploy", Issuer: "https://token.actions.githubusercontent.com",
		Audiences: []string{"https://auth.example"}, Subject: "repo:acme/app:ref:refs/heads/main", ClientID: "deployer",
		Claims: map[string]string{"repository_owner_id": "4242"}}, nil)
	subject := "repo:acme/app:ref:refs/heads/release-*"
	p, err := authserver.UpdateTrustPolicy(ctx, st, st, "deploy", &authserver.TrustPolicyUpdate{Subject: &subject}, nil)
	fmt.Println(p.Subject, p.Claims, err)
	nobody := "nobody"
	_, err = authserver.UpdateTrustPolicy(ctx, st, st, "deploy", &authserver.TrustPolicyUpdate{ClientID: &nobody}, nil)
	fmt.Println(err)
	// Output:
	// repo:acme/app:ref:refs/heads/release-* map[repository_owner_id:4242] <nil>
	// authserver: updating trust policy: store: trust policy client_id: no client has this id
}

// A client that a trust policy names is deleted only with its policies.
func ExampleDeleteClient() {
	ctx := context.Background()
	st := memstore.New()
	st.CreateClient(ctx, &store.Client{ID: "deployer"})
	authserver.CreateTrustPolicy(ctx, st, st, &store.TrustPolicy{Name: "deploy", Issuer: "https://token.actions.githubusercontent.com",
		Audiences: []string{"https://auth.example"}, Subject: "repo:acme/app:*", ClientID: "deployer"}, nil)
	_, err := authserver.DeleteClient(ctx, st, "deployer", false)
	fmt.Println(errors.Is(err, store.ErrInUse), err)
	deleted, err := authserver.DeleteClient(ctx, st, "deployer", true)
	fmt.Println(len(deleted), deleted[0].Name, err)
	// Output:
	// true authserver: deleting client: store: client "deployer" is named by trust policies (deploy)
	// 1 deploy <nil>
}
