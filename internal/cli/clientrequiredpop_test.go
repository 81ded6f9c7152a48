package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/m2mkit/m2m/authserver"
)

// TestClientCreateRequireDPoP registers clients with and without
// --require-dpop and checks that the requirement is stored (client show
// reads it back from the database) and shown only when set.
func TestClientCreateRequireDPoP(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if code, _, stderr := run(t, nil, "", "init", "--data", data); code != 0 {
		t.Fatalf("m2m init: exit %d: %s", code, stderr)
	}
	for _, tc := range []struct {
		id      string
		args    []string
		require bool
	}{
		{"bound", []string{"--require-dpop"}, true},
		{"plain", nil, false},
	} {
		t.Run(tc.id, func(t *testing.T) {
			args := append([]string{"client", "create", "--data", data, "--name", "w", "--audience", "https://api.example.com", "--id", tc.id, "--json"}, tc.args...)
			if code, stdout, stderr := run(t, nil, "", args...); code != 0 || strings.Contains(stdout, `"dpop_bound_access_tokens":true`) != tc.require {
				t.Fatalf("client create %s = exit %d\nstdout: %s\nstderr: %s\nwant dpop_bound_access_tokens %t", strings.Join(tc.args, " "), code, stdout, stderr, tc.require)
			}
			code, stdout, stderr := run(t, nil, "", "client", "show", "--data", data, tc.id)
			if code != 0 || strings.Contains(stdout, "require_dpop:") != tc.require {
				t.Errorf("client show %s = exit %d\nstdout: %s\nstderr: %s\nwant require_dpop shown: %t", tc.id, code, stdout, stderr, tc.require)
			}
		})
	}
}

// TestCreateRequestRequireDPoP checks the admin API body that client
// create sends to a remote server: dpop_bound_access_tokens only when set.
func TestCreateRequestRequireDPoP(t *testing.T) {
	for _, require := range []bool{true, false} {
		m := createRequest(authserver.ClientInfo{Name: "w", Audiences: []string{"a"}, DPoPBoundAccessTokens: require})
		v, ok := m["dpop_bound_access_tokens"]
		if ok != require || (ok && v != true) {
			t.Errorf("createRequest(DPoPBoundAccessTokens=%t)[dpop_bound_access_tokens] = %v, %t; want present %t", require, v, ok, require)
		}
	}
}
