package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestAdminInputValidated checks that client create refuses, as a usage
// error naming the flag and before touching the database, every input
// the admin API refuses (authserver.ValidateClient), and that the
// CLIENT_ID argument of the other client commands is checked the same way.
func TestAdminInputValidated(t *testing.T) {
	data := filepath.Join(t.TempDir(), "d")
	if code, _, stderr := run(t, nil, "", "init", "--data", data); code != 0 {
		t.Fatalf("m2m init = %d, %s", code, stderr)
	}
	base := []string{"client", "create", "--data", data, "--name", "n", "--audience", "https://api.example.com"}
	for _, tc := range []struct {
		name string
		args []string
		flag string
	}{
		{"id with a slash", []string{"--id", "a/b"}, "--id"},
		{"id with a newline", []string{"--id", "a\nb"}, "--id"},
		{"id of 10 KB", []string{"--id", strings.Repeat("a", 10240)}, "--id"},
		{"name with a control character", []string{"--name", "a\x1bb"}, "--name"},
		{"audience with a space", []string{"--audience", "a b"}, "--audience"},
		{"scope with NBSP", []string{"--scope", "read\u00a0admin"}, "--scope"},
		{"scope with a quote", []string{"--scope", `a"b`}, "--scope"},
		{"lifetime beyond the server's", []string{"--ttl", "100000h"}, "--ttl"},
		{"lifetime that overflows", []string{"--ttl", "9999999999h"}, "--ttl"},
		{"sub-second lifetime", []string{"--ttl", "500ms"}, "--ttl"},
		{"rate 1e-300", []string{"--rate-limit", "1e-300"}, "--rate-limit"},
		{"rate NaN", []string{"--rate-limit", "NaN"}, "--rate-limit"},
		{"rate Inf", []string{"--rate-limit", "Inf"}, "--rate-limit"},
		{"negative rate", []string{"--rate-limit", "-1"}, "--rate-limit"},
		{"burst too large", []string{"--rate-limit", "1", "--burst", "2000000000"}, "--burst"},
		{"profile", []string{"--profile", "hydra"}, "--profile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{}, base...), tc.args...)
			code, stdout, stderr := run(t, nil, "", args...)
			if code != 2 || stdout != "" || !strings.Contains(stderr, tc.flag) {
				t.Errorf("m2m client create %s = exit %d, %q, %q; want exit 2 naming %s", tc.name, code, stdout, stderr, tc.flag)
			}
			if len(stderr) > 1000 {
				t.Errorf("m2m client create %s: %d bytes of error; want the value cut short", tc.name, len(stderr))
			}
		})
	}
	if _, out, _ := run(t, nil, "", "client", "list", "--data", data, "--json"); out != "{\"clients\":[]}\n" {
		t.Errorf("after the refusals, client list = %q; want no client", out)
	}
	for _, id := range []string{"a/b", "a\nb", strings.Repeat("x", 10240), "../../admin"} {
		for _, cmd := range []string{"show", "disable", "enable", "delete", "rotate-secret", "revoke-tokens"} {
			code, _, stderr := run(t, nil, "", "client", cmd, id, "--data", data)
			if code != 2 || !strings.Contains(stderr, "not a client id") || len(stderr) > 300 {
				t.Errorf("m2m client %s %.20q = exit %d, %.200q; want exit 2: not a client id", cmd, id, code, stderr)
			}
		}
	}
}

// TestRevokeJTIValidated checks that m2m revoke --jti refuses what no jti
// of the server looks like, before any store is opened.
func TestRevokeJTIValidated(t *testing.T) {
	for _, jti := range []string{"a\nb", "a b", "é", strings.Repeat("j", 257)} {
		code, _, stderr := run(t, nil, "", "revoke", "--jti", jti, "--until", "1", "--data", t.TempDir())
		if code != 2 || !strings.Contains(stderr, "--jti") {
			t.Errorf("m2m revoke --jti %.20q = exit %d, %q; want exit 2 naming --jti", jti, code, stderr)
		}
	}
}

// TestRotateGraceBounded checks that client rotate-secret --grace is
// bounded as the admin API's grace_seconds is (authserver.MaxSecretGrace).
func TestRotateGraceBounded(t *testing.T) {
	data := filepath.Join(t.TempDir(), "d")
	run(t, nil, "", "init", "--data", data)
	run(t, nil, "", "client", "create", "--data", data, "--name", "n", "--audience", "a", "--id", "c1")
	for _, tc := range []struct {
		grace string
		code  int
	}{{"721h", 2}, {"87600h", 2}, {"-1s", 2}, {"720h", 0}, {"0s", 0}} {
		code, _, stderr := run(t, nil, "", "client", "rotate-secret", "c1", "--data", data, "--grace", tc.grace)
		if code != tc.code {
			t.Errorf("client rotate-secret --grace %s = %d, %q; want %d", tc.grace, code, stderr, tc.code)
		}
	}
}
