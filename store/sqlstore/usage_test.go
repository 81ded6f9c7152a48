package sqlstore_test

import (
	"testing"
	"time"

	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/sqlstore"
)

// undoUsageSchema takes a database of the latest schema back to the one
// before the usage migration.
var undoUsageSchema = []string{
	`DROP TABLE audit_events`,
	`DROP TABLE usage_clients`,
	`DROP TABLE usage_counts`,
	`ALTER TABLE clients DROP COLUMN quota_hourly`,
	`ALTER TABLE clients DROP COLUMN quota_daily`,
	`ALTER TABLE clients DROP COLUMN quota_mode`,
	`ALTER TABLE clients DROP COLUMN secret_created_at`,
	`DELETE FROM schema_migrations WHERE version >= 7`,
}

// TestUsageMigration opens a database from before the usage migration
// holding a client, checks that the client keeps no quota and an unknown
// secret age, and that usage, audit and quotas then work, on SQLite and
// on PostgreSQL.
func TestUsageMigration(t *testing.T) {
	kept := &store.Client{ID: "kept", SecretHash: []byte{1, 2, 3}, SecretAlgorithm: "sha256"}
	testUpgrade(t, kept, undoUsageSchema, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		q := &store.Client{ID: "quota", SecretHash: []byte{4}, SecretAlgorithm: "sha256", QuotaHourly: 5, QuotaMode: store.QuotaMonitor,
			SecretCreatedAt: time.Unix(1_800_000_000, 0).UTC()}
		if err := s.CreateClient(ctx, q); err != nil {
			t.Fatalf("CreateClient(quota) after upgrade = %v", err)
		}
		if got, err := s.GetClient(ctx, "quota"); err != nil || got.QuotaHourly != 5 || got.QuotaMode != store.QuotaMonitor || !got.SecretCreatedAt.Equal(q.SecretCreatedAt) {
			t.Errorf("GetClient(quota) after upgrade = %+v, %v", got, err)
		}
		h := time.Now().Truncate(time.Hour)
		if err := s.AddUsage(ctx, []store.UsageDelta{{ClientID: "kept", Hour: h, Counter: store.CounterIssued, N: 2}}, nil); err != nil {
			t.Fatalf("AddUsage after upgrade = %v", err)
		}
		if err := s.AppendAudit(ctx, []store.AuditEvent{{Time: h, Code: "client.created", Count: 1}}); err != nil {
			t.Fatalf("AppendAudit after upgrade = %v", err)
		}
	})
}
