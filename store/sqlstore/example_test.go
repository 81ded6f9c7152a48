package sqlstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/sqlstore"
)

func ExampleOpen() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "m2m-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// Or "postgres://m2m@db.internal:5432/m2m?sslmode=verify-full".
	s, err := sqlstore.Open(ctx, "sqlite://"+filepath.Join(dir, "m2m.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateClient(ctx, &store.Client{ID: "billing", Audiences: []string{"https://api.example/"}}); err != nil {
		log.Fatal(err)
	}
	c, err := s.UpdateClient(ctx, "billing", func(c *store.Client) error {
		c.Disabled = true
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	v, _ := s.SchemaVersion(ctx)
	fmt.Println(s.Dialect(), v, c.ID, c.Disabled, c.Audiences)
	// Output: sqlite 1 billing true [https://api.example/]
}
