package memstore_test

import (
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
