package authserver

// SetCompareHook makes f run before every client secret comparison until
// the returned function is called.
func SetCompareHook(f func()) (restore func()) {
	compareHook = f
	return func() { compareHook = nil }
}
