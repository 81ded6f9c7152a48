package federation_test

import (
	"context"
	"sync"
	"testing"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/federation"
	"github.com/m2mkit/m2m/federation/federationtest"
)

// TestConcurrentColdStart: many requests at once on a cold verifier cause
// one discovery fetch and one key fetch.
func TestConcurrentColdStart(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.iss.Token(good())
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			if _, err := f.v.Verify(context.Background(), tok, nil); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if d, k := f.iss.Fetches(federationtest.DiscoveryPath), f.iss.Fetches(federationtest.JWKSPath); d != 1 || k != 1 {
		t.Errorf("fetches: discovery %d, JWKS %d; want 1 and 1", d, k)
	}
	if f.policies.reads != 1 {
		t.Errorf("policies read %d times; want 1", f.policies.reads)
	}
}

// TestPolicyBoundIsTheClientBound: a running server sees a policy change
// within the bound it sees a client change.
func TestPolicyBoundIsTheClientBound(t *testing.T) {
	if federation.DefaultPolicyCacheTTL != authserver.DefaultClientCacheTTL {
		t.Errorf("DefaultPolicyCacheTTL = %v; want authserver.DefaultClientCacheTTL (%v)",
			federation.DefaultPolicyCacheTTL, authserver.DefaultClientCacheTTL)
	}
}
