//go:build unix

package secretfile

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkOwner refuses a file owned by anyone but the effective user or
// root (as OpenSSH does for private keys): a 0600 file that another user
// owns is a secret that user knows, readable here only because we run as
// root, or planted through a symlink.
func checkOwner(path string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := os.Geteuid(); int(st.Uid) != uid && st.Uid != 0 {
		return fmt.Errorf("secretfile: %s is owned by uid %d, not by uid %d or root; run: chown %d %s", path, st.Uid, uid, uid, path)
	}
	return nil
}
