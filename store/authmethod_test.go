package store_test

import (
	"strings"
	"testing"

	"github.com/m2mkit/m2m/store"
)

func TestValidateJWKSURI(t *testing.T) {
	for _, tt := range []struct {
		name string
		uri  string
		ok   bool
	}{
		{"https", "https://client.example/.well-known/jwks.json", true},
		{"https with port and query", "https://client.example:8443/jwks?tenant=a", true},
		{"http to 127.0.0.1", "http://127.0.0.1:8080/jwks", true},
		{"http to 127.9.9.9", "http://127.9.9.9/jwks", true},
		{"http to ::1", "http://[::1]:8080/jwks", true},
		{"http to localhost", "http://localhost:8080/jwks", true},
		{"http to a public host", "http://client.example/jwks", false},
		{"http to a private address", "http://10.0.0.1/jwks", false},
		{"http to 0.0.0.0", "http://0.0.0.0/jwks", false},
		{"http to a v4-mapped public address", "http://[::ffff:192.0.2.1]/jwks", false},
		{"http to localhost.example", "http://localhost.example/jwks", false},
		{"ftp", "ftp://client.example/jwks", false},
		{"file", "file:///etc/jwks.json", false},
		{"relative", "/jwks", false},
		{"no host", "https:///jwks", false},
		{"opaque", "https:client.example", false},
		{"user info", "https://user:pass@client.example/jwks", false},
		{"fragment", "https://client.example/jwks#k1", false},
		{"empty fragment", "https://client.example/jwks#", false},
		{"space", "https://client.example/a b", false},
		{"newline", "https://client.example/\njwks", false},
		{"empty", "", false},
		{"too long", "https://client.example/" + strings.Repeat("a", store.MaxJWKSURIBytes), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := store.ValidateJWKSURI(tt.uri)
			if (err == nil) != tt.ok {
				t.Errorf("ValidateJWKSURI(%q) = %v; want ok %v", tt.uri, err, tt.ok)
			}
		})
	}
}

func TestValidateClientJWKS(t *testing.T) {
	const ec = `{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"`
	for _, tt := range []struct {
		name string
		doc  string
		ok   bool
	}{
		{"one key without kid", `{"keys":[` + ec + `}]}`, true},
		{"one key with kid", `{"keys":[` + ec + `,"kid":"a"}]}`, true},
		{"two keys with kids", `{"keys":[` + ec + `,"kid":"a"},` + ec + `,"kid":"b"}]}`, true},
		{"two keys, one without kid", `{"keys":[` + ec + `,"kid":"a"},` + ec + `}]}`, false},
		{"two keys with one kid", `{"keys":[` + ec + `,"kid":"a"},` + ec + `,"kid":"a"}]}`, false},
		{"private member d", `{"keys":[` + ec + `,"d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}]}`, false},
		{"symmetric key", `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`, false},
		{"encryption key beside a signing key", `{"keys":[` + ec + `,"kid":"a"},` + ec + `,"kid":"b","use":"enc"}]}`, false},
		{"17 keys", `{"keys":[` + strings.TrimSuffix(strings.Repeat(ec+`,"kid":"k"},`, 17), ",") + `]}`, false},
		{"no keys", `{"keys":[]}`, false},
		{"a single JWK, not a set", ec + `}`, false},
		{"not JSON", `keys`, false},
		{"too large", `{"keys":[` + ec + `}],"x":"` + strings.Repeat("a", store.MaxClientJWKSBytes) + `"}`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := store.ValidateClientJWKS([]byte(tt.doc))
			if (err == nil) != tt.ok {
				t.Errorf("ValidateClientJWKS(%s) = %v; want ok %v", tt.name, err, tt.ok)
			}
		})
	}
}
