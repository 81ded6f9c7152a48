// Package m2m is the shared vocabulary of the m2m toolkit for
// machine-to-machine authentication: the [Principal] a request
// authenticated as, the [Verifier] interface every scheme implements, the
// three kinds of verification outcome ([ErrNoCredentials],
// [ErrInvalidCredentials] with a stable [Reason], and technical failures),
// and the request-context helpers [NewContext] and [FromContext].
//
// The package uses only the standard library. Scheme packages (rolling,
// dynamic, scoped, jwtauth, basic) implement [Verifier]; package httpauth
// turns a list of verifiers into HTTP middleware.
package m2m
