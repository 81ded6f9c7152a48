package jwtauth_test

import (
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/m2mkit/m2m/internal/testbackend"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/redisstore"
)

// TestDPoPReplayAcrossReplicas: two replicas, each with its own Redis
// connection and verifier, share the replay cache: a proof accepted by
// one is refused by the other. Runs when M2M_TEST_REDIS_ADDR is set.
func TestDPoPReplayAcrossReplicas(t *testing.T) {
	addr := testbackend.RedisAddr(t)
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "m2m-test-dpop-" + hex.EncodeToString(b[:]) + ":"
	now := func() time.Time { return dpopNow }
	replica := func() *jwtauth.DPoPVerifier {
		c, err := redisstore.Open(t.Context(), "redis://"+addr+"/0")
		if err != nil {
			t.Fatalf("redisstore.Open(%s) = %v", addr, err)
		}
		t.Cleanup(func() { c.Close() })
		return &jwtauth.DPoPVerifier{Replay: &redisstore.ReplayCache{Client: c, Prefix: prefix, Now: now}, Now: now}
	}
	a, b2 := replica(), replica()
	req := jwtauth.DPoPRequest{Proofs: []string{makeProof(t, proofSpec{})}, Method: "GET", URL: dpopURL}
	if _, err := a.Verify(t.Context(), req); err != nil {
		t.Fatalf("replica A: Verify = %v; want valid", err)
	}
	if _, err := b2.Verify(t.Context(), req); innerReason(err) != "replayed" {
		t.Fatalf("replica B: Verify(proof replayed from A) = %v; want replayed", err)
	}
}
