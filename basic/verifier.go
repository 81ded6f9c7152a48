package basic

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/clientaddr"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/internal/logattr"
	"github.com/m2mkit/m2m/ratelimit"
)

// DefaultRealm is the realm of a [Verifier] whose Realm is empty.
const DefaultRealm = "m2m"

// Verifier authenticates requests with HTTP Basic credentials (RFC 7617).
// Exactly one of Users and Check must be set; otherwise Verify fails with
// a configuration error (a technical failure, never an acceptance).
//
// A Verifier is safe for concurrent use once configured, provided Users,
// Check and Throttle are.
type Verifier struct {
	// Realm is the realm in the challenge; "" means [DefaultRealm].
	Realm string
	// Charset is the charset parameter of the challenge; "" means
	// "UTF-8", the only value RFC 7617 defines. Credentials are always
	// decoded as UTF-8.
	Charset string
	// Scheme is the auth-scheme named in the challenge; "" means "Basic".
	// Strict mode also accepts credentials sent under this scheme besides
	// "Basic" (for APIs that rename the scheme to keep browsers from
	// showing their login dialog); scheme names are compared
	// case-insensitively (RFC 7235). In Lenient mode only the exact,
	// case-sensitive prefix "Basic " is accepted, as in microdot, whose
	// scheme parameter shapes only the challenge.
	Scheme string

	// Users checks user name and password; the Principal is the user
	// name with scheme m2m.SchemeBasic and no scopes.
	Users Users
	// Check, the alternative to Users, receives the decoded user name and
	// password (like microdot's BasicAuth callback) and returns the
	// Principal (its Scheme is set to m2m.SchemeBasic when empty), nil and
	// nil for wrong credentials, an error wrapping
	// m2m.ErrInvalidCredentials for a refusal with its own reason, or
	// another error for a technical failure. It must compare secrets in
	// constant time and do the same work for unknown users.
	Check func(r *http.Request, user, pass string) (*m2m.Principal, error)

	// Lenient selects microdot 2.x compatibility: the exact prefix
	// "Basic ", base64 decoded like Python's binascii.a2b_base64 (junk
	// characters skipped, data after complete padding ignored) and
	// control characters allowed ([ParseCredentialsLenient]). The default
	// is strict RFC 7617 parsing ([ParseCredentials]).
	Lenient bool

	// Throttle, if set, refuses a user name or a client address after
	// repeated failures with m2m.ReasonThrottled (HTTP 429 with
	// Retry-After) before any password is checked. Keys are "user:NAME"
	// and "addr:" + clientaddr.Key of the client address (IPv6 counted
	// per /64). Nil means no throttling.
	//
	// The user key is checked first and always applies: it bounds the
	// guesses against one password. The address key bounds guesses spread
	// over many users (password spraying); so that one misbehaving client
	// behind a NAT or proxy cannot lock out the others, it does not refuse
	// a user who has succeeded from that address within the Throttle's
	// SuccessMemory (recorded with Throttle.Succeed on every success). A
	// user with no recent success there is throttled with the address.
	//
	// Attempts for one key take turns from the throttle check to the
	// recorded failure, so a burst of concurrent guesses gets no more
	// tries than the same guesses sent one at a time; the price is that
	// requests for one user name or address (or sharing its lock stripe)
	// wait for each other's password check. Replicas sharing one Limiter
	// each let one attempt per key through at a time. A failure that the
	// Throttle cannot record is a technical error (wrapping
	// m2m.ErrUnavailable, HTTP 503), never an uncounted refusal.
	Throttle *ratelimit.Throttle
	// TrustedProxies are the proxies whose Forwarded / X-Forwarded-For
	// headers name the client address the Throttle counts (see
	// [clientaddr.TrustedProxies.ClientAddr]); nil means the TCP peer is
	// the client and those headers are ignored.
	TrustedProxies clientaddr.TrustedProxies
	// Logger receives an Info record when a request is throttled and an
	// Error record when Users, Check or Throttle fail; refusals themselves
	// are logged by httpauth.Middleware. Records never hold the password.
	// Nil discards.
	Logger *slog.Logger

	// guesses serializes, per throttle key (striped), the throttle check,
	// the password check and the recording of a failure, so that
	// concurrent wrong passwords cannot all pass Throttle.Check before the
	// first failure is recorded (ratelimit.Throttle.Check only peeks).
	guesses ratelimit.KeyLocks
}

var (
	_ m2m.Verifier        = (*Verifier)(nil)
	_ httpauth.Challenger = (*Verifier)(nil)
)

// Verify implements [m2m.Verifier]. It returns an error wrapping
// m2m.ErrNoCredentials when r has no Authorization header of the Basic
// scheme, a [*m2m.CredentialError] (scheme m2m.SchemeBasic) with
// ReasonMalformed, ReasonTooLarge, ReasonThrottled or ReasonBadCredentials
// for refused credentials, and other errors for technical failures (those
// of the Throttle, including a failure it cannot record, wrap
// m2m.ErrUnavailable).
func (v *Verifier) Verify(r *http.Request) (*m2m.Principal, error) {
	if (v.Users == nil) == (v.Check == nil) {
		return nil, errors.New("basic: Verifier needs exactly one of Users and Check")
	}
	cred, err := v.credentials(r)
	if err != nil {
		return nil, err
	}
	var user, pass string
	if v.Lenient {
		user, pass, err = ParseCredentialsLenient(cred)
	} else {
		user, pass, err = ParseCredentials(cred)
	}
	if err != nil {
		return nil, err
	}
	keys := v.throttleKeys(r, user)
	if len(keys) == 0 {
		return v.check(r, nil, user, pass)
	}
	// Hold both keys' stripes from the throttle check to the recorded
	// failure: a burst of concurrent guesses then gets no more tries than
	// the same guesses sent one at a time.
	unlock := v.guesses.Lock(keys...)
	defer unlock()
	return v.check(r, keys, user, pass)
}

// check runs the throttle check, the password check and, for a refusal,
// the recording of the failure; with keys, the caller holds their guess
// locks.
func (v *Verifier) check(r *http.Request, keys []string, user, pass string) (*m2m.Principal, error) {
	ctx := r.Context()
	if err := v.throttled(ctx, keys); err != nil {
		return nil, err
	}
	p, err := v.authenticate(r, user, pass)
	switch {
	case err == nil && p != nil:
		if len(keys) == 2 {
			if err := v.Throttle.Succeed(ctx, seenKey(keys)); err != nil {
				v.logError(ctx, "basic: throttle failed", err)
			}
		}
		return p, nil
	case err == nil || errors.Is(err, m2m.ErrInvalidCredentials):
		if ferr := v.fail(ctx, keys); ferr != nil {
			return nil, ferr
		}
		if err == nil {
			err = m2m.Invalid(m2m.SchemeBasic, m2m.ReasonBadCredentials, "invalid user name or password")
		}
		return nil, err
	}
	v.logError(ctx, "basic: checking the password failed", err)
	return nil, fmt.Errorf("basic: %w", err)
}

// seenKey is the success mark of a user at an address (keys are
// "user:NAME" and "addr:KEY"; an address key never holds a space).
func seenKey(keys []string) string { return keys[1] + " " + keys[0] }

func (v *Verifier) credentials(r *http.Request) (string, error) {
	if v.Lenient {
		values := r.Header.Values("Authorization")
		switch {
		case len(values) == 0:
			return "", m2m.ErrNoCredentials
		case len(values) > 1:
			return "", m2m.Invalid(m2m.SchemeBasic, m2m.ReasonMalformed, "more than one Authorization header")
		case len(values[0]) > httpauth.MaxAuthorizationBytes:
			return "", m2m.Invalid(m2m.SchemeBasic, m2m.ReasonTooLarge, "Authorization header too large")
		}
		cred, ok := strings.CutPrefix(values[0], "Basic ")
		if !ok {
			return "", m2m.ErrNoCredentials
		}
		return cred, nil
	}
	cred, err := httpauth.Credentials(r, "Basic", m2m.SchemeBasic)
	if errors.Is(err, m2m.ErrNoCredentials) && v.Scheme != "" && !strings.EqualFold(v.Scheme, "Basic") {
		cred, err = httpauth.Credentials(r, v.Scheme, m2m.SchemeBasic)
	}
	return cred, err
}

func (v *Verifier) authenticate(r *http.Request, user, pass string) (*m2m.Principal, error) {
	if v.Check != nil {
		p, err := v.Check(r, user, pass)
		if err != nil || p == nil {
			return nil, err
		}
		if p.Scheme == "" {
			q := *p
			q.Scheme = m2m.SchemeBasic
			p = &q
		}
		return p, nil
	}
	ok, err := v.Users.Authenticate(r.Context(), user, pass)
	if err != nil || !ok {
		return nil, err
	}
	return &m2m.Principal{Subject: user, Scheme: m2m.SchemeBasic}, nil
}

func (v *Verifier) throttleKeys(r *http.Request, user string) []string {
	if v.Throttle == nil {
		return nil
	}
	return []string{"user:" + user, "addr:" + v.TrustedProxies.ThrottleKey(r)}
}

// throttled checks the user key and then the address key. A throttled
// address does not refuse a user who has succeeded from it within the
// Throttle's SuccessMemory: failures of others behind the same address (a
// NAT, a proxy) must not lock out a user who has proved their password
// there, while everyone else guessing from it stays slowed down.
func (v *Verifier) throttled(ctx context.Context, keys []string) error {
	for i, k := range keys {
		ok, wait, err := v.Throttle.Check(ctx, k)
		if err == nil && !ok && i == 1 {
			var seen bool
			seen, err = v.Throttle.Succeeded(ctx, seenKey(keys))
			ok = seen
		}
		if err != nil {
			v.logError(ctx, "basic: throttle failed", err)
			return fmt.Errorf("basic: throttle: %w", errors.Join(m2m.ErrUnavailable, err))
		}
		if !ok {
			secs := int(math.Ceil(wait.Seconds()))
			if secs < 1 {
				secs = 1
			}
			if v.Logger != nil {
				kind, _, _ := strings.Cut(k, ":")
				v.Logger.LogAttrs(ctx, slog.LevelInfo, "basic: throttled", slog.String("key_kind", kind), slog.Int("retry_after", secs))
			}
			return &m2m.CredentialError{Scheme: m2m.SchemeBasic, Reason: m2m.ReasonThrottled,
				Description: "too many failed attempts; try again later", RetryAfter: secs}
		}
	}
	return nil
}

// fail records a failure for each key. A failure it cannot record is a
// technical error wrapping m2m.ErrUnavailable, so that a throttle that
// cannot count does not hand out unlimited guesses.
func (v *Verifier) fail(ctx context.Context, keys []string) error {
	var errs []error
	for _, k := range keys {
		if err := v.Throttle.Fail(ctx, k); err != nil {
			v.logError(ctx, "basic: throttle failed", err)
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("basic: throttle: %w", errors.Join(m2m.ErrUnavailable, errors.Join(errs...)))
	}
	return nil
}

func (v *Verifier) logError(ctx context.Context, msg string, err error) {
	if v.Logger != nil {
		v.Logger.LogAttrs(ctx, slog.LevelError, msg, logattr.Error(err))
	}
}

// Challenge implements [httpauth.Challenger]: Scheme realm="Realm",
// charset="Charset", with the defaults described on [Verifier].
func (v *Verifier) Challenge(error) httpauth.Challenge {
	scheme, realm, charset := v.Scheme, v.Realm, v.Charset
	if scheme == "" {
		scheme = "Basic"
	}
	if realm == "" {
		realm = DefaultRealm
	}
	if charset == "" {
		charset = "UTF-8"
	}
	return httpauth.Challenge{Scheme: scheme, Params: []httpauth.Param{{Name: "realm", Value: realm}, {Name: "charset", Value: charset}}}
}
