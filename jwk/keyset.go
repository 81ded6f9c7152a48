package jwk

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/m2mkit/m2m/internal/redact"
)

// KeySet supplies verification keys.
type KeySet interface {
	// Lookup returns the keys for a token's kid (see [Set.Lookup]). It may
	// fetch keys (honouring ctx); it returns no keys and a nil error for
	// a kid the set does not have.
	Lookup(ctx context.Context, kid string) ([]Key, error)
	// Current returns the set as it is now, without I/O; nil when no set
	// has been loaded yet.
	Current() *Set
}

// StaticKeySet is a fixed set. It is safe for concurrent use.
type StaticKeySet struct{ set *Set }

var _ KeySet = (*StaticKeySet)(nil)

// NewStaticKeySet returns a KeySet of s.
func NewStaticKeySet(s *Set) *StaticKeySet { return &StaticKeySet{set: s} }

// Lookup returns s's keys for kid.
func (s *StaticKeySet) Lookup(_ context.Context, kid string) ([]Key, error) {
	return s.set.Lookup(kid), nil
}

// Current returns the set.
func (s *StaticKeySet) Current() *Set { return s.set }

// FileKeySet reads a JWKS, JWK or PEM file (see [Parse]) and reloads it
// when its modification time or size changes, checking at most once per
// CheckInterval. A file that becomes unreadable or invalid keeps the last
// good set in use. It is safe for concurrent use.
type FileKeySet struct {
	// Path of the key file.
	Path string
	// CheckInterval between checks of the file; zero means one second.
	CheckInterval time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	state   atomic.Pointer[fileState]
	mu      sync.Mutex
	checkAt atomic.Int64
	lastErr atomic.Pointer[error]
}

type fileState struct {
	set   *Set
	mtime time.Time
	size  int64
}

var _ KeySet = (*FileKeySet)(nil)

// NewFileKeySet loads path and returns its key set.
func NewFileKeySet(path string) (*FileKeySet, error) {
	f := &FileKeySet{Path: path}
	if err := f.reload(true); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *FileKeySet) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *FileKeySet) reload(force bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := os.Stat(f.Path)
	if err != nil {
		return fmt.Errorf("jwk: %w", err)
	}
	if cur := f.state.Load(); !force && cur != nil && cur.mtime.Equal(st.ModTime()) && cur.size == st.Size() {
		return nil
	}
	if st.Size() > DefaultMaxSetBytes {
		return fmt.Errorf("jwk: %s: %w", f.Path, ErrTooLarge)
	}
	data, err := readCapped(f.Path, DefaultMaxSetBytes)
	if err != nil {
		return err
	}
	s, err := Parse(data)
	if err != nil {
		return fmt.Errorf("jwk: %s: %w", f.Path, err)
	}
	f.state.Store(&fileState{set: s, mtime: st.ModTime(), size: st.Size()})
	return nil
}

func (f *FileKeySet) maybeReload() {
	now := f.now().UnixNano()
	if now < f.checkAt.Load() {
		return
	}
	iv := f.CheckInterval
	if iv <= 0 {
		iv = time.Second
	}
	f.checkAt.Store(now + int64(iv))
	if err := f.reload(false); err != nil {
		f.lastErr.Store(&err)
	}
}

// Lookup returns the keys for kid, reloading the file first if it is due
// for a check.
func (f *FileKeySet) Lookup(_ context.Context, kid string) ([]Key, error) {
	f.maybeReload()
	st := f.state.Load()
	if st == nil {
		if e := f.lastErr.Load(); e != nil {
			return nil, *e
		}
		return nil, fmt.Errorf("jwk: %s not loaded", f.Path)
	}
	return st.set.Lookup(kid), nil
}

// Current returns the last good set.
func (f *FileKeySet) Current() *Set {
	if st := f.state.Load(); st != nil {
		return st.set
	}
	return nil
}

// Open returns the key set named by spec: an http or https URL gives a
// [RemoteKeySet] (fetched on first use), anything else is a file path
// loaded with [NewFileKeySet] (JWKS, JWK or PEM).
func Open(spec string) (KeySet, error) {
	if strings.HasPrefix(spec, "https://") || strings.HasPrefix(spec, "http://") {
		if _, err := url.Parse(spec); err != nil {
			// url.Error quotes the URL, credentials included.
			return nil, fmt.Errorf("jwk: cannot parse the key set URL %s", redact.URL(spec))
		}
		return NewRemoteKeySet(spec), nil
	}
	return NewFileKeySet(spec)
}

// readCapped reads at most limit bytes of path: the file may have grown
// since it was stat'ed.
func readCapped(path string, limit int64) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("jwk: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, limit+1))
	if err != nil {
		return nil, fmt.Errorf("jwk: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("jwk: %s: %w", path, ErrTooLarge)
	}
	return data, nil
}
