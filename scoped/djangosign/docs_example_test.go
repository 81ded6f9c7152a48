package djangosign_test

import (
	"fmt"

	"github.com/m2mkit/m2m/scoped/djangosign"
)

// docs/scoped.md: Django's signing.dumps and signing.loads.
func Example_docsDumpsLoads() {
	secretKey, oldKey := []byte("django-insecure-new-key"), []byte("django-insecure-old-key")

	s := &djangosign.Signer{Key: secretKey, Salt: "my.salt", LegacySHA1: true, Fallbacks: [][]byte{oldKey}}
	tok, _ := s.Dumps(map[string]any{"a": 1}, true) // signing.dumps(obj, salt="my.salt", compress=True)
	js, err := s.Loads(tok, 60)                     // signing.loads(tok, salt="my.salt", max_age=60): JSON text

	fmt.Println(string(js), err)
	// Output: {"a":1} <nil>
}
