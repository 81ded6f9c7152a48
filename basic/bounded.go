package basic

import (
	"context"
	"errors"
)

// Bounded returns [Users] that let at most n checks of u run at the same
// time; more callers wait for a free slot, or give up with ctx's error
// when ctx is done first (a technical failure, not a refusal). It bounds
// what a flood of Basic requests or logins can take: argon2id allocates
// its memory parameter for every check (19 MiB by default) and bcrypt
// keeps a core busy. n < 1 is treated as 1.
//
// The returned Users is safe for concurrent use when u is.
func Bounded(u Users, n int) Users {
	if n < 1 {
		n = 1
	}
	return &bounded{u: u, sem: make(chan struct{}, n)}
}

type bounded struct {
	u   Users
	sem chan struct{}
}

var _ Users = (*bounded)(nil)

func (b *bounded) Authenticate(ctx context.Context, user, pass string) (bool, error) {
	if b.u == nil {
		return false, errors.New("basic: Bounded has no Users")
	}
	select {
	case b.sem <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-b.sem }()
	return b.u.Authenticate(ctx, user, pass)
}
