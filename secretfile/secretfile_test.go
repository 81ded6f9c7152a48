package secretfile_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/m2mkit/m2m/secretfile"
)

func TestLoadOrCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.bin")
	k1, err := secretfile.LoadOrCreate(path, 0)
	if err != nil {
		t.Fatalf("LoadOrCreate = %v", err)
	}
	if len(k1.Current) != secretfile.DefaultSize || len(k1.Fallbacks) != 0 {
		t.Fatalf("LoadOrCreate = %d bytes, %d fallbacks; want %d, 0", len(k1.Current), len(k1.Fallbacks), secretfile.DefaultSize)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %04o; want 0600", fi.Mode().Perm())
	}
	k2, err := secretfile.LoadOrCreate(path, 0)
	if err != nil {
		t.Fatalf("second LoadOrCreate = %v", err)
	}
	if !bytes.Equal(k1.Current, k2.Current) {
		t.Errorf("second LoadOrCreate returned a different secret")
	}
	if bytes.Equal(k1.Current, make([]byte, len(k1.Current))) {
		t.Errorf("secret is all zeros")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries; want only the secret (temporary files left behind?)", len(entries))
	}
}

// TestLoadOrCreateRace starts many creators at once; all must agree.
func TestLoadOrCreateRace(t *testing.T) {
	for round := range 20 {
		path := filepath.Join(t.TempDir(), "secret.bin")
		const n = 8
		got := make([][]byte, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				k, err := secretfile.LoadOrCreate(path, 32)
				errs[i] = err
				if err == nil {
					got[i] = k.Current
				}
			})
		}
		close(start)
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d: LoadOrCreate #%d = %v", round, i, errs[i])
			}
			if !bytes.Equal(got[i], got[0]) {
				t.Fatalf("round %d: creators disagree on the secret", round)
			}
		}
	}
}

// TestLoadOrCreateProcesses races real processes (the test binary itself).
func TestLoadOrCreateProcesses(t *testing.T) {
	if path := os.Getenv("SECRETFILE_HELPER_PATH"); path != "" {
		k, err := secretfile.LoadOrCreate(path, 32)
		if err != nil {
			os.Stderr.WriteString(err.Error())
			os.Exit(3)
		}
		os.Stdout.WriteString(secretfile.Fingerprint(k.Current))
		os.Exit(0)
	}
	if testing.Short() {
		t.Skip("starts processes")
	}
	path := filepath.Join(t.TempDir(), "secret.bin")
	const n = 4
	cmds := make([]*exec.Cmd, n)
	outs := make([]*bytes.Buffer, n)
	for i := range n {
		cmds[i] = exec.Command(os.Args[0], "-test.run=^TestLoadOrCreateProcesses$")
		cmds[i].Env = append(os.Environ(), "SECRETFILE_HELPER_PATH="+path)
		outs[i] = new(bytes.Buffer)
		cmds[i].Stdout = outs[i]
		cmds[i].Stderr = outs[i]
	}
	for _, c := range cmds {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("process %d: %v: %s", i, err, outs[i])
		}
	}
	for i := range n {
		if outs[i].String() != outs[0].String() {
			t.Fatalf("process %d printed %q; process 0 printed %q", i, outs[i], outs[0])
		}
	}
}

func TestRefused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no unix permissions")
	}
	dir := t.TempDir()
	tests := []struct {
		name    string
		content []byte
		mode    os.FileMode
		size    int
		want    string
	}{
		{"group readable", make([]byte, 32), 0o640, 32, "chmod 600"},
		{"world readable", make([]byte, 32), 0o604, 32, "chmod 600"},
		{"wrong size", make([]byte, 31), 0o600, 32, "holds 31 bytes; want 32"},
		{"too short for any size", make([]byte, 8), 0o600, 0, "want at least 16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
			if err := os.WriteFile(path, tt.content, tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			var err error
			if tt.size == 0 {
				_, err = secretfile.Load(path, 0)
			} else {
				_, err = secretfile.LoadOrCreate(path, tt.size)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("LoadOrCreate/Load = %v; want an error containing %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

// TestRefusedForeignOwner plants a 0600 secret owned by another user (as
// one could through a symlink in a shared directory): a process that can
// read it, running as root, must refuse it rather than sign with a secret
// that user knows. Needs root to chown.
func TestRefusedForeignOwner(t *testing.T) {
	if runtime.GOOS == "windows" || os.Geteuid() != 0 {
		t.Skip("needs root on Unix to give a file to another user")
	}
	dir := t.TempDir()
	planted := filepath.Join(dir, "planted")
	if err := os.WriteFile(planted, make([]byte, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(planted, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "secret.bin")
	if err := os.Symlink(planted, path); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{planted, path} {
		if _, err := secretfile.LoadOrCreate(p, 32); err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
			t.Errorf("LoadOrCreate(%s owned by uid 65534) = %v; want an ownership error", p, err)
		}
	}
	// A fallback file owned by another user is refused too.
	own := filepath.Join(dir, "own")
	if _, err := secretfile.LoadOrCreate(own, 32); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(own+secretfile.PrevSuffix, make([]byte, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(own+secretfile.PrevSuffix, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := secretfile.Load(own, 32); err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Errorf("Load with a fallback file owned by uid 65534 = %v; want an ownership error", err)
	}
}

func TestBadSize(t *testing.T) {
	for _, n := range []int{-1, 8, secretfile.MaxSize + 1} {
		if _, err := secretfile.LoadOrCreate(filepath.Join(t.TempDir(), "s"), n); err == nil {
			t.Errorf("LoadOrCreate(size %d) = nil error; want an error", n)
		}
	}
}

func TestRotate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.bin")
	k, err := secretfile.LoadOrCreate(path, 32)
	if err != nil {
		t.Fatal(err)
	}
	history := [][]byte{k.Current}
	for i := range secretfile.MaxFallbacks + 2 {
		r, err := secretfile.Rotate(path)
		if err != nil {
			t.Fatalf("Rotate #%d = %v", i, err)
		}
		history = append([][]byte{r.Current}, history...)
		loaded, err := secretfile.Load(path, 32)
		if err != nil {
			t.Fatalf("Load = %v", err)
		}
		if !bytes.Equal(loaded.Current, r.Current) {
			t.Fatalf("Load after Rotate: current differs from Rotate's")
		}
		wantFallbacks := min(len(history)-1, secretfile.MaxFallbacks)
		if len(loaded.Fallbacks) != wantFallbacks {
			t.Fatalf("after %d rotations: %d fallbacks; want %d", i+1, len(loaded.Fallbacks), wantFallbacks)
		}
		for j, f := range loaded.Fallbacks {
			if !bytes.Equal(f, history[j+1]) {
				t.Fatalf("after %d rotations: fallback %d is not the secret from %d rotations ago", i+1, j, j+1)
			}
		}
		if all := loaded.All(); len(all) != wantFallbacks+1 || !bytes.Equal(all[0], r.Current) {
			t.Fatalf("All() has %d secrets", len(all))
		}
		fi, err := os.Stat(path + secretfile.PrevSuffix)
		if err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
			t.Errorf("fallback file mode = %04o; want 0600", fi.Mode().Perm())
		}
	}
	// Delete and recreate: the old fallbacks must not survive.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	fresh, err := secretfile.LoadOrCreate(path, 32)
	if err != nil {
		t.Fatal(err)
	}
	if len(fresh.Fallbacks) != 0 {
		t.Fatalf("after delete and LoadOrCreate: %d fallbacks; want 0", len(fresh.Fallbacks))
	}
	if _, err := os.Stat(path + secretfile.PrevSuffix); !os.IsNotExist(err) {
		t.Errorf("fallback file still exists after recreation: %v", err)
	}
}

func TestRotateMissing(t *testing.T) {
	if _, err := secretfile.Rotate(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Fatal("Rotate of a missing file = nil error")
	}
}

func TestLoadCorruptFallbacks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.bin")
	if _, err := secretfile.LoadOrCreate(path, 32); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+secretfile.PrevSuffix, make([]byte, 33), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := secretfile.Load(path, 32); err == nil || !strings.Contains(err.Error(), "multiple") {
		t.Fatalf("Load with a 33-byte fallback file = %v; want an error", err)
	}
}

func TestFingerprint(t *testing.T) {
	if got, want := secretfile.Fingerprint([]byte("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("Fingerprint(abc) = %s; want %s", got, want)
	}
}

// TestWritePrivate checks that WritePrivate writes a 0600 file, refuses
// to overwrite without replace, replaces with it, and leaves no temporary
// file behind.
func TestWritePrivate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "creds.json")
	for _, tc := range []struct {
		data    string
		replace bool
		wantErr bool
		want    string
	}{
		{"one", false, false, "one"},
		{"two", false, true, "one"},
		{"three", true, false, "three"},
	} {
		err := secretfile.WritePrivate(path, []byte(tc.data), tc.replace)
		if (err != nil) != tc.wantErr || (tc.wantErr && !errors.Is(err, fs.ErrExist)) {
			t.Fatalf("WritePrivate(%q, replace %v) = %v; want error %v", tc.data, tc.replace, err, tc.wantErr)
		}
		b, err := os.ReadFile(path)
		if err != nil || string(b) != tc.want {
			t.Fatalf("after WritePrivate(%q, replace %v): file = %q, %v; want %q", tc.data, tc.replace, b, err, tc.want)
		}
		if fi, _ := os.Stat(path); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
			t.Errorf("mode = %04o; want 0600", fi.Mode().Perm())
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries; want only the file", len(entries))
	}
}
