package tlsreload

import (
	"context"
	"testing"
	"time"
)

// TestCheck checks what a client's look at the files returns: the pair
// in service and a digest that changes with it, and the refusal of a
// broken replacement at every look, with the pair in service kept.
func TestCheck(t *testing.T) {
	now := time.Now()
	f := newFiles(t)
	f.write(t, newPair(t, "one", now, now.Add(time.Hour)))
	r, err := New(Options{CertFile: f.cert, KeyFile: f.key})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c1, d1, err := r.Check(ctx)
	if err != nil || c1.Leaf.Subject.CommonName != "one" {
		t.Fatalf("Check() = %v, %v; want the first pair", c1.Leaf.Subject, err)
	}
	if c, d, err := r.Check(ctx); c != c1 || d != d1 || err != nil {
		t.Errorf("Check() of unchanged files = %v, %x, %v; want the same pair and digest", c.Leaf.Subject, d, err)
	}
	f.write(t, newPair(t, "two", now, now.Add(time.Hour)))
	c2, d2, err := r.Check(ctx)
	if err != nil || c2.Leaf.Subject.CommonName != "two" || d2 == d1 {
		t.Fatalf("Check() after a replacement = %v, %x, %v; want the second pair and a new digest", c2.Leaf.Subject, d2, err)
	}
	writeFile(t, f.cert, []byte("-----BEGIN CERTIFICATE-----\ntrunc"), 0o644)
	for range 2 {
		if c, d, err := r.Check(ctx); err == nil || c != c2 || d != d2 {
			t.Errorf("Check() of a broken file = %v, %x, %v; want an error and the second pair kept", c.Leaf.Subject, d, err)
		}
	}
}
