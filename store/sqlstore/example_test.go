package sqlstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

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
	// Output: sqlite 7 billing true [https://api.example/]
}

// UpdateKeys is one transaction over the whole key set: replicas that
// start at once each "create the first key if there is none", and one
// wins.
func ExampleStore_UpdateKeys() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "m2m-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "m2m.db")
	for _, id := range []string{"first", "second"} {
		s, err := sqlstore.Open(ctx, path) // two handles, as two replicas
		if err != nil {
			log.Fatal(err)
		}
		err = s.UpdateKeys(ctx, func(keys []*store.SigningKey) ([]*store.SigningKey, error) {
			if len(keys) > 0 {
				return nil, nil
			}
			return []*store.SigningKey{{ID: id, Algorithm: "ES256", State: store.KeyActive}}, nil
		})
		if err != nil {
			log.Fatal(err)
		}
		s.Close()
	}
	s, err := sqlstore.Open(ctx, path)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	keys, _ := s.ListKeys(ctx)
	fmt.Println(len(keys), keys[0].ID, keys[0].State)
	// Output: 1 first active
}

func ExampleStore_RevokeToken() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "m2m-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := sqlstore.Open(ctx, filepath.Join(dir, "m2m.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	// Kept until the token's own expiry, after which it is invalid anyway.
	if err := s.RevokeToken(ctx, "jti-123", time.Now().Add(time.Hour)); err != nil {
		log.Fatal(err)
	}
	revoked, _ := s.IsRevoked(ctx, "jti-123")
	other, _ := s.IsRevoked(ctx, "jti-456")
	fmt.Println(revoked, other)
	// Output: true false
}
