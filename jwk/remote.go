package jwk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/internal/redact"
)

// Named defaults of a [RemoteKeySet].
const (
	// DefaultRefreshInterval is how old a fetched set may get before a
	// lookup starts a background refresh, when the JWKS response has no
	// Cache-Control max-age, and the most a max-age can ask for.
	DefaultRefreshInterval = 15 * time.Minute
	// DefaultMinRefetchInterval is the least time between two fetches
	// caused by unknown kids (and between retries after a failure).
	DefaultMinRefetchInterval = 10 * time.Second
	// DefaultNegativeTTL is how long a kid that a fetch did not find is
	// refused without another fetch.
	DefaultNegativeTTL = 5 * time.Minute
	// DefaultFetchTimeout bounds one fetch.
	DefaultFetchTimeout = 30 * time.Second
	// maxNegative bounds the negative cache; when full it is cleared (the
	// fetch rate limit still bounds the fetches).
	maxNegative = 4096
)

// RemoteKeySet is a key set fetched from a jwks_uri. It is safe for
// concurrent use; build it with [NewRemoteKeySet] or fill the exported
// fields before first use and do not change them afterwards.
//
// Lookups of a known kid read an atomic snapshot: no lock, no I/O. When
// the snapshot is older than its freshness lifetime a lookup also starts
// one background refresh and keeps answering from the old set meanwhile
// (stale-while-revalidate). The freshness lifetime is the JWKS response's
// Cache-Control max-age (no-cache, no-store and max-age=0 count as 0),
// bounded below by MinRefetchInterval and above by RefreshInterval, or
// RefreshInterval when the response has no max-age. So a key the issuer
// removes (an emergency revocation) stops verifying within its max-age
// (at least MinRefetchInterval, at most RefreshInterval) plus one fetch:
// within about a minute for m2m's token server, which sends max-age=60. A kid the set lacks causes one refetch, at
// most one per MinRefetchInterval, joined by every concurrent lookup; a
// kid that a fetch begun after its first lookup did not find is refused
// without fetching for NegativeTTL. A flood of tokens with made-up kids
// thus causes at most one fetch per MinRefetchInterval, and never hides a
// key the issuer really publishes: every lookup consults the newest set
// first.
//
// By default a set whose refreshes fail is served indefinitely, so that
// an outage of the jwks_uri does not stop verification. Set MaxStale to
// bound that: a lookup of a set last fetched more than MaxStale ago fails
// with an error wrapping [m2m.ErrUnavailable] unless a fetch succeeds.
type RemoteKeySet struct {
	// URL is the jwks_uri, such as https://TENANT/.well-known/jwks.json.
	URL string
	// HTTPClient fetches the set; nil means http.DefaultClient. A redirect
	// from https to plain http is refused whatever its CheckRedirect says.
	HTTPClient *http.Client
	// RefreshInterval, MinRefetchInterval, NegativeTTL and FetchTimeout:
	// zero means the Default… constant of the same name.
	RefreshInterval    time.Duration
	MinRefetchInterval time.Duration
	NegativeTTL        time.Duration
	FetchTimeout       time.Duration
	// MaxResponseBytes caps the response; zero means DefaultMaxSetBytes.
	MaxResponseBytes int64
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives fetch failures; nil discards them.
	Logger *slog.Logger
	// MaxStale bounds how old the last successful fetch may be. Zero (the
	// default) serves the last good set indefinitely while the jwks_uri
	// is down. When set, a lookup of a set fetched more than MaxStale ago
	// waits for a fetch (joining one in progress, starting one at most
	// once per MinRefetchInterval, bounded by FetchTimeout and the
	// lookup's context) and, if none succeeds, fails with an error
	// wrapping [m2m.ErrUnavailable], so that HTTP middleware answers 503
	// instead of trusting keys the issuer may have retired because they
	// were compromised. Choose it above RefreshInterval (say an hour or a
	// day): only then do lookups refresh in the background before it
	// expires. A set is also MaxStale old after MaxStale without lookups;
	// the next lookup then fetches before answering.
	MaxStale time.Duration

	snap       atomic.Pointer[snapshot]
	refreshing atomic.Bool
	// lastStartNS mirrors lastStart (unix nanoseconds) so that lookups of a
	// stale set can see without the lock that a refresh is not due yet.
	lastStartNS atomic.Int64

	mu        sync.Mutex
	flight    *keyFlight
	lastStart time.Time            // start of the last fetch
	negative  map[string]time.Time // kid -> refused until
	fetches   atomic.Int64
}

type snapshot struct {
	set       *Set
	fetchedAt time.Time
	fresh     time.Duration // freshness lifetime: refresh when older
}

type keyFlight struct {
	started time.Time
	done    chan struct{}
	err     error
}

var _ KeySet = (*RemoteKeySet)(nil)

// NewRemoteKeySet returns a RemoteKeySet for url with default settings. It
// does not fetch until the first lookup.
func NewRemoteKeySet(url string) *RemoteKeySet { return &RemoteKeySet{URL: url} }

func (r *RemoteKeySet) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func dflt(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Current returns the last fetched set, or nil.
func (r *RemoteKeySet) Current() *Set {
	if s := r.snap.Load(); s != nil {
		return s.set
	}
	return nil
}

// Fetches returns how many fetches have been started.
func (r *RemoteKeySet) Fetches() int64 { return r.fetches.Load() }

// Lookup returns the keys for kid; see the type's documentation for when
// it fetches. Errors are technical (the set was never fetched
// successfully, it is older than MaxStale, or ctx ended while waiting);
// an unknown kid is no keys and a nil error.
func (r *RemoteKeySet) Lookup(ctx context.Context, kid string) ([]Key, error) {
	now := r.now()
	s := r.snap.Load()
	stale := s != nil && r.tooStale(s, now)
	if s != nil && !stale {
		if keys := s.set.Lookup(kid); keys != nil {
			if now.Sub(s.fetchedAt) >= s.fresh {
				r.refreshInBackground(ctx)
			}
			return keys, nil
		}
		if kid == "" {
			return nil, nil // no fetch can make a kid-less token acceptable to a named set
		}
	}
	// Unknown kid, nothing fetched yet, or a set older than MaxStale.
	f, err := r.refetch(ctx, kid, now, s == nil || stale)
	if err != nil {
		if stale {
			return nil, r.staleError(s, now, err)
		}
		return nil, err
	}
	if f == nil {
		return nil, nil
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s = r.snap.Load()
	if s == nil {
		if f.err != nil {
			return nil, f.err // fetch's errors already name the key set
		}
		return nil, fmt.Errorf("jwk: fetching %s: no key set", r.shownURL())
	}
	if now := r.now(); r.tooStale(s, now) {
		return nil, r.staleError(s, now, f.err)
	}
	keys := s.set.Lookup(kid)
	if keys == nil && kid != "" && f.err == nil && !f.started.Before(now) {
		// A fetch begun after this lookup did not find the kid.
		r.mu.Lock()
		if r.negative == nil || len(r.negative) >= maxNegative {
			r.negative = make(map[string]time.Time)
		}
		// Never past the set's own freshness: a key published after
		// this fetch (an emergency successor, say, that this set's
		// server had not loaded yet) must be found by the next refresh
		// even when every token names it and no lookup of a known kid
		// triggers a background refresh.
		until := f.started.Add(dflt(r.NegativeTTL, DefaultNegativeTTL))
		if due := s.fetchedAt.Add(s.fresh); due.Before(until) {
			until = due
		}
		r.negative[kid] = until
		r.mu.Unlock()
	}
	return keys, nil
}

// tooStale reports whether s was fetched more than MaxStale before now.
func (r *RemoteKeySet) tooStale(s *snapshot, now time.Time) bool {
	return r.MaxStale > 0 && now.Sub(s.fetchedAt) > r.MaxStale
}

// staleError is the error of a lookup refused because s is older than
// MaxStale; cause is why no fresher set could be fetched (may be nil).
func (r *RemoteKeySet) staleError(s *snapshot, now time.Time, cause error) error {
	err := fmt.Errorf("jwk: key set from %s last fetched %s ago, more than MaxStale (%s): %w",
		r.shownURL(), now.Sub(s.fetchedAt).Round(time.Second), r.MaxStale, m2m.ErrUnavailable)
	if cause != nil {
		err = fmt.Errorf("%w: %w", err, cause)
	}
	return err
}

// refetch returns the flight to wait for after an unknown kid, or nil
// when the kid is in the negative cache or the rate limit forbids a fetch
// now. must is set when no set has ever been fetched.
func (r *RemoteKeySet) refetch(ctx context.Context, kid string, now time.Time, must bool) (*keyFlight, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.flight != nil {
		return r.flight, nil
	}
	// Another lookup's fetch may have finished since we looked.
	if s := r.snap.Load(); s != nil && !r.tooStale(s, now) && s.set.Lookup(kid) != nil {
		return closedFlight, nil
	}
	if until, ok := r.negative[kid]; ok && !must {
		if now.Before(until) {
			return nil, nil
		}
		delete(r.negative, kid)
	}
	if !r.lastStart.IsZero() && now.Sub(r.lastStart) < dflt(r.MinRefetchInterval, DefaultMinRefetchInterval) {
		if must {
			return nil, errors.New("jwk: key set unavailable (last fetch failed; retrying later)")
		}
		return nil, nil
	}
	return r.startLocked(ctx, now), nil
}

var closedFlight = func() *keyFlight { f := &keyFlight{done: make(chan struct{})}; close(f.done); return f }()

// refreshInBackground starts one refresh unless one is running or the
// last fetch was too recent.
func (r *RemoteKeySet) refreshInBackground(ctx context.Context) {
	if r.refreshing.Load() {
		return
	}
	if last := r.lastStartNS.Load(); last != 0 && r.now().UnixNano()-last < int64(dflt(r.MinRefetchInterval, DefaultMinRefetchInterval)) {
		return // rate-limited (for example after a failed refresh): no lock
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if r.flight != nil || now.Sub(r.lastStart) < dflt(r.MinRefetchInterval, DefaultMinRefetchInterval) {
		return
	}
	r.startLocked(ctx, now)
}

func (r *RemoteKeySet) startLocked(ctx context.Context, now time.Time) *keyFlight {
	f := &keyFlight{started: now, done: make(chan struct{})}
	r.flight = f
	r.lastStart = now
	r.lastStartNS.Store(now.UnixNano())
	r.refreshing.Store(true)
	r.fetches.Add(1)
	go func() {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dflt(r.FetchTimeout, DefaultFetchTimeout))
		defer cancel()
		set, fresh, err := r.fetch(fctx)
		r.mu.Lock()
		if err == nil {
			r.snap.Store(&snapshot{set: set, fetchedAt: r.now(), fresh: fresh})
		} else if r.Logger != nil {
			r.Logger.Warn("jwk: key set fetch failed", "url", r.shownURL(), "error", err)
		}
		f.err = err
		r.flight = nil
		r.refreshing.Store(false)
		close(f.done)
		r.mu.Unlock()
	}()
	return f
}

// shownURL is r.URL as errors and logs show it, credentials masked.
func (r *RemoteKeySet) shownURL() string { return redact.URL(r.URL) }

// fetch fetches and parses the key set. Its errors never show a
// credential of r.URL, not even where the HTTP client quotes it.
// It also returns the set's freshness lifetime (see the type's doc).
func (r *RemoteKeySet) fetch(ctx context.Context) (*Set, time.Duration, error) {
	set, fresh, err := r.fetchRaw(ctx)
	return set, fresh, redact.Error(err, r.URL)
}

func (r *RemoteKeySet) fetchRaw(ctx context.Context) (*Set, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("jwk: %w", err)
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	hc := r.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := noDowngrade(hc).Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("jwk: fetching %s: %w", r.shownURL(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, 0, fmt.Errorf("jwk: fetching %s: status %d", r.shownURL(), resp.StatusCode)
	}
	limit := r.MaxResponseBytes
	if limit <= 0 {
		limit = DefaultMaxSetBytes
	}
	if resp.ContentLength > limit {
		return nil, 0, fmt.Errorf("jwk: fetching %s: %w", r.shownURL(), ErrTooLarge)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, 0, fmt.Errorf("jwk: fetching %s: %w", r.shownURL(), err)
	}
	if int64(len(data)) > limit {
		return nil, 0, fmt.Errorf("jwk: fetching %s: %w", r.shownURL(), ErrTooLarge)
	}
	set, err := ParseSet(data)
	if err != nil {
		return nil, 0, fmt.Errorf("jwk: %s: %w", r.shownURL(), err)
	}
	fresh := dflt(r.RefreshInterval, DefaultRefreshInterval)
	if age, ok := maxAge(resp.Header.Values("Cache-Control")); ok {
		fresh = min(max(age, dflt(r.MinRefetchInterval, DefaultMinRefetchInterval)), fresh)
	}
	return set, fresh, nil
}

// maxAge returns the max-age of Cache-Control header values (RFC 9111
// section 5.2.2.1), 0 for no-cache or no-store, and whether any of these
// was there. A malformed max-age counts as 0 (stale, RFC 9111 section
// 4.2.1), which the caller's lower bound turns into frequent refreshes,
// never into a longer cache.
func maxAge(values []string) (time.Duration, bool) {
	var age time.Duration
	found := false
	for _, v := range values {
		for d := range strings.SplitSeq(v, ",") {
			name, arg, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-cache", "no-store":
				return 0, true
			case "max-age":
				arg = strings.Trim(strings.TrimSpace(arg), `"`)
				n, err := strconv.ParseInt(arg, 10, 64)
				if err != nil || n < 0 {
					return 0, true
				}
				if found && time.Duration(min(n, 1<<32))*time.Second >= age {
					continue // of two max-ages, the shorter
				}
				age, found = time.Duration(min(n, 1<<32))*time.Second, true
			}
		}
	}
	return age, found
}

// noDowngrade returns a copy of hc that refuses to follow a redirect from
// https to plain http: keys fetched over http could be anyone's.
func noDowngrade(hc *http.Client) *http.Client {
	c := *hc
	next := hc.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
			return fmt.Errorf("jwk: refusing a redirect from https to %s", req.URL.Scheme)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("jwk: stopped after 10 redirects")
		}
		return nil
	}
	return &c
}
