//go:build !race

package jws

// raceEnabled reports a -race build, whose instrumentation allocates and
// whose sync.Pool drops items at random: allocation counts are checked
// without it.
const raceEnabled = false
