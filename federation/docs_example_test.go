package federation_test

import (
	"context"
	"errors"
	"log/slog"

	"github.com/m2mkit/m2m/federation"
)

// What a token endpoint does with an external token: verify it, answer a
// refusal with a plain protocol error and log the detail for the
// operator.
func Example_tokenEndpoint() {
	var (
		policies  federation.PolicySource = federation.StaticPolicies{}
		clients   federation.ClientSource
		logger    = slog.Default()
		ctx       = context.Background()
		token     string   // the assertion, or subject_token
		audiences []string // the request's audience and resource parameters
	)
	v, err := federation.New(federation.Config{
		Policies: policies, // the store's trust policies, read again every 2 s
		Clients:  clients,  // the store's clients: they pick among several matches by audience
		Logger:   logger,
	})
	if err != nil {
		panic(err)
	}
	m, err := v.Verify(ctx, token, audiences)
	var refusal *federation.Refusal
	switch {
	case errors.As(err, &refusal):
		logger.Info("external token refused", "refusal", refusal) // the caller gets invalid_grant, never the detail
		return
	case err != nil:
		logger.Error("trust policies unavailable", "error", err) // 503
		return
	}
	// Issue a token for m.ClientID that expires no later than m.Expiry;
	// with m.Policy.SingleUse, accept m.ReplayKey once.
	_ = m
}
