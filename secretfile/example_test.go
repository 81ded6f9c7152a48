package secretfile_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/m2mkit/m2m/secretfile"
)

func ExampleLoadOrCreate() {
	dir, _ := os.MkdirTemp("", "device")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "secret.bin")

	// First boot creates the secret; later boots read the same one.
	keys, err := secretfile.LoadOrCreate(path, 32)
	if err != nil {
		log.Fatal(err)
	}
	again, _ := secretfile.LoadOrCreate(path, 32)
	fmt.Println(len(keys.Current), secretfile.Fingerprint(keys.Current) == secretfile.Fingerprint(again.Current))
	// Output: 32 true
}

func ExampleRotate() {
	dir, _ := os.MkdirTemp("", "device")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "secret.bin")
	old, _ := secretfile.LoadOrCreate(path, 32)

	keys, err := secretfile.Rotate(path)
	if err != nil {
		log.Fatal(err)
	}
	// The old secret is now a fallback: it still verifies, it no longer signs.
	fmt.Println(len(keys.Fallbacks), string(keys.Fallbacks[0]) == string(old.Current))
	// Output: 1 true
}

func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "device")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "secret.bin")
	secretfile.LoadOrCreate(path, 32)
	secretfile.Rotate(path)

	keys, err := secretfile.Load(path, 32)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(keys.All()))
	// Output: 2
}

func ExampleFingerprint() {
	// Safe to print or log: identifies a secret without revealing it.
	fmt.Println(secretfile.Fingerprint([]byte("not a real secret"))[:16])
	// Output: 83c93fb75316d5a8
}

func ExampleKeys_All() {
	dir, _ := os.MkdirTemp("", "device")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "secret.bin")
	if _, err := secretfile.LoadOrCreate(path, 32); err != nil {
		log.Fatal(err)
	}
	keys, err := secretfile.Rotate(path)
	if err != nil {
		log.Fatal(err)
	}
	// A verifier tries the current secret first, then the fallbacks.
	fmt.Println(len(keys.All()), secretfile.Fingerprint(keys.All()[0]) == secretfile.Fingerprint(keys.Current))
	// Output: 2 true
}
