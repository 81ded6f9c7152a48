package store_test

import (
	"fmt"

	"github.com/m2mkit/m2m/store"
)

func ExampleClient_Clone() {
	c := &store.Client{ID: "billing", Scopes: []string{"read"}, Metadata: map[string]string{"owner": "team-a"}}
	d := c.Clone()
	d.Scopes[0], d.Metadata["owner"] = "write", "team-b"
	fmt.Println(c.Scopes, c.Metadata["owner"], d.Scopes, d.Metadata["owner"])
	// Output: [read] team-a [write] team-b
}

func ExampleSigningKey_Clone() {
	k := &store.SigningKey{ID: "k1", State: store.KeyActive, PrivateKey: []byte{1, 2, 3}}
	d := k.Clone()
	d.PrivateKey[0], d.State = 9, store.KeyRetiring
	fmt.Println(k.PrivateKey, k.State, d.PrivateKey, d.State)
	// Output: [1 2 3] active [9 2 3] retiring
}
