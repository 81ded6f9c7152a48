package sqlstore_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/sqlstore"
)

// undoSchema3 takes a database of the latest schema back to schema 2
// (before client authentication methods).
var undoSchema3 = append(undoSteps(undoSchema4),
	`ALTER TABLE clients DROP COLUMN auth_method`,
	`ALTER TABLE clients DROP COLUMN jwks`,
	`ALTER TABLE clients DROP COLUMN jwks_uri`,
	`DELETE FROM schema_migrations WHERE version >= 3`,
)

const testJWKS = `{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`

// TestAuthMethodMigration opens a database of schema 2 holding a secret
// client, checks that Open adds the authentication columns with the
// client keeping its secret method (""), and that a private_key_jwt
// client then round-trips, on SQLite and on PostgreSQL.
func TestAuthMethodMigration(t *testing.T) {
	kept := &store.Client{ID: "kept", SecretHash: []byte{1, 2, 3}, SecretAlgorithm: "sha256"}
	testUpgrade(t, kept, undoSchema3, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		pk := &store.Client{ID: "signer", AuthMethod: store.AuthMethodPrivateKeyJWT, JWKS: []byte(testJWKS)}
		if err := s.CreateClient(ctx, pk); err != nil {
			t.Fatalf("CreateClient(private_key_jwt) after upgrade = %v", err)
		}
		got, err := s.GetClient(ctx, "signer")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(pk, got); diff != "" {
			t.Errorf("GetClient(signer): (-want +got)\n%s", diff)
		}
	})
}
