package federation_test

import (
	"context"
	"testing"
)

// BenchmarkVerify: one external token verified with cached policies and
// keys (ES256), the cost the token endpoint adds for a federated grant.
func BenchmarkVerify(b *testing.B) {
	f := newFixtureTB(b, nil)
	tok := f.iss.Token(good())
	ctx := context.Background()
	if _, err := f.v.Verify(ctx, tok, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.v.Verify(ctx, tok, nil); err != nil {
			b.Fatal(err)
		}
	}
}
