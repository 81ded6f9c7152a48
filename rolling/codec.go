package rolling

import "time"

// A Codec is a rolling-code algorithm bound to one seed: it derives the
// code valid at a time and checks a presented code. [*HMAC] (the secure
// default) and [*M2MToken] (compatibility) implement it. Implementations
// are safe for concurrent use.
type Codec interface {
	// Generate returns the code valid at now.
	Generate(now time.Time) (string, error)
	// Match checks code against the codes valid at now and up to window
	// steps before (and, where the algorithm allows, after) it, comparing
	// in constant time. It returns [ErrNoMatch] when none matches.
	Match(code string, now time.Time, window int) (Match, error)
	// Entropy is the number of bits in a code under the configuration.
	Entropy() float64
}

// Match is the outcome of a successful [Codec.Match].
type Match struct {
	// Step identifies the matching code: the RFC 6238 time step for HMAC,
	// the timestamp mixed into the seed for m2m_token. Each code has its
	// own Step, so (key id, Step) names a code for replay protection.
	Step int64
	// Offset is the matching step relative to the current one (0 for the
	// current step, -1 for the previous, +1 for the next).
	Offset int
	// Expires is when the code stops being acceptable; a replay cache
	// must remember it until then.
	Expires time.Time
}
