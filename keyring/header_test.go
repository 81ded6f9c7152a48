package keyring

import (
	"testing"

	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/store/memstore"
)

// TestSignHeaders checks that every token type, those whose encoded
// header each key keeps and any other, gets exactly the header
// {"alg","kid","typ"} that jws.HeaderJSON writes, also after a refresh
// reuses the parsed key.
func TestSignHeaders(t *testing.T) {
	k := mustNew(t, testConfig(memstore.New(), newClock()))
	for round := range 2 {
		for _, typ := range []string{"at+jwt", "JWT", "", "dpop+jwt"} {
			token, kid, err := k.Sign(typ, []byte(`{"sub":"c"}`))
			if err != nil {
				t.Fatalf("Sign(%q) = %v", typ, err)
			}
			tok, err := jws.Parse(token, 0)
			if err != nil {
				t.Fatal(err)
			}
			if want := jws.HeaderJSON(tok.Header.Alg, kid, typ); string(tok.RawHeader) != string(want) {
				t.Errorf("round %d: Sign(%q) header = %s; want %s", round, typ, tok.RawHeader, want)
			}
			verify(t, k.JWKS(), token)
		}
		if err := k.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}
