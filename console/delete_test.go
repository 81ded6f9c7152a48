package console_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/m2mkit/m2m/store"
)

// TestDeleteClientWithTrustPolicies: the confirmation page lists the
// trust policies that go with the client, and the delete takes them; a
// policy made after the page was shown is listed again, not deleted
// unseen.
func TestDeleteClientWithTrustPolicies(t *testing.T) {
	f := newFixture(t, nil)
	b := f.signIn(testAdminToken)
	ctx := context.Background()
	client := f.createClient("deployer")
	other := f.createClient("other")
	policy := func(name, clientID string) {
		t.Helper()
		if err := f.st.CreateTrustPolicy(ctx, &store.TrustPolicy{Name: name, Issuer: "https://token.actions.githubusercontent.com",
			Audiences: []string{"https://auth.example.test"}, Subject: "repo:acme/" + name + ":*", ClientID: clientID}); err != nil {
			t.Fatal(err)
		}
	}
	policy("gha-deploy", client.ID)
	policy("gha-other", other.ID)

	// A client no policy names: the plain delete.
	plain := f.createClient("plain")
	if w := b.get("/console/clients/" + plain.ID + "/delete"); w.Code != 200 || strings.Contains(w.Body.String(), "gha-") ||
		strings.Contains(w.Body.String(), "cascade") || !strings.Contains(w.Body.String(), ">Delete client</button>") {
		t.Errorf("confirmation for a client without policies = %d; want the plain delete:\n%s", w.Code, w.Body)
	}
	w := b.get("/console/clients/" + client.ID + "/delete")
	if body := w.Body.String(); w.Code != 200 || !strings.Contains(body, "gha-deploy") || strings.Contains(body, "gha-other") ||
		!strings.Contains(body, "Delete client and 1 trust policy") || !strings.Contains(body, `name="cascade" value="trust-policies"`) {
		t.Fatalf("confirmation page = %d; want it to list gha-deploy only and offer to delete it:\n%s", w.Code, body)
	}

	// A form without cascade (a page that listed none) is refused: the
	// page comes back listing the policy, and nothing is deleted.
	// So is a form that lists other policies than those that now name
	// the client (one made since the page was shown).
	policy("gha-late", client.ID)
	for name, form := range map[string]url.Values{
		"without cascade":   nil,
		"listing fewer":     {"cascade": {"trust-policies"}, "policies": {"gha-deploy"}},
		"listing none":      {"cascade": {"trust-policies"}},
		"listing another's": {"cascade": {"trust-policies"}, "policies": {"gha-deploy gha-late gha-other"}},
	} {
		w = b.post("/console/clients/"+client.ID+"/delete", form)
		if body := w.Body.String(); w.Code != http.StatusConflict || !strings.Contains(body, "gha-late") || !strings.Contains(body, "changed since this page was shown") ||
			!strings.Contains(body, `name="policies" value="gha-deploy gha-late"`) {
			t.Fatalf("delete %s = %d; want 409 listing gha-deploy and gha-late:\n%s", name, w.Code, body)
		}
		if _, err := f.st.GetClient(ctx, client.ID); err != nil {
			t.Fatalf("a refused delete (%s) deleted the client: %v", name, err)
		}
	}

	if w := b.post("/console/clients/"+client.ID+"/delete", url.Values{"cascade": {"trust-policies"}, "policies": {"gha-deploy gha-late"}}); w.Code != http.StatusSeeOther {
		t.Fatalf("delete with cascade = %d %s; want 303", w.Code, w.Body)
	}
	if _, err := f.st.GetClient(ctx, client.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetClient after delete = %v; want ErrNotFound", err)
	}
	for _, name := range []string{"gha-deploy", "gha-late"} {
		if _, err := f.st.GetTrustPolicy(ctx, name); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetTrustPolicy(%s) after the client's delete = %v; want ErrNotFound", name, err)
		}
	}
	if _, err := f.st.GetTrustPolicy(ctx, "gha-other"); err != nil {
		t.Errorf("another client's policy went too: %v", err)
	}
	if w := b.get("/console/clients"); !strings.Contains(w.Body.String(), "with its trust policies gha-deploy, gha-late") {
		t.Errorf("clients page after the delete lacks the message naming the policy:\n%s", w.Body)
	}
}
