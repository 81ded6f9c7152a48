package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"
)

// Defaults for the zero values of [Config].
const (
	// DefaultSessionTTL is how long a session lasts after sign-in.
	DefaultSessionTTL = 8 * time.Hour
	// DefaultIdleTimeout ends a session not used for this long.
	DefaultIdleTimeout = 30 * time.Minute
	// DefaultMaxSessions bounds the sessions held at once.
	DefaultMaxSessions = 64
)

// session is one signed-in browser. Its id is known only to the browser
// (the cookie) and, as a SHA-256 digest, to the map key.
type session struct {
	csrf     string // the per-session CSRF token, base64url of 32 random bytes
	created  time.Time
	lastSeen time.Time
	flash    string // a message for the next page, shown once
}

// sessions holds the signed-in sessions in memory, bounded in number. It
// is safe for concurrent use.
type sessions struct {
	ttl, idle time.Duration
	max       int
	now       func() time.Time

	mu sync.Mutex
	m  map[[sha256.Size]byte]*session
}

func newSessions(ttl, idle time.Duration, max int, now func() time.Time) *sessions {
	return &sessions{ttl: ttl, idle: idle, max: max, now: now, m: make(map[[sha256.Size]byte]*session)}
}

// randomToken returns 32 bytes from crypto/rand, base64url-encoded.
func randomToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create starts a session and returns its id. At the bound, expired
// sessions go first, then the least recently used one.
func (s *sessions) create() (id string, sess *session) {
	id = randomToken()
	now := s.now()
	sess = &session{csrf: randomToken(), created: now, lastSeen: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= s.max {
		s.sweepLocked(now)
	}
	for len(s.m) >= s.max {
		var oldest [sha256.Size]byte
		var at time.Time
		first := true
		for k, v := range s.m {
			if first || v.lastSeen.Before(at) {
				oldest, at, first = k, v.lastSeen, false
			}
		}
		delete(s.m, oldest)
	}
	s.m[sha256.Sum256([]byte(id))] = sess
	return id, sess
}

func (s *sessions) sweepLocked(now time.Time) {
	for k, v := range s.m {
		if !s.live(v, now) {
			delete(s.m, k)
		}
	}
}

func (s *sessions) live(v *session, now time.Time) bool {
	return now.Before(v.created.Add(s.ttl)) && now.Before(v.lastSeen.Add(s.idle))
}

// get returns the live session with id and marks it used, or nil. The id
// is looked up by its digest, so the map's comparisons reveal nothing
// about stored ids.
func (s *sessions) get(id string) *session {
	if id == "" || len(id) > 128 {
		return nil
	}
	k := sha256.Sum256([]byte(id))
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.m[k]
	if v == nil {
		return nil
	}
	if !s.live(v, now) {
		delete(s.m, k)
		return nil
	}
	v.lastSeen = now
	return v
}

// delete ends the session with id.
func (s *sessions) delete(id string) {
	k := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
}

// len is the number of sessions held, live or not yet swept.
func (s *sessions) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// setFlash and takeFlash pass one message to the next page.
func (s *sessions) setFlash(v *session, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v.flash = msg
}

func (s *sessions) takeFlash(v *session) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg := v.flash
	v.flash = ""
	return msg
}

// validCSRF reports, in constant time, whether got is the session's CSRF
// token.
func validCSRF(v *session, got string) bool {
	a := sha256.Sum256([]byte(got))
	b := sha256.Sum256([]byte(v.csrf))
	return got != "" && subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
