package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestClientCreateMutualTLS registers mutual-TLS clients from the command
// line and checks that client show reads their certificate names back,
// and that a bad combination is refused naming the flag.
func TestClientCreateMutualTLS(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if code, _, stderr := run(t, nil, "", "init", "--data", data); code != 0 {
		t.Fatalf("m2m init: exit %d: %s", code, stderr)
	}
	base := []string{"client", "create", "--data", data, "--name", "w", "--audience", "https://api.example.com"}
	for _, tc := range []struct {
		id   string
		args []string
		show string // in client show's output; "" when refused
		flag string // named in the refusal
	}{
		{"subject", []string{"--auth-method", "tls_client_auth", "--tls-subject", "CN=worker,O=Example"}, "tls_subject:", ""},
		{"spiffe", []string{"--auth-method", "tls_client_auth", "--tls-san-uri", "spiffe://example.org/w"}, "tls_san_uri:", ""},
		{"bound", []string{"--require-certificate"}, "require_certificate:", ""},
		{"no-name", []string{"--auth-method", "tls_client_auth"}, "", "--tls-subject"},
		{"bad-subject", []string{"--auth-method", "tls_client_auth", "--tls-subject", "worker"}, "", "--tls-subject"},
		{"two-names", []string{"--auth-method", "tls_client_auth", "--tls-subject", "CN=w", "--tls-san-dns", "w.example"}, "", "--tls-subject"},
		{"secret-client", []string{"--tls-san-ip", "192.0.2.1"}, "", "--tls-san-ip"},
		{"creds-file", []string{"--auth-method", "tls_client_auth", "--tls-subject", "CN=w", "--credentials-file", filepath.Join(t.TempDir(), "c")}, "", "--credentials-file"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			code, stdout, stderr := run(t, nil, "", append(append(base, "--id", tc.id), tc.args...)...)
			if tc.show == "" {
				if code != 2 || !strings.Contains(stderr, tc.flag) {
					t.Errorf("client create %s = exit %d, %q; want 2 naming %s", strings.Join(tc.args, " "), code, stderr, tc.flag)
				}
				return
			}
			if code != 0 {
				t.Fatalf("client create %s = exit %d\nstdout: %s\nstderr: %s", strings.Join(tc.args, " "), code, stdout, stderr)
			}
			if _, out, _ := run(t, nil, "", "client", "show", "--data", data, tc.id); !strings.Contains(out, tc.show) {
				t.Errorf("client show %s = %s; want %s", tc.id, out, tc.show)
			}
		})
	}
}
