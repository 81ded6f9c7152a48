package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestReadSecret(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes are not checked on Windows")
	}
	dir := t.TempDir()
	secret := []byte("s3cr3t-value-that-must-not-leak\n")
	file := func(name string, data []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	private := file("private", secret, 0o600)
	readOnly := file("readonly", secret, 0o400)
	world := file("world", secret, 0o644)
	group := file("group", secret, 0o640)
	groupWrite := file("groupwrite", secret, 0o620)
	max := file("max", bytes.Repeat([]byte{'k'}, MaxSecretBytes), 0o600)
	big := file("big", bytes.Repeat([]byte{'k'}, MaxSecretBytes+1), 0o600)
	tests := []struct {
		name    string
		path    string
		env     map[string]string
		want    []byte
		code    int    // exit code of the error; 0: no error
		errWant string // substring of the error
	}{
		{"private file", private, nil, secret, 0, ""},
		{"read-only file", readOnly, nil, secret, 0, ""},
		{"file wins over M2M_SECRET", private, map[string]string{"M2M_SECRET": "env"}, secret, 0, ""},
		{"world-readable file", world, nil, nil, 1, "chmod 600 " + world},
		{"group-readable file", group, nil, nil, 1, "chmod 600 " + group},
		{"group-writable file", groupWrite, nil, nil, 1, "chmod 600 " + groupWrite},
		{"file of MaxSecretBytes", max, nil, bytes.Repeat([]byte{'k'}, MaxSecretBytes), 0, ""},
		{"file over MaxSecretBytes", big, nil, nil, 1, "at most 65536"},
		{"missing file", filepath.Join(dir, "nope"), nil, nil, 1, "reading secret file"},
		{"directory", dir, nil, nil, 1, "directory"},
		{"M2M_SECRET", "", map[string]string{"M2M_SECRET": "env secret"}, []byte("env secret"), 0, ""},
		{"M2M_SECRET over MaxSecretBytes", "", map[string]string{"M2M_SECRET": strings.Repeat("k", MaxSecretBytes+1)}, nil, 1, "at most 65536"},
		{"neither", "", nil, nil, 2, "no secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := &Env{LookupEnv: func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }}
			got, err := ReadSecret(env, tt.path)
			if tt.code == 0 {
				if err != nil || !bytes.Equal(got, tt.want) {
					t.Fatalf("ReadSecret(%q) = %d bytes, %v; want %d bytes, nil", tt.path, len(got), err, len(tt.want))
				}
				return
			}
			var ee *ExitError
			if got != nil || !errors.As(err, &ee) || ee.Code != tt.code || !strings.Contains(err.Error(), tt.errWant) {
				t.Fatalf("ReadSecret(%q) = %d bytes, %v; want exit %d with %q", tt.path, len(got), err, tt.code, tt.errWant)
			}
			if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "kkkk") {
				t.Errorf("ReadSecret(%q) error = %v; holds the secret", tt.path, err)
			}
		})
	}
}
