package basic

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

// TestA2bBase64 compares the lenient decoder with CPython's
// binascii.a2b_base64 on the inputs in testdata/a2b_base64.json (made by
// testdata/gen_a2b_base64.py).
func TestA2bBase64(t *testing.T) {
	data, err := os.ReadFile("testdata/a2b_base64.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		ProducedBy string `json:"produced_by"`
		Cases      []struct {
			In     string  `json:"in"`
			OutHex *string `json:"out_hex"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) < 100 {
		t.Fatalf("only %d cases", len(file.Cases))
	}
	for _, c := range file.Cases {
		out, ok := a2bBase64(c.In)
		switch {
		case c.OutHex == nil && ok:
			t.Errorf("a2bBase64(%q) = %x, true; want an error", c.In, out)
		case c.OutHex != nil && !ok:
			t.Errorf("a2bBase64(%q) = error; want %s", c.In, *c.OutHex)
		case c.OutHex != nil && hex.EncodeToString(out) != *c.OutHex:
			t.Errorf("a2bBase64(%q) = %x; want %s", c.In, out, *c.OutHex)
		}
	}
	t.Logf("%d cases from %s", len(file.Cases), file.ProducedBy)
}

// countingHash records how often it was checked.
type countingHash struct {
	pw string
	n  *int
}

func (h countingHash) check(pw string) bool { *h.n++; return pw == h.pw }

// TestHtpasswdUnknownUserWork checks that an unknown user costs one hash
// check, like a known one.
func TestHtpasswdUnknownUserWork(t *testing.T) {
	n := 0
	h := &Htpasswd{users: map[string]passwordHash{"alice": countingHash{"pw", &n}}}
	h.dummy = h.users["alice"]
	tests := []struct {
		user, pass string
		want       bool
	}{
		{"alice", "pw", true},
		{"alice", "wrong", false},
		{"mallory", "pw", false},
		{"", "", false},
	}
	for _, tt := range tests {
		before := n
		ok, err := h.Authenticate(context.Background(), tt.user, tt.pass)
		if err != nil || ok != tt.want {
			t.Errorf("Authenticate(%q, %q) = %v, %v; want %v, nil", tt.user, tt.pass, ok, err, tt.want)
		}
		if n-before != 1 {
			t.Errorf("Authenticate(%q, %q) ran %d hash checks; want 1", tt.user, tt.pass, n-before)
		}
	}
}
