package sqlstore_test

import (
	"testing"

	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/sqlstore"
)

// undoSchema5 takes a database of the latest schema back to schema 4
// (before trust policies).
var undoSchema5 = append(undoSteps(undoSchema6),
	`DROP TABLE trust_policies`,
	`DELETE FROM schema_migrations WHERE version >= 5`,
)

// TestTrustPoliciesMigration opens a database of schema 4 holding a
// client, checks that Open adds the trust_policies table, empty, and
// that a policy then round-trips, on SQLite and on PostgreSQL.
func TestTrustPoliciesMigration(t *testing.T) {
	kept := &store.Client{ID: "kept", SecretHash: []byte{1, 2, 3}, SecretAlgorithm: "sha256", RequireDPoP: true}
	testUpgrade(t, kept, undoSchema5, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		if list, err := s.ListTrustPolicies(ctx); err != nil || len(list) != 0 {
			t.Fatalf("ListTrustPolicies() after upgrade = %v, %v; want none", list, err)
		}
		p := &store.TrustPolicy{Name: "ci", Issuer: "https://token.actions.githubusercontent.com",
			Audiences: []string{"https://auth.example"}, Subject: "repo:acme/app:*", ClientID: "kept"}
		if err := s.CreateTrustPolicy(ctx, p); err != nil {
			t.Fatalf("CreateTrustPolicy(ci) after upgrade = %v", err)
		}
		if got, err := s.GetTrustPolicy(ctx, "ci"); err != nil || got.Subject != p.Subject || got.ClientID != "kept" {
			t.Errorf("GetTrustPolicy(ci) after upgrade = %+v, %v", got, err)
		}
	})
}
