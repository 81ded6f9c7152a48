//go:build !race

package authserver

// raceEnabled reports a -race build, whose instrumentation may allocate:
// allocation counts are checked without it.
const raceEnabled = false
