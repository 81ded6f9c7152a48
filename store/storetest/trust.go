package storetest

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/m2mkit/m2m/store"
)

// RunTrustPolicies runs the [store.TrustPolicies] cases, for a backend
// that stores only trust policies. When the store also keeps clients,
// the clients the cases' policies name are created first (a
// [store.ClientsAndTrustPolicies] store refuses a policy without its
// client; [RunClientsAndTrustPolicies] checks that).
func RunTrustPolicies(t *testing.T, newStore func(t *testing.T) store.TrustPolicies) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, store.TrustPolicies)
	}{
		{"TrustPolicyCRUD", testTrustPolicyCRUD},
		{"TrustPolicyErrors", testTrustPolicyErrors},
		{"TrustPolicyCopies", testTrustPolicyCopies},
		{"TrustPolicyConcurrentUpdates", testTrustPolicyConcurrentUpdates},
		{"TrustPolicyValidation", testTrustPolicyValidation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			if cs, ok := s.(store.Clients); ok {
				for _, id := range []string{"deployer", "c", "other", "intruder"} {
					if err := cs.CreateClient(t.Context(), &store.Client{ID: id, Name: id}); err != nil {
						t.Fatalf("CreateClient(%s) = %v", id, err)
					}
				}
			}
			tc.fn(t, s)
		})
	}
}

// fullPolicy is a policy with every field set, keys by value.
func fullPolicy(name string) *store.TrustPolicy {
	return &store.TrustPolicy{
		Name:      name,
		Issuer:    "https://token.actions.githubusercontent.com",
		JWKS:      []byte(publicJWKS),
		Audiences: []string{"https://auth.example", "urn:m2m"},
		Subject:   "repo:acme/" + name + ":ref:refs/heads/*",
		Claims:    map[string]string{"repository_owner_id": "4242", "job_workflow_ref": "acme/*@refs/heads/main", "environment": "välue ✓ *"},
		ClientID:  "deployer",
		Scopes:    []string{"deploy", "read:status"},
		MaxTTL:    15*time.Minute + time.Nanosecond, // exact to the nanosecond
		SingleUse: true,
		Preset:    store.PresetGitHubActions,
		CreatedAt: base,
		UpdatedAt: base.Add(time.Second),
	}
}

func testTrustPolicyCRUD(t *testing.T, s store.TrustPolicies) {
	ctx := t.Context()
	// Created out of order: ListTrustPolicies returns them by name.
	b := fullPolicy("b")
	a := &store.TrustPolicy{Name: "a", Issuer: "http://127.0.0.1:9/", JWKSURI: "https://keys.example/jwks",
		Audiences: []string{"x"}, Subject: "system:serviceaccount:ns:sa", ClientID: "c", CreatedAt: base.Add(time.Minute)}
	// Upper case sorts before lower case byte-wise, whatever the
	// database's collation says.
	z := &store.TrustPolicy{Name: "Z", Issuer: "https://i.example", Audiences: []string{"x"}, Subject: "s", ClientID: "c"}
	for _, p := range []*store.TrustPolicy{b, a, z} {
		if err := s.CreateTrustPolicy(ctx, p); err != nil {
			t.Fatalf("CreateTrustPolicy(%s) = %v", p.Name, err)
		}
	}
	for _, p := range []*store.TrustPolicy{a, b, z} {
		got, err := s.GetTrustPolicy(ctx, p.Name)
		if err != nil {
			t.Fatalf("GetTrustPolicy(%s) = %v", p.Name, err)
		}
		diff(t, "GetTrustPolicy("+p.Name+")", got, p)
	}
	list, err := s.ListTrustPolicies(ctx)
	if err != nil {
		t.Fatalf("ListTrustPolicies() = %v", err)
	}
	diff(t, "ListTrustPolicies()", list, []*store.TrustPolicy{z, a, b})

	// Every field changes; the name does not, whatever the updater does.
	want := &store.TrustPolicy{Name: "b", Issuer: "https://gitlab.example", JWKSURI: "https://gitlab.example/oauth/discovery/keys",
		Audiences: []string{"https://other.example"}, Subject: "project_path:g/p:ref_type:branch:ref:main",
		Claims: map[string]string{"namespace_id": "7"}, ClientID: "other", MaxTTL: time.Hour,
		Preset: store.PresetGitLab, CreatedAt: base, UpdatedAt: base.Add(time.Hour)}
	updated, err := s.UpdateTrustPolicy(ctx, "b", func(p *store.TrustPolicy) error {
		diff(t, "UpdateTrustPolicy(b) input", p, b)
		*p = *want.Clone()
		p.Name = "renamed"
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateTrustPolicy(b) = %v", err)
	}
	diff(t, "UpdateTrustPolicy(b) result", updated, want)
	got, err := s.GetTrustPolicy(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "GetTrustPolicy(b) after update", got, want)
	if _, err := s.GetTrustPolicy(ctx, "renamed"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetTrustPolicy(renamed) = %v; want ErrNotFound (an update keeps the name)", err)
	}

	if err := s.DeleteTrustPolicy(ctx, "b"); err != nil {
		t.Fatalf("DeleteTrustPolicy(b) = %v", err)
	}
	if _, err := s.GetTrustPolicy(ctx, "b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetTrustPolicy(b) after delete = %v; want ErrNotFound", err)
	}
	list, err = s.ListTrustPolicies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "ListTrustPolicies() after delete", list, []*store.TrustPolicy{z, a})
}

func testTrustPolicyErrors(t *testing.T, s store.TrustPolicies) {
	ctx := t.Context()
	if list, err := s.ListTrustPolicies(ctx); err != nil || len(list) != 0 {
		t.Errorf("ListTrustPolicies() on an empty store = %v, %v; want none", list, err)
	}
	if err := s.CreateTrustPolicy(ctx, fullPolicy("a")); err != nil {
		t.Fatal(err)
	}
	dup := fullPolicy("a")
	dup.ClientID = "intruder"
	if err := s.CreateTrustPolicy(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateTrustPolicy(existing) = %v; want ErrConflict", err)
	}
	if got, _ := s.GetTrustPolicy(ctx, "a"); got == nil || got.ClientID != "deployer" {
		t.Errorf("a failed CreateTrustPolicy changed the existing policy: %+v", got)
	}
	if _, err := s.GetTrustPolicy(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetTrustPolicy(missing) = %v; want ErrNotFound", err)
	}
	called := false
	if _, err := s.UpdateTrustPolicy(ctx, "missing", func(*store.TrustPolicy) error { called = true; return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateTrustPolicy(missing) = %v; want ErrNotFound", err)
	}
	if called {
		t.Errorf("UpdateTrustPolicy(missing) called the updater")
	}
	if err := s.DeleteTrustPolicy(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteTrustPolicy(missing) = %v; want ErrNotFound", err)
	}
	if _, err := s.GetTrustPolicy(ctx, "A"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetTrustPolicy(A) = %v; want ErrNotFound (names are case-sensitive)", err)
	}
	boom := errors.New("boom")
	_, err := s.UpdateTrustPolicy(ctx, "a", func(p *store.TrustPolicy) error {
		p.ClientID, p.SingleUse = "half-done", false
		p.Claims["repository_owner_id"] = "half-done"
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("UpdateTrustPolicy(updater error) = %v; want the updater's error", err)
	}
	got, _ := s.GetTrustPolicy(ctx, "a")
	diff(t, "GetTrustPolicy(a) after an aborted update", got, fullPolicy("a"))
}

func testTrustPolicyCopies(t *testing.T, s store.TrustPolicies) {
	ctx := t.Context()
	in := fullPolicy("a")
	if err := s.CreateTrustPolicy(ctx, in); err != nil {
		t.Fatal(err)
	}
	in.Audiences[0], in.JWKS[0], in.Claims["repository_owner_id"], in.Scopes[0] = "mutated", 'X', "mutated", "mutated"
	got, err := s.GetTrustPolicy(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "GetTrustPolicy(a) after mutating the created value", got, fullPolicy("a"))

	got.Scopes[1], got.JWKS[1], got.Claims["job_workflow_ref"] = "mutated", 'X', "mutated"
	again, _ := s.GetTrustPolicy(ctx, "a")
	diff(t, "GetTrustPolicy(a) after mutating a returned value", again, fullPolicy("a"))

	var kept *store.TrustPolicy
	updated, err := s.UpdateTrustPolicy(ctx, "a", func(p *store.TrustPolicy) error { kept = p; return nil })
	if err != nil {
		t.Fatal(err)
	}
	kept.Audiences[1], kept.Claims["repository_owner_id"] = "mutated", "mutated"
	updated.Scopes[1] = "mutated"
	list, _ := s.ListTrustPolicies(ctx)
	list[0].Audiences[0] = "mutated"
	again, _ = s.GetTrustPolicy(ctx, "a")
	diff(t, "GetTrustPolicy(a) after mutating the updater's and List's values", again, fullPolicy("a"))
}

// testTrustPolicyConcurrentUpdates: N goroutines increment a counter
// through UpdateTrustPolicy; a lost update shows as a short count.
func testTrustPolicyConcurrentUpdates(t *testing.T, s store.TrustPolicies) {
	ctx := t.Context()
	p := fullPolicy("a")
	p.Claims = map[string]string{"n": "0"}
	if err := s.CreateTrustPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, Concurrency*Increments)
	var wg sync.WaitGroup
	for range Concurrency {
		wg.Go(func() {
			for range Increments {
				_, err := s.UpdateTrustPolicy(ctx, "a", func(p *store.TrustPolicy) error {
					n, err := strconv.Atoi(p.Claims["n"])
					if err != nil {
						return err
					}
					p.Claims["n"] = strconv.Itoa(n + 1)
					p.MaxTTL = time.Duration(n+1) * time.Second
					return nil
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent UpdateTrustPolicy() = %v", err)
	}
	got, err := s.GetTrustPolicy(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if n := Concurrency * Increments; got.Claims["n"] != strconv.Itoa(n) || got.MaxTTL != time.Duration(n)*time.Second {
		t.Errorf("counter after %d concurrent increments = %s (max ttl %v); want %d", n, got.Claims["n"], got.MaxTTL, n)
	}
}

// testTrustPolicyValidation: every backend refuses to store a policy that
// [store.TrustPolicy.Validate] refuses, on create and on update, and
// stores nothing of it.
func testTrustPolicyValidation(t *testing.T, s store.TrustPolicies) {
	ctx := t.Context()
	tests := []struct {
		name string
		mod  func(p *store.TrustPolicy)
	}{
		{"http issuer", func(p *store.TrustPolicy) { p.Issuer = "http://issuer.example" }},
		{"subject only star", func(p *store.TrustPolicy) { p.Subject = "*" }},
		{"no audience", func(p *store.TrustPolicy) { p.Audiences = nil }},
		{"private jwks", func(p *store.TrustPolicy) { p.JWKS = []byte(privateJWKS) }},
		{"jwks and jwks_uri", func(p *store.TrustPolicy) { p.JWKSURI = "https://keys.example/" }},
		{"claim on sub", func(p *store.TrustPolicy) { p.Claims = map[string]string{"sub": "x"} }},
		{"negative max ttl", func(p *store.TrustPolicy) { p.MaxTTL = -time.Second }},
	}
	if err := s.CreateTrustPolicy(ctx, fullPolicy("kept")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		p := fullPolicy("bad")
		tt.mod(p)
		if err := s.CreateTrustPolicy(ctx, p); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CreateTrustPolicy(%s) = %v; want ErrInvalid", tt.name, err)
		}
		if _, err := s.GetTrustPolicy(ctx, "bad"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetTrustPolicy(bad) after CreateTrustPolicy(%s) = %v; want ErrNotFound", tt.name, err)
		}
		if _, err := s.UpdateTrustPolicy(ctx, "kept", func(p *store.TrustPolicy) error { tt.mod(p); return nil }); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("UpdateTrustPolicy(kept, %s) = %v; want ErrInvalid", tt.name, err)
		}
		got, err := s.GetTrustPolicy(ctx, "kept")
		if err != nil {
			t.Fatal(err)
		}
		diff(t, "GetTrustPolicy(kept) after UpdateTrustPolicy("+tt.name+")", got, fullPolicy("kept"))
	}
}
