package rolling

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/ratelimit"
	"github.com/m2mkit/m2m/replay"
)

// DefaultWindow is the number of steps either side of the current one a
// [Verifier] accepts when its Window is zero.
const DefaultWindow = 1

// NoWindow, as Verifier.Window, accepts the current step only.
const NoWindow = -1

// Key is one named seed: a key id and the codec bound to its seed.
type Key struct {
	// ID names the key on the wire (kid) and in the Principal. It may be
	// empty only when it is the Verifier's one key.
	ID string
	// Codec derives and checks the key's codes: an [*HMAC] or an
	// [*M2MToken].
	Codec Codec
}

// Verifier checks rolling codes in HTTP requests; it implements
// [m2m.Verifier] and [httpauth.Challenger]. Each code is accepted at most
// once per key, failed attempts are throttled per key id, and every
// comparison takes constant time. Checks for one key id are serialized
// from the throttle check to the recorded failure, so concurrent guesses
// get no more tries than sequential ones.
//
// The zero Verifier has no keys and refuses every configuration check. A
// Verifier is safe for concurrent use once configured; do not change its
// fields after the first call.
type Verifier struct {
	// Keys are the accepted seeds. With several keys, requests name theirs
	// with a kid; a request without one is checked against every key, in
	// order (for bots that cannot send a key id).
	Keys []Key
	// Window is how many steps either side of the current one are accepted
	// (m2m_token: whether the previous bucket is). Zero means
	// DefaultWindow; NoWindow means the current step only.
	Window int
	// Wire is the request form; the zero Wire is "Authorization: Rolling".
	Wire Wire
	// Realm is sent in the WWW-Authenticate challenge when not empty.
	Realm string
	// Replay remembers accepted codes; nil means a private in-memory
	// [replay.Memory]. Replicas must share one (package redisstore).
	Replay m2m.ReplayCache
	// InsecureAllowReplay accepts a code more than once; Replay is then
	// not used.
	InsecureAllowReplay bool
	// Throttle limits failed attempts per key id; nil means a private
	// in-memory Throttle with ratelimit.DefaultFailureLimit.
	Throttle *ratelimit.Throttle
	// InsecureNoThrottle disables failure throttling; Throttle is then not
	// used.
	InsecureNoThrottle bool
	// InsecureWeakCodes accepts codes of fewer than WeakBits bits even
	// without replay protection or throttling. By default such a
	// configuration is refused: a 6-digit code can be guessed online.
	InsecureWeakCodes bool
	// Now returns the current time (nil means time.Now).
	Now func() time.Time

	once     sync.Once
	err      error
	byID     map[string]int
	replay   m2m.ReplayCache
	throttle *ratelimit.Throttle
	seed     maphash.Seed
	// guesses serializes, per throttle key (striped), the throttle check,
	// the comparison and the recording of a failure, so that concurrent
	// wrong codes cannot all pass the check before the first failure is
	// recorded.
	guesses [64]sync.Mutex
}

var (
	_ m2m.Verifier        = (*Verifier)(nil)
	_ httpauth.Challenger = (*Verifier)(nil)
)

// Result is a verified code.
type Result struct {
	KeyID string // the key that matched
	Match        // the step that matched
}

// Validate reports every configuration problem: no keys, a Window above
// MaxWindow, an empty or repeated key id among several, a nil Codec, a
// codec whose parameters are invalid (or an HMAC not made by NewHMAC), an
// alphabet with characters the wire form cannot carry (ASCII controls;
// with Bare, also SP and HTAB), and codes weaker than WeakBits without
// replay protection and throttling (unless InsecureWeakCodes).
func (v *Verifier) Validate() error {
	var errs []error
	if len(v.Keys) == 0 {
		errs = append(errs, errors.New("rolling: no keys"))
	}
	if v.Window > MaxWindow {
		errs = append(errs, fmt.Errorf("rolling: window %d above %d", v.Window, MaxWindow))
	}
	seen := map[string]bool{}
	for i, k := range v.Keys {
		name := strconv.Quote(k.ID)
		switch {
		case k.ID == "" && len(v.Keys) > 1:
			errs = append(errs, fmt.Errorf("rolling: key %d has no id (needed with several keys)", i))
		case seen[k.ID]:
			errs = append(errs, fmt.Errorf("rolling: key id %s repeated", name))
		case !validKeyID(k.ID):
			errs = append(errs, fmt.Errorf("rolling: key %d: id too long or with control characters", i))
		}
		seen[k.ID] = true
		if k.Codec == nil {
			errs = append(errs, fmt.Errorf("rolling: key %s has no codec", name))
			continue
		}
		if m, ok := k.Codec.(*M2MToken); ok {
			if err := m.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("rolling: key %s: %w", name, err))
				continue
			}
		}
		if h, ok := k.Codec.(*HMAC); ok && h.pool.New == nil {
			errs = append(errs, fmt.Errorf("rolling: key %s: %w", name, errNotCreated))
			continue
		}
		if r, ok := v.unsendable(k.Codec); ok {
			errs = append(errs, fmt.Errorf("rolling: key %s: the alphabet has %U, which the wire form cannot carry (codes with it never verify)", name, r))
		}
		if bits := k.Codec.Entropy(); bits < WeakBits && (v.InsecureAllowReplay || v.InsecureNoThrottle) && !v.InsecureWeakCodes {
			errs = append(errs, fmt.Errorf("rolling: key %s: codes of %.0f bits need replay protection and throttling (or InsecureWeakCodes)", name, bits))
		}
	}
	return errors.Join(errs...)
}

// unsendable returns a character of c's alphabet that some codes cannot
// carry in v's wire form: an ASCII control character (other than HTAB)
// in any form, and SP or HTAB in the Bare form, where HTTP strips them
// from the ends of a header value.
func (v *Verifier) unsendable(c Codec) (rune, bool) {
	var alphabet []rune
	switch c := c.(type) {
	case *HMAC:
		alphabet = c.alphabet
	case *M2MToken:
		seq, _, err := c.params()
		if err != nil {
			return 0, false
		}
		alphabet = []rune(seq)
	}
	for _, r := range alphabet {
		switch {
		case r < 0x20 && r != '\t', r == 0x7f:
			return r, true
		case v.Wire.Bare && (r == ' ' || r == '\t'):
			return r, true
		}
	}
	return 0, false
}

func validKeyID(id string) bool {
	if len(id) > MaxKeyIDBytes {
		return false
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func (v *Verifier) init() error {
	v.once.Do(func() {
		v.seed = maphash.MakeSeed()
		v.err = v.Validate()
		v.byID = make(map[string]int, len(v.Keys))
		for i, k := range v.Keys {
			v.byID[k.ID] = i
		}
		switch {
		case v.InsecureAllowReplay:
		case v.Replay != nil:
			v.replay = v.Replay
		default:
			v.replay = &replay.Memory{Now: v.Now}
		}
		switch {
		case v.InsecureNoThrottle:
		case v.Throttle != nil:
			v.throttle = v.Throttle
		default:
			v.throttle = &ratelimit.Throttle{Limiter: &ratelimit.Memory{Now: v.Now}}
		}
	})
	return v.err
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) window() int {
	switch {
	case v.Window == 0:
		return DefaultWindow
	case v.Window < 0:
		return 0
	}
	return v.Window
}

// Verify checks the code in r and returns a Principal whose Subject and
// ClientID are the key id, with the claims "kid", "step" and "offset".
func (v *Verifier) Verify(r *http.Request) (*m2m.Principal, error) {
	keyID, code, err := v.Wire.Parse(r)
	if err != nil {
		return nil, err
	}
	res, err := v.Check(r.Context(), keyID, code)
	if err != nil {
		return nil, err
	}
	return &m2m.Principal{
		Subject:   res.KeyID,
		Scheme:    m2m.SchemeRolling,
		ClientID:  res.KeyID,
		ExpiresAt: res.Expires,
		Claims:    map[string]any{"kid": res.KeyID, "step": res.Step, "offset": res.Offset},
	}, nil
}

// Check verifies code for the key named keyID (any key when keyID is
// empty) at the current time: throttling first, then the codec's
// constant-time comparison over the window, then the replay cache.
// Refusals are [*m2m.CredentialError]s with the reasons unknown_key,
// throttled, bad_credentials or replayed; other errors are technical.
func (v *Verifier) Check(ctx context.Context, keyID, code string) (Result, error) {
	if err := v.init(); err != nil {
		return Result{}, err
	}
	keys := v.Keys
	throttleKey := keyID // "" throttles requests without a key id together
	if keyID != "" {
		i, ok := v.byID[keyID]
		if !ok {
			return Result{}, m2m.Invalid(m2m.SchemeRolling, m2m.ReasonUnknownKey, "unknown key id")
		}
		keys = v.Keys[i : i+1]
	} else if len(keys) == 1 {
		throttleKey = keys[0].ID
	}
	k, m, err := v.match(ctx, keys, throttleKey, code)
	if err != nil {
		return Result{}, err
	}
	if v.replay != nil {
		first, err := v.replay.Use(ctx, "rolling:"+k.ID+":"+strconv.FormatInt(m.Step, 10), m.Expires)
		if err != nil {
			return Result{}, fmt.Errorf("rolling: replay cache: %w: %w", m2m.ErrUnavailable, err)
		}
		if !first {
			return Result{}, m2m.Invalid(m2m.SchemeRolling, m2m.ReasonReplayed, "code already used")
		}
	}
	return Result{KeyID: k.ID, Match: m}, nil
}

// match checks the throttle, compares code with the keys' codes and, when
// none matches, records the failure. It holds throttleKey's lock from the
// check to the recorded failure, so that a burst of concurrent guesses
// gets no more tries than the same guesses sent one at a time. (Replicas
// sharing a Limiter each let one guess per key through at a time.) The
// replay cache, which may be remote, is consulted after the lock is
// released.
func (v *Verifier) match(ctx context.Context, keys []Key, throttleKey, code string) (Key, Match, error) {
	if v.throttle != nil {
		mu := &v.guesses[maphash.String(v.seed, throttleKey)%uint64(len(v.guesses))]
		mu.Lock()
		defer mu.Unlock()
		ok, wait, err := v.throttle.Check(ctx, throttleKey)
		if err != nil {
			return Key{}, Match{}, fmt.Errorf("rolling: throttle: %w", err)
		}
		if !ok {
			e := m2m.Invalid(m2m.SchemeRolling, m2m.ReasonThrottled, "too many failed attempts; try later")
			e.RetryAfter = ratelimit.Decision{RetryAfter: wait}.RetryAfterSeconds()
			return Key{}, Match{}, e
		}
	}
	now := v.now()
	window := v.window()
	for _, k := range keys {
		m, err := k.Codec.Match(code, now, window)
		if errors.Is(err, ErrNoMatch) {
			continue
		}
		if err != nil {
			return Key{}, Match{}, fmt.Errorf("rolling: key %q: %w", k.ID, err)
		}
		return k, m, nil
	}
	if v.throttle != nil {
		if err := v.throttle.Fail(ctx, throttleKey); err != nil {
			return Key{}, Match{}, fmt.Errorf("rolling: throttle: %w", err)
		}
	}
	return Key{}, Match{}, m2m.Invalid(m2m.SchemeRolling, m2m.ReasonBadCredentials, "invalid or expired code")
}

// Challenge returns the WWW-Authenticate challenge: the wire's scheme
// with the realm, and error set to the reason when err is a refusal of
// this scheme.
func (v *Verifier) Challenge(err error) httpauth.Challenge {
	c := httpauth.Challenge{Scheme: v.Wire.scheme()}
	if v.Realm != "" {
		c.Params = append(c.Params, httpauth.Param{Name: "realm", Value: v.Realm})
	}
	var ce *m2m.CredentialError
	if errors.As(err, &ce) && ce.Scheme == m2m.SchemeRolling {
		c.Params = append(c.Params, httpauth.Param{Name: "error", Value: string(ce.Reason)})
	}
	return c
}
