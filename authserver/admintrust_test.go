package authserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/memstore"
)

// trustAdmin is a server with the admin API over a memstore that holds
// the client "deployer".
type trustAdmin struct {
	srv   *authserver.Server
	st    *memstore.Store
	clock *clock
}

const trustAdminToken = "admin-token-for-trust-tests"

func newTrustAdmin(t *testing.T) *trustAdmin {
	t.Helper()
	a := &trustAdmin{st: memstore.New(), clock: &clock{t: time.Unix(1_800_000_000, 0)}}
	if err := a.st.CreateClient(t.Context(), &store.Client{ID: "deployer", Audiences: []string{"https://api.example.test"}}); err != nil {
		t.Fatal(err)
	}
	var err error
	a.srv, err = authserver.New(authserver.Config{Issuer: testIssuer, Clients: a.st, Signer: newTestSigner(t),
		Now: a.clock.Now, AdminTokenHash: authserver.HashSecret(trustAdminToken)})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (a *trustAdmin) do(method, path, token, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	a.srv.ServeHTTP(w, r)
	return w
}

const githubPolicy = `{"name":"deploy","issuer":"https://token.actions.githubusercontent.com",
	"audiences":["https://auth.example.test"],"subject":"repo:acme/app:ref:refs/heads/main",
	"claims":{"repository_owner_id":"42"},"client_id":"deployer","scopes":["deploy"],
	"max_ttl_seconds":900,"single_use":true,"preset":"github-actions"}`

func TestAdminTrustPolicies(t *testing.T) {
	a := newTrustAdmin(t)
	created := a.clock.Now()
	w := a.do("POST", "/admin/trust-policies", trustAdminToken, githubPolicy)
	if w.Code != http.StatusCreated {
		t.Fatalf("POST /admin/trust-policies = %d %s; want 201", w.Code, w.Body)
	}
	var got authserver.TrustPolicyInfo
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Name != "deploy" || got.MaxTTLSeconds != 900 || !got.SingleUse || got.Claims["repository_owner_id"] != "42" || !got.CreatedAt.Equal(created) {
		t.Errorf("POST /admin/trust-policies answered %+v", got)
	}
	stored, err := a.st.GetTrustPolicy(t.Context(), "deploy")
	if err != nil || stored.MaxTTL != 15*time.Minute || stored.Preset != store.PresetGitHubActions || !stored.UpdatedAt.Equal(created) {
		t.Fatalf("stored policy = %+v, %v", stored, err)
	}

	// Replace: every field from the body, the creation time kept.
	a.clock.Add(time.Hour)
	w = a.do("PUT", "/admin/trust-policies/deploy", trustAdminToken, `{"issuer":"https://gitlab.com","audiences":["a"],
		"subject":"project_path:g/p:ref_type:branch:ref:main","client_id":"deployer"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("PUT /admin/trust-policies/deploy = %d %s; want 200", w.Code, w.Body)
	}
	stored, err = a.st.GetTrustPolicy(t.Context(), "deploy")
	if err != nil || stored.Issuer != "https://gitlab.com" || stored.Claims != nil || stored.SingleUse || stored.MaxTTL != 0 ||
		!stored.CreatedAt.Equal(created) || !stored.UpdatedAt.Equal(a.clock.Now()) {
		t.Errorf("policy after PUT = %+v, %v", stored, err)
	}

	if w := a.do("POST", "/admin/trust-policies", trustAdminToken, strings.Replace(githubPolicy, `"deploy"`, `"another"`, 1)); w.Code != http.StatusCreated {
		t.Fatalf("POST another = %d %s", w.Code, w.Body)
	}
	w = a.do("GET", "/admin/trust-policies", trustAdminToken, "")
	var list struct {
		TrustPolicies []authserver.TrustPolicyInfo `json:"trust_policies"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || w.Code != 200 || len(list.TrustPolicies) != 2 ||
		list.TrustPolicies[0].Name != "another" || list.TrustPolicies[1].Name != "deploy" {
		t.Errorf("GET /admin/trust-policies = %d %s; want another and deploy", w.Code, w.Body)
	}
	w = a.do("GET", "/admin/trust-policies/another", trustAdminToken, "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"subject":"repo:acme/app:ref:refs/heads/main"`) {
		t.Errorf("GET /admin/trust-policies/another = %d %s", w.Code, w.Body)
	}

	if w := a.do("DELETE", "/admin/trust-policies/another", trustAdminToken, ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"deleted":true`) {
		t.Errorf("DELETE /admin/trust-policies/another = %d %s", w.Code, w.Body)
	}
	if _, err := a.st.GetTrustPolicy(t.Context(), "another"); err == nil {
		t.Errorf("the deleted policy is still stored")
	}

	// Each change is an audit event naming the policy and its client.
	a.srv.FlushUsage(t.Context())
	w = a.do("GET", "/admin/audit?limit=10", trustAdminToken, "")
	var audit authserver.AuditList
	if err := json.Unmarshal(w.Body.Bytes(), &audit); err != nil || w.Code != 200 {
		t.Fatalf("GET /admin/audit = %d %s", w.Code, w.Body)
	}
	var got3 []string
	for _, e := range audit.Events {
		got3 = append(got3, e.Code+" "+e.Target+" "+e.ClientID+" "+e.Actor)
	}
	want3 := []string{"trust_policy.deleted another deployer admin-token", "trust_policy.created another deployer admin-token",
		"trust_policy.updated deploy deployer admin-token", "trust_policy.created deploy deployer admin-token"}
	if !slices.Equal(got3, want3) {
		t.Errorf("audit events = %q; want %q", got3, want3)
	}
}

func TestAdminTrustPolicyRefusals(t *testing.T) {
	a := newTrustAdmin(t)
	if w := a.do("POST", "/admin/trust-policies", trustAdminToken, githubPolicy); w.Code != 201 {
		t.Fatalf("POST = %d %s", w.Code, w.Body)
	}
	big := `{"name":"big","jwks":{"keys":[` + strings.Repeat(`{"kty":"EC"},`, 6000) + `{}]}}`
	for _, tt := range []struct {
		name, method, path, token, body string
		status                          int
		code                            string
		fields                          []string
	}{
		{"no token", "GET", "/admin/trust-policies", "", "", 401, "invalid_token", nil},
		{"wrong token", "POST", "/admin/trust-policies", "wrong", githubPolicy, 401, "invalid_token", nil},
		{"exists", "POST", "/admin/trust-policies", trustAdminToken, githubPolicy, 409, "conflict", nil},
		{"no such client", "POST", "/admin/trust-policies", trustAdminToken,
			strings.Replace(strings.Replace(githubPolicy, `"deployer"`, `"nobody"`, 1), `"deploy"`, `"x"`, 1), 400, "invalid_request", []string{"client_id"}},
		{"every problem", "POST", "/admin/trust-policies", trustAdminToken,
			`{"name":"a/b","issuer":"http://issuer.example","subject":"*","client_id":"nobody","max_ttl_seconds":99999999999999}`,
			400, "invalid_request", []string{"name", "issuer", "audiences", "subject", "max_ttl_seconds", "client_id"}},
		{"unknown field", "POST", "/admin/trust-policies", trustAdminToken, `{"name":"x","extra":1}`, 400, "invalid_request", nil},
		{"not JSON", "POST", "/admin/trust-policies", trustAdminToken, `[`, 400, "invalid_request", nil},
		{"body too large", "POST", "/admin/trust-policies", trustAdminToken, big, 400, "invalid_request", nil},
		{"get missing", "GET", "/admin/trust-policies/missing", trustAdminToken, "", 404, "not_found", nil},
		{"get impossible name", "GET", "/admin/trust-policies/a%00b", trustAdminToken, "", 404, "not_found", nil},
		{"delete missing", "DELETE", "/admin/trust-policies/missing", trustAdminToken, "", 404, "not_found", nil},
		{"replace missing", "PUT", "/admin/trust-policies/missing", trustAdminToken, strings.Replace(githubPolicy, `"name":"deploy",`, "", 1), 404, "not_found", nil},
		{"rename", "PUT", "/admin/trust-policies/deploy", trustAdminToken, strings.Replace(githubPolicy, `"deploy"`, `"other"`, 1), 400, "invalid_request", []string{"name"}},
		{"replace invalid", "PUT", "/admin/trust-policies/deploy", trustAdminToken, `{"client_id":"deployer"}`, 400, "invalid_request", []string{"issuer", "audiences", "subject"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := a.do(tt.method, tt.path, tt.token, tt.body)
			var body struct {
				Error            string `json:"error"`
				ErrorDescription string `json:"error_description"`
				Fields           []struct{ Field, Problem string }
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != tt.status || body.Error != tt.code {
				t.Fatalf("%s %s = %d %s; want %d with error %q", tt.method, tt.path, w.Code, w.Body, tt.status, tt.code)
			}
			var fields []string
			for _, f := range body.Fields {
				fields = append(fields, f.Field)
			}
			if tt.fields != nil && !slices.Equal(fields, tt.fields) {
				t.Errorf("%s %s fields = %v; want %v (%s)", tt.method, tt.path, fields, tt.fields, w.Body)
			}
			if tt.fields != nil && !strings.HasPrefix(body.ErrorDescription, "invalid trust policy: ") {
				t.Errorf("error_description = %q; want it to start with \"invalid trust policy: \"", body.ErrorDescription)
			}
			if tt.status == 401 && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge: %v", w.Header())
			}
		})
	}
	// Nothing refused was stored or changed.
	list, _ := a.st.ListTrustPolicies(t.Context())
	if len(list) != 1 || list[0].Name != "deploy" || list[0].ClientID != "deployer" || list[0].Issuer != "https://token.actions.githubusercontent.com" {
		t.Errorf("policies after the refusals = %+v; want deploy unchanged", list)
	}
}

// TestAdminTrustPoliciesWithoutStore: a Clients store that keeps no
// trust policies answers 501.
func TestAdminTrustPoliciesWithoutStore(t *testing.T) {
	f := newFixture(t, func(cfg *authserver.Config, _ *store.Client) {
		cfg.AdminTokenHash = authserver.HashSecret(trustAdminToken)
	})
	r := httptest.NewRequest("GET", "/admin/trust-policies", nil)
	r.Header.Set("Authorization", "Bearer "+trustAdminToken)
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, r)
	if w.Code != http.StatusNotImplemented || !strings.Contains(w.Body.String(), "not_implemented") {
		t.Errorf("GET /admin/trust-policies on a store without policies = %d %s; want 501", w.Code, w.Body)
	}
}

func ExampleCreateTrustPolicy() {
	ctx := context.Background()
	st := memstore.New()
	st.CreateClient(ctx, &store.Client{ID: "deployer"})
	p := &store.TrustPolicy{
		Name:      "deploy-main",
		Issuer:    "https://token.actions.githubusercontent.com",
		Audiences: []string{"https://auth.example"},
		Subject:   "repo:acme/app:ref:refs/heads/main",
		ClientID:  "deployer",
	}
	fmt.Println(authserver.CreateTrustPolicy(ctx, st, st, p, nil))
	q := *p
	q.Name, q.ClientID = "typo", "deployr"
	fmt.Println(authserver.CreateTrustPolicy(ctx, st, st, &q, nil))
	// Output:
	// <nil>
	// store: trust policy client_id: no client has this id
}
