package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/memstore"
	"github.com/m2mkit/m2m/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := memstore.New()
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func ExampleNew() {
	ctx := context.Background()
	s := memstore.New()
	if err := s.CreateClient(ctx, &store.Client{ID: "a"}); err != nil {
		panic(err)
	}
	err := s.CreateClient(ctx, &store.Client{ID: "a"})
	fmt.Println(errors.Is(err, store.ErrConflict))
	// Output: true
}
