package m2m_test

import (
	"testing"

	"github.com/m2mkit/m2m"
)

// TestSchemeNames checks that each Scheme constant's value is its own
// name, in lower case: the value is what logs, metrics labels, error
// texts and CLI output show, and a reader finds the constant from it.
func TestSchemeNames(t *testing.T) {
	tests := []struct {
		constant, value string
	}{
		{"bearer", m2m.SchemeBearer},
		{"basic", m2m.SchemeBasic},
		{"rolling", m2m.SchemeRolling},
		{"dynamic", m2m.SchemeDynamic},
		{"scoped", m2m.SchemeScoped},
	}
	for _, tt := range tests {
		if tt.value != tt.constant {
			t.Errorf("Scheme%s = %q; want %q", tt.constant, tt.value, tt.constant)
		}
	}
}
