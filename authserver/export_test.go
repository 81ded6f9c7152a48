package authserver

import "github.com/m2mkit/m2m/internal/vcache"

// SetCompareHook makes f run before every client secret comparison until
// the returned function is called.
func SetCompareHook(f func()) (restore func()) {
	compareHook = f
	return func() { compareHook = nil }
}

// IntrospectionCached reports whether s remembers token as verified.
func IntrospectionCached(s *Server, token string) bool {
	_, ok := s.introspected.Get(vcache.Digest(token))
	return ok
}

// RaceEnabled reports a -race build to the external tests.
const RaceEnabled = raceEnabled
