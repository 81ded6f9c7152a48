package httpauth

import "net/http"

// A MultiChallenger is a Verifier that accepts a credential under more
// than one scheme, such as access tokens sent as "DPoP" (RFC 9449) or as
// "Bearer": [Middleware] writes all its challenges, in order, in place of
// the one of its Challenge method (which it need not have). err is as for
// [Challenger].
type MultiChallenger interface {
	Challenges(err error) []Challenge
}

// A HeaderChallenger is a Verifier whose refusals carry response header
// fields beside the challenges, such as the fresh DPoP-Nonce of a
// use_dpop_nonce refusal (RFC 9449 section 9). [Middleware.Refuse] calls
// it for every refusal, before OnError or the default response, with the
// error the refusal is for; it sets nothing for refusals that are not its
// own.
type HeaderChallenger interface {
	ChallengeHeader(r *http.Request, err error, h http.Header)
}
