package authserver

import "testing"

// Client ids are passed as command-line arguments; one starting with '-'
// would be parsed as a flag ("m2m client disable -abc").
func TestNewClientIDNeverLooksLikeAFlag(t *testing.T) {
	for range 20000 {
		id, err := NewClientID()
		if err != nil {
			t.Fatal(err)
		}
		if len(id) != 22 || id[0] == '-' || id[0] == '_' {
			t.Fatalf("NewClientID() = %q; want 22 characters not starting with '-' or '_'", id)
		}
	}
}
