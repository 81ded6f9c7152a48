package rolling

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
	"unicode"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/clientaddr"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/ratelimit"
	"github.com/m2mkit/m2m/replay"
)

// DefaultWindow is the number of steps either side of the current one a
// [Verifier] accepts when its Window is zero.
const DefaultWindow = 1

// NoWindow, as Verifier.Window, accepts the current step only.
const NoWindow = -1

// DefaultAddressLimit is the failure budget of one client address for one
// key id when Verifier.AddressLimit is zero: 5 failures in a burst, then
// one a minute. It is a tenth of the rate of ratelimit.DefaultFailureLimit
// (the default budget of a key id), so that one address alone cannot
// exhaust a key id's budget and lock out the device from elsewhere.
var DefaultAddressLimit = ratelimit.Limit{Rate: 1.0 / 60, Burst: 5}

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
// once per key, failed attempts are throttled, and every comparison takes
// constant time. Checks for one key id are serialized from the throttle
// check to the recorded failure, so concurrent guesses get no more tries
// than sequential ones.
//
// Throttling has two budgets, both checked before the code is compared
// and both charged with every failure:
//
//   - per client address and key id (AddressLimit): an address that
//     guesses is slowed on its own;
//   - per key id (Throttle): this bounds the guesses against one key from
//     all addresses together, so a short code cannot be guessed online
//     by spreading guesses over many addresses.
//
// So that the device holding the right code is not locked out by others'
// wrong codes, an address from which a code of that key was accepted
// within the Throttle's SuccessMemory is exempt from the key id's budget
// (never from its own address budget). A device thus keeps getting in
// from where it last succeeded while attackers elsewhere exhaust the key
// id's budget, and a device at a new address gets in unless attackers
// spread over about ten addresses keep that budget exhausted. A device
// behind the same address as an attacker (one NAT) is throttled with it:
// there, until its code is compared, the device cannot be told apart from
// the attacker, and comparing a code the budget refused would be a free
// guess.
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
	// Throttle limits failed attempts per key id (keys are the key id,
	// "" for requests without one among several keys) and remembers
	// successes per address (see [Verifier]); nil means a private
	// in-memory Throttle with ratelimit.DefaultFailureLimit.
	Throttle *ratelimit.Throttle
	// AddressLimit limits failed attempts per client address and key id,
	// counted in Throttle's Limiter under the keys "addr:ADDRESS kid:ID"
	// (IPv6 per /64, see clientaddr.Key) with Throttle's Prefix. Zero
	// means DefaultAddressLimit. Keep it well below Throttle's limit, or
	// one address can exhaust a key id's budget.
	AddressLimit ratelimit.Limit
	// TrustedProxies are the proxies whose Forwarded / X-Forwarded-For
	// headers name the client address (see
	// [clientaddr.TrustedProxies.ClientAddr]); nil means the TCP peer.
	TrustedProxies clientaddr.TrustedProxies
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
	// byAddr is the per-address budget, on throttle's Limiter.
	byAddr *ratelimit.Throttle
	// guesses serializes, per throttle key (striped), the throttle check,
	// the comparison and the recording of a failure, so that concurrent
	// wrong codes cannot all pass the check before the first failure is
	// recorded.
	guesses ratelimit.KeyLocks
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
		if v.throttle != nil {
			lim := v.throttle.Limiter
			if lim == nil {
				lim = &ratelimit.Memory{Now: v.Now}
			}
			al := v.AddressLimit
			if al == (ratelimit.Limit{}) {
				al = DefaultAddressLimit
			}
			v.byAddr = &ratelimit.Throttle{Limiter: lim, Limit: al, Prefix: v.throttle.Prefix,
				SuccessMemory: v.throttle.SuccessMemory}
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
	res, err := v.CheckFrom(r.Context(), v.TrustedProxies.ClientAddr(r), keyID, code)
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
// Check knows no client address: all its callers share one address
// budget (use [Verifier.CheckFrom] when the address is known).
func (v *Verifier) Check(ctx context.Context, keyID, code string) (Result, error) {
	return v.CheckFrom(ctx, netip.Addr{}, keyID, code)
}

// CheckFrom is [Verifier.Check] for a request from the client address
// addr, which the per-address budget and the success exemption count
// (see [Verifier]).
func (v *Verifier) CheckFrom(ctx context.Context, addr netip.Addr, keyID, code string) (Result, error) {
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
	addrKey := "addr:" + clientaddr.Key(addr) + " kid:" + throttleKey
	k, m, err := v.match(ctx, keys, throttleKey, addrKey, code)
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
	if v.byAddr != nil {
		// Remember that this address holds the right code, which exempts
		// it from the key id's budget. A mark that cannot be recorded
		// only withholds that exemption, so the code is still accepted.
		_ = v.byAddr.Succeed(ctx, addrKey)
	}
	return Result{KeyID: k.ID, Match: m}, nil
}

// match checks the throttle, compares code with the keys' codes and, when
// none matches, records the failure. It holds the locks of throttleKey
// and addrKey from the check to the recorded failure, so that a burst of
// concurrent guesses gets no more tries than the same guesses sent one at
// a time. (Replicas sharing a Limiter each let one guess per key through
// at a time.) The replay cache, which may be remote, is consulted after
// the lock is released.
func (v *Verifier) match(ctx context.Context, keys []Key, throttleKey, addrKey, code string) (Key, Match, error) {
	if v.throttle != nil {
		defer v.guesses.Lock(throttleKey, addrKey)()
		if err := v.throttled(ctx, throttleKey, addrKey); err != nil {
			return Key{}, Match{}, err
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
		err := errors.Join(v.byAddr.Fail(ctx, addrKey), v.throttle.Fail(ctx, throttleKey))
		if err != nil {
			return Key{}, Match{}, fmt.Errorf("rolling: throttle: %w: %w", m2m.ErrUnavailable, err)
		}
	}
	return Key{}, Match{}, m2m.Invalid(m2m.SchemeRolling, m2m.ReasonBadCredentials, "invalid or expired code")
}

// throttled checks the address budget, then the key id's budget, which an
// address that succeeded recently does not need (see [Verifier]).
func (v *Verifier) throttled(ctx context.Context, throttleKey, addrKey string) error {
	ok, wait, err := v.byAddr.Check(ctx, addrKey)
	if err == nil && ok {
		ok, wait, err = v.throttle.Check(ctx, throttleKey)
		if err == nil && !ok {
			ok, err = v.byAddr.Succeeded(ctx, addrKey)
		}
	}
	if err != nil {
		return fmt.Errorf("rolling: throttle: %w: %w", m2m.ErrUnavailable, err)
	}
	if !ok {
		e := m2m.Invalid(m2m.SchemeRolling, m2m.ReasonThrottled, "too many failed attempts; try later")
		e.RetryAfter = ratelimit.Decision{RetryAfter: wait}.RetryAfterSeconds()
		return e
	}
	return nil
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
