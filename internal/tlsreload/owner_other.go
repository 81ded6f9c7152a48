//go:build !unix

package tlsreload

import "os"

// ownedByRoot is false where files have no Unix owner.
func ownedByRoot(os.FileInfo) bool { return false }
