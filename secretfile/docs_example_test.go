package secretfile_test

import (
	"log"

	"github.com/m2mkit/m2m/secretfile"
)

// docs/device.md: the device's signing secret. (Compiled, not run: it
// names a system path.)
func Example_docsLoadOrCreate() {
	keys, err := secretfile.LoadOrCreate("/var/lib/camera/secret.bin", 32)
	if err != nil {
		log.Fatal(err) // e.g. "secretfile: …/secret.bin is accessible by group or others (mode 0644); run: chmod 600 …"
	}
	// keys.Current signs; keys.All() = current + previous secrets, for verifying.
	_ = keys
}
