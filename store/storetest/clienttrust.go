package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/m2mkit/m2m/store"
)

// RunClientsAndTrustPolicies runs the [store.ClientsAndTrustPolicies]
// cases: a policy needs its client, a client that policies name is not
// deleted unless its policies go with it, and a policy created while its
// client is deleted never outlives it.
func RunClientsAndTrustPolicies(t *testing.T, newStore func(t *testing.T) store.ClientsAndTrustPolicies) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, store.ClientsAndTrustPolicies)
	}{
		{"TrustPolicyNeedsClient", testTrustPolicyNeedsClient},
		{"DeleteClientInUse", testDeleteClientInUse},
		{"DeleteClientAndTrustPolicies", testDeleteClientAndTrustPolicies},
		{"DeleteClientWhilePolicyCreated", testDeleteClientWhilePolicyCreated},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// policyFor is a policy named name for client id.
func policyFor(name, id string) *store.TrustPolicy {
	p := fullPolicy(name)
	p.ClientID = id
	return p
}

func mustCreateClients(t *testing.T, s store.Clients, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := s.CreateClient(t.Context(), &store.Client{ID: id, Name: id, CreatedAt: base}); err != nil {
			t.Fatalf("CreateClient(%s) = %v", id, err)
		}
	}
}

// wantNoSuchClient checks that err is the client_id field error.
func wantNoSuchClient(t *testing.T, what string, err error) {
	t.Helper()
	var fe *store.FieldError
	if !errors.Is(err, store.ErrInvalid) || !errors.As(err, &fe) || fe.Field != "client_id" {
		t.Errorf("%s = %v; want a client_id *store.FieldError wrapping ErrInvalid", what, err)
	}
}

func testTrustPolicyNeedsClient(t *testing.T, s store.ClientsAndTrustPolicies) {
	ctx := t.Context()
	wantNoSuchClient(t, "CreateTrustPolicy(client missing)", s.CreateTrustPolicy(ctx, policyFor("p", "missing")))
	if _, err := s.GetTrustPolicy(ctx, "p"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetTrustPolicy(p) after a refused create = %v; want ErrNotFound", err)
	}
	mustCreateClients(t, s, "a")
	if err := s.CreateTrustPolicy(ctx, policyFor("p", "a")); err != nil {
		t.Fatalf("CreateTrustPolicy(p for a) = %v", err)
	}
	_, err := s.UpdateTrustPolicy(ctx, "p", func(p *store.TrustPolicy) error { p.ClientID = "missing"; return nil })
	wantNoSuchClient(t, "UpdateTrustPolicy(p to a missing client)", err)
	got, err := s.GetTrustPolicy(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "GetTrustPolicy(p) after a refused update", got, policyFor("p", "a"))
}

func testDeleteClientInUse(t *testing.T, s store.ClientsAndTrustPolicies) {
	ctx := t.Context()
	mustCreateClients(t, s, "a", "b", "free")
	for _, p := range []*store.TrustPolicy{policyFor("z-a", "a"), policyFor("B-a", "a"), policyFor("only-b", "b")} {
		if err := s.CreateTrustPolicy(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	err := s.DeleteClient(ctx, "a")
	var ie *store.ClientInUseError
	if !errors.Is(err, store.ErrInUse) || !errors.As(err, &ie) {
		t.Fatalf("DeleteClient(a) with policies = %v; want a *store.ClientInUseError wrapping ErrInUse", err)
	}
	diff(t, "DeleteClient(a) error", ie, &store.ClientInUseError{ClientID: "a", TrustPolicies: []string{"B-a", "z-a"}})
	if _, err := s.GetClient(ctx, "a"); err != nil {
		t.Errorf("GetClient(a) after a refused delete = %v; want the client", err)
	}
	if list, _ := s.ListTrustPolicies(ctx); len(list) != 3 {
		t.Errorf("ListTrustPolicies() after a refused delete = %d policies; want 3", len(list))
	}
	if err := s.DeleteClient(ctx, "free"); err != nil {
		t.Errorf("DeleteClient(free) = %v; want it deleted (no policy names it)", err)
	}
	if err := s.DeleteClient(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteClient(missing) = %v; want ErrNotFound", err)
	}
	// Its last policy gone, the client can go.
	if err := s.DeleteTrustPolicy(ctx, "only-b"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteClient(ctx, "b"); err != nil {
		t.Errorf("DeleteClient(b) after its policy's delete = %v", err)
	}
}

func testDeleteClientAndTrustPolicies(t *testing.T, s store.ClientsAndTrustPolicies) {
	ctx := t.Context()
	mustCreateClients(t, s, "a", "b", "free")
	for _, p := range []*store.TrustPolicy{policyFor("z-a", "a"), policyFor("B-a", "a"), policyFor("only-b", "b")} {
		if err := s.CreateTrustPolicy(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.DeleteClientAndTrustPolicies(ctx, "a")
	if err != nil {
		t.Fatalf("DeleteClientAndTrustPolicies(a) = %v", err)
	}
	diff(t, "DeleteClientAndTrustPolicies(a)", got, []*store.TrustPolicy{policyFor("B-a", "a"), policyFor("z-a", "a")})
	if _, err := s.GetClient(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetClient(a) after DeleteClientAndTrustPolicies = %v; want ErrNotFound", err)
	}
	list, err := s.ListTrustPolicies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "ListTrustPolicies() after DeleteClientAndTrustPolicies(a)", list, []*store.TrustPolicy{policyFor("only-b", "b")})

	got, err = s.DeleteClientAndTrustPolicies(ctx, "free")
	if err != nil || len(got) != 0 {
		t.Errorf("DeleteClientAndTrustPolicies(free) = %v, %v; want no policies, nil", got, err)
	}
	if _, err := s.DeleteClientAndTrustPolicies(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteClientAndTrustPolicies(missing) = %v; want ErrNotFound", err)
	}
}

// testDeleteClientWhilePolicyCreated races a policy's create against its
// client's delete, many times: whichever wins, a policy never names a
// client that is gone, and the loser says why.
func testDeleteClientWhilePolicyCreated(t *testing.T, s store.ClientsAndTrustPolicies) {
	ctx := t.Context()
	for i := range Concurrency * Increments {
		id, name := fmt.Sprintf("c%d", i), fmt.Sprintf("p%d", i)
		mustCreateClients(t, s, id)
		var createErr, deleteErr error
		var wg sync.WaitGroup
		wg.Go(func() { createErr = s.CreateTrustPolicy(ctx, policyFor(name, id)) })
		wg.Go(func() { deleteErr = s.DeleteClient(ctx, id) })
		wg.Wait()
		_, clientErr := s.GetClient(ctx, id)
		_, policyErr := s.GetTrustPolicy(ctx, name)
		switch {
		case createErr == nil && errors.Is(deleteErr, store.ErrInUse):
			if clientErr != nil || policyErr != nil {
				t.Fatalf("round %d: the policy won, but GetClient = %v, GetTrustPolicy = %v", i, clientErr, policyErr)
			}
		case deleteErr == nil && errors.Is(createErr, store.ErrInvalid):
			if !errors.Is(clientErr, store.ErrNotFound) || !errors.Is(policyErr, store.ErrNotFound) {
				t.Fatalf("round %d: the delete won, but GetClient = %v, GetTrustPolicy = %v", i, clientErr, policyErr)
			}
		default:
			t.Fatalf("round %d: CreateTrustPolicy = %v, DeleteClient = %v; want one to win and the other to refuse", i, createErr, deleteErr)
		}
	}
}
