package sqlstore_test

import (
	"testing"

	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/sqlstore"
)

// undoSchema4 takes a database of the latest schema back to schema 3
// (before clients that require DPoP).
var undoSchema4 = append(undoSteps(undoSchema5),
	`ALTER TABLE clients DROP COLUMN require_dpop`,
	`DELETE FROM schema_migrations WHERE version >= 4`,
)

// TestRequireDPoPMigration opens a database of schema 3 holding a client,
// checks that Open adds the require_dpop column with the client keeping
// an optional proof (false), and that a client requiring DPoP then
// round-trips, on SQLite and on PostgreSQL.
func TestRequireDPoPMigration(t *testing.T) {
	kept := &store.Client{ID: "kept", SecretHash: []byte{1, 2, 3}, SecretAlgorithm: "sha256"}
	testUpgrade(t, kept, undoSchema4, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		bound := &store.Client{ID: "bound", SecretHash: []byte{4, 5, 6}, SecretAlgorithm: "sha256", RequireDPoP: true}
		if err := s.CreateClient(ctx, bound); err != nil {
			t.Fatalf("CreateClient(bound) after upgrade = %v", err)
		}
		if got, err := s.GetClient(ctx, "bound"); err != nil || !got.RequireDPoP {
			t.Errorf("GetClient(bound) after upgrade = %+v, %v; want RequireDPoP", got, err)
		}
	})
}
