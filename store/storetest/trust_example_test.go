package storetest_test

import (
	"testing"

	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/memstore"
	"github.com/m2mkit/m2m/store/storetest"
)

// A backend that keeps only trust policies runs their cases alone.
func ExampleRunTrustPolicies() {
	_ = func(t *testing.T) {
		storetest.RunTrustPolicies(t, func(t *testing.T) store.TrustPolicies {
			s := memstore.New()
			t.Cleanup(func() { s.Close() })
			return s
		})
	}
}
