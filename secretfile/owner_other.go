//go:build !unix

package secretfile

import "io/fs"

// checkOwner checks file ownership on Unix only.
func checkOwner(string, fs.FileInfo) error { return nil }
