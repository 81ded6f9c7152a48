package storetest_test

import (
	"testing"

	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/memstore"
	"github.com/m2mkit/m2m/store/storetest"
)

// A backend's test runs the whole suite with a constructor that returns a
// fresh, empty store for each case.
func ExampleRun() {
	_ = func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store {
			s := memstore.New() // or sqlstore.Open(t.Context(), ...)
			t.Cleanup(func() { s.Close() })
			return s
		})
	}
}

// A backend that keeps only revocations (such as a Redis one) runs only
// their cases.
func ExampleRunRevocations() {
	_ = func(t *testing.T) {
		storetest.RunRevocations(t, func(t *testing.T) store.Revocations {
			return memstore.New()
		})
	}
}
