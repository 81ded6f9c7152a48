package djangosign

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

// FuzzB62Decode: the timestamp parser never panics, and what it reads
// back from an int64 is that int64.
func FuzzB62Decode(f *testing.F) {
	for _, s := range []string{"0", "", "-", "1r31eq", "-1r31eq", "zzzzzzzzzzzzzzzzzzzzzz", "00", "a b", "1r31eq\n"} {
		f.Add(s, int64(0))
	}
	f.Add("", int64(-1<<63))
	f.Fuzz(func(t *testing.T, s string, n int64) {
		if v, err := B62Decode(s); err == nil && v == nil {
			t.Fatalf("B62Decode(%q) = nil, nil", s)
		}
		if n == -1<<63 {
			return // B62Encode cannot negate it; timestamps never are
		}
		e := B62Encode(n)
		if v, err := B62Decode(e); err != nil || !v.IsInt64() || v.Int64() != n {
			t.Fatalf("B62Decode(B62Encode(%d) = %q) = %v, %v", n, e, v, err)
		}
	})
}

// FuzzB64Decode: the payload decoder never panics, and on text of the
// URL-safe alphabet alone it agrees with encoding/base64 (unpadded, which
// like Python ignores the unused low bits of the last character).
func FuzzB64Decode(f *testing.F) {
	for _, s := range []string{"ImhlbGxvIg", "eyJhIjoxfQ", "a", "ab==", "a=b=", "-_-_", "!!!", "YQ==YQ", "YR"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := B64Decode(s)
		if strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return
		}
		want, werr := base64.RawURLEncoding.DecodeString(s)
		if (err == nil) != (werr == nil) || err == nil && !bytes.Equal(got, want) {
			t.Fatalf("B64Decode(%q) = %x, %v; encoding/base64 gives %x, %v", s, got, err, want, werr)
		}
	})
}
