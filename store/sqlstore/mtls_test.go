package sqlstore_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/sqlstore"
)

// undoSchema6 takes a database of schema 6 back to the schema before
// mutual-TLS clients.
var undoSchema6 = append(undoSteps(undoUsageSchema),
	`ALTER TABLE clients DROP COLUMN tls_subject`,
	`ALTER TABLE clients DROP COLUMN tls_san_dns`,
	`ALTER TABLE clients DROP COLUMN tls_san_uri`,
	`ALTER TABLE clients DROP COLUMN tls_san_ip`,
	`ALTER TABLE clients DROP COLUMN tls_san_email`,
	`ALTER TABLE clients DROP COLUMN tls_bound_tokens`,
	`DELETE FROM schema_migrations WHERE version >= 6`,
)

// TestMutualTLSMigration opens a database from before mutual-TLS clients
// holding a client, checks that Open adds the columns with the client
// keeping no certificate name and no binding, and that a tls_client_auth
// client then round-trips, on SQLite and on PostgreSQL.
func TestMutualTLSMigration(t *testing.T) {
	kept := &store.Client{ID: "kept", SecretHash: []byte{1, 2, 3}, SecretAlgorithm: "sha256", RequireDPoP: true}
	testUpgrade(t, kept, undoSchema6, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		c := &store.Client{ID: "worker", AuthMethod: store.AuthMethodTLSClientAuth, TLSSubject: "CN=worker,O=Example",
			TLSClientCertificateBoundAccessTokens: true}
		if err := s.CreateClient(ctx, c); err != nil {
			t.Fatalf("CreateClient(worker) after upgrade = %v", err)
		}
		got, err := s.GetClient(ctx, "worker")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("GetClient(worker) after upgrade: (-want +got)\n%s", diff)
		}
	})
}
