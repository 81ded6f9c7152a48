package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m/internal/testbackend"
)

// adminCommands are the admin commands that work on a server's database,
// each as arguments after which --data or --database comes.
var adminCommands = [][]string{
	{"client", "create", "--name", "n", "--audience", "a"},
	{"client", "list"},
	{"client", "show", "x"},
	{"client", "rotate-secret", "x"},
	{"client", "disable", "x"},
	{"client", "enable", "x"},
	{"client", "delete", "x"},
	{"client", "revoke-tokens", "x"},
	{"key", "list"},
	{"key", "rotate"},
	{"key", "revoke", "k1"},
	{"revoke", "--jti", "j", "--until", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)},
}

// TestAdminCommandsNeedExistingData runs every admin command on a data
// directory that does not exist, on one without a database and on a
// PostgreSQL schema without m2m's tables: each fails with exit 1 naming
// where it looked, and creates nothing.
func TestAdminCommandsNeedExistingData(t *testing.T) {
	var pg string
	if os.Getenv("M2M_TEST_POSTGRES_DSN") != "" {
		pg = testbackend.PostgresSchema(t, "m2m_cli_")
	}
	for _, args := range adminCommands {
		name := strings.Join(args[:2], " ")
		t.Run(name+" missing dir", func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "m2m-data")
			code, stdout, stderr := run(t, nil, "", append(args, "--data", dir)...)
			if code != 1 || stdout != "" || !strings.Contains(stderr, dir+" does not exist") {
				t.Errorf("m2m %s --data MISSING = exit %d, %q, %q; want exit 1 saying it does not exist", name, code, stdout, stderr)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("m2m %s --data MISSING created %s", name, dir)
			}
		})
		t.Run(name+" empty dir", func(t *testing.T) {
			dir := t.TempDir()
			code, _, stderr := run(t, nil, "", append(args, "--data", dir)...)
			if code != 1 || !strings.Contains(stderr, "no m2m database") {
				t.Errorf("m2m %s --data EMPTY = exit %d, %q; want exit 1 saying there is no m2m database", name, code, stderr)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("m2m %s --data EMPTY created %v", name, entries)
			}
		})
		if pg == "" {
			continue
		}
		t.Run(name+" postgres without tables", func(t *testing.T) {
			code, stdout, stderr := run(t, nil, "", append(args, "--database", pg, "--data", t.TempDir())...)
			if code != 1 || !strings.Contains(stderr, "no m2m tables") || strings.Contains(stdout+stderr, "postgres://") {
				t.Errorf("m2m %s --database EMPTY = exit %d, %q; want exit 1 saying there are no m2m tables, without the URL", name, code, stderr)
			}
		})
	}
	if pg != "" {
		// Still no tables: the refusals created none.
		code, _, stderr := run(t, nil, "", "client", "list", "--database", pg)
		if code != 1 || !strings.Contains(stderr, "no m2m tables") {
			t.Errorf("after the refusals: client list --database = exit %d, %q; want still no m2m tables", code, stderr)
		}
	}
}

// TestCredentialsFile checks that client create and rotate-secret write
// the client's credentials 0600 and atomically with --credentials-file,
// never print the secret then, refuse to overwrite on create, and that
// m2m token reads only a private credentials file.
func TestCredentialsFile(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "d")
	if code, _, stderr := run(t, nil, "", "init", "--data", data); code != 0 {
		t.Fatalf("m2m init = %d, %s", code, stderr)
	}
	creds := filepath.Join(dir, "creds.json")
	code, stdout, stderr := run(t, nil, "", "client", "create", "--data", data, "--name", "n", "--audience", "a", "--id", "c1", "--credentials-file", creds, "--json")
	if code != 0 {
		t.Fatalf("client create --credentials-file = %d, %s", code, stderr)
	}
	var printed map[string]any
	if err := json.Unmarshal([]byte(stdout), &printed); err != nil || printed["client_secret"] != nil {
		t.Errorf("client create --credentials-file --json printed %q; want the client without its secret", stdout)
	}
	read := func() (id, secret string) {
		t.Helper()
		fi, err := os.Stat(creds)
		if err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %04o; want 0600", creds, fi.Mode().Perm())
		}
		b, _ := os.ReadFile(creds)
		var c struct {
			ID     string `json:"client_id"`
			Secret string `json:"client_secret"`
		}
		if err := json.Unmarshal(b, &c); err != nil || c.ID != "c1" || len(c.Secret) < 40 {
			t.Fatalf("%s = %q; want client c1 and its secret", creds, b)
		}
		return c.ID, c.Secret
	}
	_, s1 := read()
	if strings.Contains(stdout, s1) {
		t.Errorf("client create --credentials-file printed the secret")
	}
	// create never overwrites (and creates no client when it would).
	code, _, stderr = run(t, nil, "", "client", "create", "--data", data, "--name", "n", "--audience", "a", "--id", "c2", "--credentials-file", creds)
	if code != 2 || !strings.Contains(stderr, "exists") {
		t.Errorf("client create onto an existing --credentials-file = %d, %q; want exit 2", code, stderr)
	}
	if code, _, _ := run(t, nil, "", "client", "show", "c2", "--data", data); code != 1 {
		t.Errorf("client c2 was created although its credentials could not be written")
	}
	// rotate-secret replaces it.
	if code, stdout, stderr := run(t, nil, "", "client", "rotate-secret", "c1", "--data", data, "--grace", "0s", "--credentials-file", creds); code != 0 || strings.Contains(stdout, s1) {
		t.Fatalf("rotate-secret --credentials-file = %d, %q, %q", code, stdout, stderr)
	}
	if _, s2 := read(); s2 == s1 || strings.Contains(stdout, s2) {
		t.Errorf("rotate-secret --credentials-file: secret unchanged or printed")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("%s holds %d entries; want d and creds.json only (no temporary file left)", dir, len(entries))
	}
	// m2m token reads a credentials file as a secret file.
	if err := os.Chmod(creds, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = run(t, nil, "", "token", "--credentials-file", creds, "--token-url", "http://127.0.0.1:1/t", "--audience", "a")
	if runtime.GOOS != "windows" && (code != 1 || !strings.Contains(stderr, "chmod 600 "+creds)) {
		t.Errorf("token --credentials-file (mode 0644) = %d, %q; want exit 1 with the chmod fix", code, stderr)
	}
}

// TestAdminTokenForms checks the one form of the admin token: a file
// (--admin-token-file, M2M_ADMIN_TOKEN_FILE) as m2m serve writes it, or
// the token value in M2M_ADMIN_TOKEN; anything else is refused clearly.
func TestAdminTokenForms(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		env  map[string]string
		file string
		want string
	}{
		{"value too short", map[string]string{"M2M_ADMIN_TOKEN": "abc"}, "", "M2M_ADMIN_TOKEN: want the admin token"},
		{"a path in the value variable", map[string]string{"M2M_ADMIN_TOKEN": "/etc/m2m/admin.token"}, "", "set M2M_ADMIN_TOKEN_FILE"},
		{"missing file", nil, filepath.Join(dir, "none"), "no admin token for --server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"client", "list", "--server", "http://127.0.0.1:1", "--data", dir}
			if tc.file != "" {
				args = append(args, "--admin-token-file", tc.file)
			}
			code, _, stderr := run(t, tc.env, "", args...)
			if code == 0 || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "/etc/m2m/admin.token") && tc.env != nil && strings.Contains(stderr, tc.env["M2M_ADMIN_TOKEN"]+"\"") {
				t.Errorf("%s: exit %d, %q; want a refusal saying %q", tc.name, code, stderr, tc.want)
			}
		})
	}
}
