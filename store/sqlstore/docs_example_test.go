package sqlstore_test

import (
	"context"
	"log"

	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/sqlstore"
)

// docs/server.md: disabling a client in a transaction. (Compiled, not run:
// it names a system path.)
func Example_docsUpdateClient() {
	ctx := context.Background()
	clientID := "billing"

	s, err := sqlstore.Open(ctx, "sqlite:///var/lib/m2m/m2m.db") // or "postgres://…"
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	c, err := s.UpdateClient(ctx, clientID, func(c *store.Client) error {
		c.Disabled = true // runs in a transaction; concurrent updates are never lost
		return nil
	})

	_, _ = c, err
}
