package authserver_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/memstore"
)

// A server that keeps usage and an audit log in its store (any
// store.Store: sqlstore in production) and streams audit events to a
// file and a webhook; Run flushes the counts every second.
func ExampleServer_Run() {
	st := memstore.New()
	srv, err := authserver.New(authserver.Config{
		Issuer:  "https://auth.example.com",
		Clients: st, // also its store.Usage and store.Audit
		Signer:  exampleSigner(),
		AuditSinks: []authserver.AuditSink{
			&authserver.FileAuditSink{Path: "/var/log/m2m/audit.jsonl"},
			&authserver.WebhookAuditSink{URL: "https://siem.example.com/m2m"},
		},
		AuditRetention: 30 * 24 * time.Hour,
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	stop() // in a program: stopped on shutdown
	srv.Run(ctx)
}

// BuildClientUsage turns a client's hourly buckets into the admin API's
// answer: 12 tokens in the last hour, each valid an hour, is not caching.
func ExampleBuildClientUsage() {
	now := time.Date(2027, 1, 15, 8, 0, 0, 0, time.UTC)
	c := &store.Client{ID: "billing", SecretCreatedAt: now.Add(-48 * time.Hour)}
	buckets := []store.UsageBucket{
		{Hour: now.Add(-time.Hour), Counter: store.CounterIssued, N: 12},
		{Hour: now.Add(-time.Hour), Counter: "refused:scope_not_granted", N: 1},
	}
	u := authserver.BuildClientUsage(c, buckets, store.SecretUse{LastUsedAt: now.Add(-time.Minute)}, time.Hour, now)
	fmt.Println(u.Totals["24h"].Issued, u.Totals["24h"].Refusals, u.NotCaching, *u.SecretAgeSeconds/3600)
	// Output: 12 map[scope_not_granted:1] true 48
}

func ExampleParseSince() {
	now := time.Date(2027, 1, 15, 8, 0, 0, 0, time.UTC)
	for _, s := range []string{"24h", "7d", "2027-01-01T00:00:00Z"} {
		t, err := authserver.ParseSince(s, now)
		fmt.Println(t.Format(time.RFC3339), err)
	}
	// Output:
	// 2027-01-14T08:00:00Z <nil>
	// 2027-01-08T08:00:00Z <nil>
	// 2027-01-01T00:00:00Z <nil>
}
