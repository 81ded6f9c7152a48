package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/m2mkit/m2m/store"
)

// RunUsage runs the [store.Usage] cases.
func RunUsage(t *testing.T, newStore func(t *testing.T) store.Usage) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, store.Usage)
	}{
		{"UsageAdd", testUsageAdd},
		{"UsageConcurrentAdds", testUsageConcurrentAdds},
		{"UsageSecretUse", testUsageSecretUse},
		{"UsagePrune", testUsagePrune},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// RunAudit runs the [store.Audit] cases.
func RunAudit(t *testing.T, newStore func(t *testing.T) store.Audit) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, store.Audit)
	}{
		{"AuditList", testAuditList},
		{"AuditPrune", testAuditPrune},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

func testUsageAdd(t *testing.T, s store.Usage) {
	ctx := t.Context()
	h0 := base.Truncate(time.Hour)
	h1 := h0.Add(time.Hour)
	add := func(deltas ...store.UsageDelta) {
		t.Helper()
		if err := s.AddUsage(ctx, deltas, nil); err != nil {
			t.Fatalf("AddUsage = %v", err)
		}
	}
	add(store.UsageDelta{ClientID: "a", Hour: h0, Counter: store.CounterIssued, N: 3},
		store.UsageDelta{ClientID: "a", Hour: h1, Counter: store.CounterIssued, N: 1},
		store.UsageDelta{ClientID: "b", Hour: h0, Counter: store.CounterIssued, N: 7})
	// A second replica's flush adds to the same buckets.
	add(store.UsageDelta{ClientID: "a", Hour: h0, Counter: store.CounterIssued, N: 2},
		store.UsageDelta{ClientID: "a", Hour: h0, Counter: "refused:scope_not_granted", N: 1},
		store.UsageDelta{ClientID: store.UnknownClient, Hour: h0, Counter: "refused:unknown_client", N: 5})
	got, _, err := s.ClientUsage(ctx, "a", h0)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.UsageBucket{
		{Hour: h0, Counter: store.CounterIssued, N: 5},
		{Hour: h0, Counter: "refused:scope_not_granted", N: 1},
		{Hour: h1, Counter: store.CounterIssued, N: 1},
	}
	diff(t, "ClientUsage(a)", got, want)
	got, _, _ = s.ClientUsage(ctx, "a", h1)
	diff(t, "ClientUsage(a, since h1)", got, want[2:])
	got, _, _ = s.ClientUsage(ctx, store.UnknownClient, h0)
	diff(t, "ClientUsage(unknown)", got, []store.UsageBucket{{Hour: h0, Counter: "refused:unknown_client", N: 5}})
	got, use, _ := s.ClientUsage(ctx, "nobody", h0)
	if len(got) != 0 || !use.LastUsedAt.IsZero() {
		t.Errorf("ClientUsage(nobody) = %v, %+v; want nothing", got, use)
	}
}

// testUsageConcurrentAdds: replicas flushing at once lose no count.
func testUsageConcurrentAdds(t *testing.T, s store.Usage) {
	ctx := t.Context()
	h := base.Truncate(time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, Concurrency*Increments)
	for range Concurrency {
		wg.Go(func() {
			for range Increments {
				errs <- s.AddUsage(ctx, []store.UsageDelta{
					{ClientID: "a", Hour: h, Counter: store.CounterIssued, N: 1},
					{ClientID: "b", Hour: h, Counter: store.CounterIssued, N: 2},
				}, []store.SecretUse{{ClientID: "a", LastUsedAt: base}})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("AddUsage = %v", err)
		}
	}
	for id, want := range map[string]int64{"a": Concurrency * Increments, "b": 2 * Concurrency * Increments} {
		got, _, err := s.ClientUsage(ctx, id, h)
		if err != nil || len(got) != 1 || got[0].N != want {
			t.Errorf("ClientUsage(%s) = %v, %v; want %d issued", id, got, err, want)
		}
	}
}

func testUsageSecretUse(t *testing.T, s store.Usage) {
	ctx := t.Context()
	for i, step := range []struct {
		use  store.SecretUse
		want store.SecretUse
	}{
		{store.SecretUse{ClientID: "a", LastUsedAt: base},
			store.SecretUse{ClientID: "a", LastUsedAt: base}},
		// An older use (a replica's late flush) keeps the latest.
		{store.SecretUse{ClientID: "a", LastUsedAt: base.Add(-time.Minute)},
			store.SecretUse{ClientID: "a", LastUsedAt: base}},
		{store.SecretUse{ClientID: "a", LastUsedAt: base.Add(time.Minute), PreviousSecretID: "p1", PreviousSecretUsedAt: base.Add(time.Minute)},
			store.SecretUse{ClientID: "a", LastUsedAt: base.Add(time.Minute), PreviousSecretID: "p1", PreviousSecretUsedAt: base.Add(time.Minute)}},
		// A use of the current secret leaves the previous secret's.
		{store.SecretUse{ClientID: "a", LastUsedAt: base.Add(2 * time.Minute)},
			store.SecretUse{ClientID: "a", LastUsedAt: base.Add(2 * time.Minute), PreviousSecretID: "p1", PreviousSecretUsedAt: base.Add(time.Minute)}},
		// After another rotation, the new previous secret's use replaces it.
		{store.SecretUse{ClientID: "a", LastUsedAt: base.Add(3 * time.Minute), PreviousSecretID: "p2", PreviousSecretUsedAt: base.Add(3 * time.Minute)},
			store.SecretUse{ClientID: "a", LastUsedAt: base.Add(3 * time.Minute), PreviousSecretID: "p2", PreviousSecretUsedAt: base.Add(3 * time.Minute)}},
	} {
		if err := s.AddUsage(ctx, nil, []store.SecretUse{step.use}); err != nil {
			t.Fatalf("step %d: AddUsage = %v", i, err)
		}
		_, got, err := s.ClientUsage(ctx, "a", base)
		if err != nil {
			t.Fatal(err)
		}
		diff(t, fmt.Sprintf("step %d: secret use", i), got, step.want)
	}
}

func testUsagePrune(t *testing.T, s store.Usage) {
	ctx := t.Context()
	h := base.Truncate(time.Hour)
	if err := s.AddUsage(ctx, []store.UsageDelta{
		{ClientID: "a", Hour: h.Add(-2 * time.Hour), Counter: store.CounterIssued, N: 1},
		{ClientID: "a", Hour: h, Counter: store.CounterIssued, N: 2},
	}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.PruneUsage(ctx, h.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _, _ := s.ClientUsage(ctx, "a", h.Add(-24*time.Hour))
	diff(t, "ClientUsage after prune", got, []store.UsageBucket{{Hour: h, Counter: store.CounterIssued, N: 2}})
}

func testAuditList(t *testing.T, s store.Audit) {
	ctx := t.Context()
	var events []store.AuditEvent
	for i := range 5 {
		events = append(events, store.AuditEvent{Time: base.Add(time.Duration(i) * time.Minute), Code: "client.created",
			Actor: "cli:ops", ClientID: fmt.Sprintf("c%d", i%2), Count: 1})
	}
	events[4].Code, events[4].Reason, events[4].RemoteAddr, events[4].Count = "auth.failed", "bad_secret", "192.0.2.1", 7
	if err := s.AppendAudit(ctx, events); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(events); i++ {
		if events[i].ID <= events[i-1].ID {
			t.Fatalf("AppendAudit ids = %d then %d; want increasing", events[i-1].ID, events[i].ID)
		}
	}
	ids := func(list []store.AuditEvent) []int64 {
		var out []int64
		for _, e := range list {
			out = append(out, e.ID)
		}
		return out
	}
	id := func(i int) int64 { return events[i].ID }
	for _, tc := range []struct {
		name string
		q    store.AuditQuery
		want []int64
	}{
		{"all", store.AuditQuery{}, []int64{id(4), id(3), id(2), id(1), id(0)}},
		{"client", store.AuditQuery{ClientID: "c1"}, []int64{id(3), id(1)}},
		{"code", store.AuditQuery{Code: "auth.failed"}, []int64{id(4)}},
		{"since", store.AuditQuery{Since: base.Add(3 * time.Minute)}, []int64{id(4), id(3)}},
		{"page", store.AuditQuery{Limit: 2}, []int64{id(4), id(3)}},
		{"next page", store.AuditQuery{Limit: 2, BeforeID: id(3)}, []int64{id(2), id(1)}},
	} {
		got, err := s.ListAudit(ctx, tc.q)
		if err != nil {
			t.Fatalf("%s: ListAudit = %v", tc.name, err)
		}
		diff(t, tc.name, ids(got), tc.want)
	}
	got, _ := s.ListAudit(ctx, store.AuditQuery{Code: "auth.failed"})
	diff(t, "stored event", got, events[4:])
}

func testAuditPrune(t *testing.T, s store.Audit) {
	ctx := t.Context()
	events := []store.AuditEvent{
		{Time: base.Add(-100 * 24 * time.Hour), Code: "client.created", Count: 1},
		{Time: base, Code: "client.deleted", Count: 1},
	}
	if err := s.AppendAudit(ctx, events); err != nil {
		t.Fatal(err)
	}
	if err := s.PruneAudit(ctx, base.Add(-90*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ := s.ListAudit(ctx, store.AuditQuery{})
	diff(t, "ListAudit after prune", got, events[1:])
}
