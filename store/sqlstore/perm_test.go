package sqlstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/m2mkit/m2m/store/sqlstore"
)

// TestOpenWarnsLoosePermissions checks that an existing SQLite file that
// group or others may read is opened (existing installs keep working) and
// reported by Warnings with its chmod fix, and that a private one is not.
func TestOpenWarnsLoosePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("mode bits mean nothing on Windows")
	}
	for _, tc := range []struct {
		name string
		mode os.FileMode // of the existing file; 0 for none
		want bool
	}{
		{"new file", 0, false},
		{"0600", 0o600, false},
		{"0640 group-readable", 0o640, true},
		{"0604 world-readable", 0o604, true},
		{"0644", 0o644, true},
		{"0620 group-writable", 0o620, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m2m.db")
			if tc.mode != 0 {
				// An existing database whose mode is then changed.
				openSQLite(t, path).Close()
				if err := os.Chmod(path, tc.mode); err != nil {
					t.Fatal(err)
				}
			}
			s := openSQLite(t, path)
			w := s.Warnings()
			if got := len(w) > 0; got != tc.want {
				t.Fatalf("Open(file with mode %04o).Warnings() = %q; want warnings %v", tc.mode, w, tc.want)
			}
			if tc.want && (!strings.Contains(w[0], path) || !strings.Contains(w[0], "chmod 600 "+path)) {
				t.Errorf("Warnings()[0] = %q; want the path and the chmod 600 fix", w[0])
			}
		})
	}
}

func ExampleStore_Warnings() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "m2m-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "m2m.db")
	// An existing database file that everyone may read.
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		log.Fatal(err)
	}
	os.Chmod(path, 0o644)
	s, err := sqlstore.Open(ctx, path)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	for _, w := range s.Warnings() {
		fmt.Println(strings.ReplaceAll(w, dir, "DIR"))
	}
	// Output: sqlstore: DIR/m2m.db has mode 0644: group or others can read the credentials it holds; fix with: chmod 600 DIR/m2m.db
}
