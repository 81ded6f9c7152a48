// Package tlsreload serves a TLS certificate and private key read from
// PEM files, and picks up new files without a restart and without
// dropping connections.
//
// A [Reloader] loads the pair once in [New] (a broken pair there is an
// error: the server does not start). After that:
//
//   - [Reloader.Run] looks at the files every [Options.Interval] (default
//     [DefaultInterval]) and loads them when their content changed, so a
//     renewed certificate is served within a few seconds;
//   - [Reloader.Reload] loads them at once (m2m serve calls it on SIGHUP);
//   - a pair that cannot be used (a half-written or truncated file, a key
//     that does not match the certificate, an expired certificate, a file
//     over [MaxFileSize], a key file that others may read, or its group
//     unless root owns it) is
//     refused and logged, and the previous pair keeps being served;
//   - only new handshakes see the new pair; established connections keep
//     the certificate they were made with.
//
// The change signal is the SHA-256 digest of both files' contents, not
// their size and modification time: those miss a rewrite within the
// file system's timestamp granularity or a copy that preserves times,
// and reading two files of a few KiB every few seconds costs nothing.
//
// Log records carry file names, the certificate's subject, expiry and
// SHA-256 fingerprint, and error messages from crypto/tls and
// crypto/x509; never the contents of the key file.
package tlsreload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// MaxFileSize is the largest certificate or key file accepted
	// (a certificate chain is a few KiB).
	MaxFileSize = 1 << 20
	// DefaultInterval is how often [Reloader.Run] looks at the files when
	// [Options.Interval] is zero. A change is served at most two intervals
	// after it started (one when the first look caught a half-written
	// file).
	DefaultInterval = 2 * time.Second
)

// Options configures [New].
type Options struct {
	// CertFile is the PEM certificate chain, leaf first. Required.
	CertFile string
	// KeyFile is the PEM private key of the leaf. Required. Its mode must
	// be 0600 or less, or 0640 or less when root owns it (PostgreSQL's
	// rule for its server key); Windows is not checked.
	KeyFile string
	// Interval is how often [Reloader.Run] looks at the files. Zero means
	// [DefaultInterval]; negative is an error.
	Interval time.Duration
	// Logger receives a record for each pair loaded (Info) and each pair
	// refused (Error). Nil means no logging.
	Logger *slog.Logger
	// Now returns the current time, to refuse an expired certificate.
	// Nil means time.Now.
	Now func() time.Time
}

// Reloader holds the current certificate of a TLS server. It is safe
// for concurrent use: GetCertificate runs in every handshake while Run
// and Reload replace the pair.
type Reloader struct {
	certFile, keyFile string
	interval          time.Duration
	log               *slog.Logger
	now               func() time.Time

	cur atomic.Pointer[loaded]

	mu sync.Mutex // serializes loads; guards lastFailure
	// lastFailure identifies the last refused content (or read error), so
	// that Run logs a broken pair once, not at every look.
	lastFailure string
}

// loaded is one pair in service.
type loaded struct {
	cert   *tls.Certificate
	digest [sha256.Size]byte
}

// New loads the pair named in opts and returns a Reloader serving it.
// Call [Reloader.Run] to follow changes to the files.
func New(opts Options) (*Reloader, error) {
	var problems []error
	if opts.CertFile == "" {
		problems = append(problems, errors.New("tlsreload: no certificate file"))
	}
	if opts.KeyFile == "" {
		problems = append(problems, errors.New("tlsreload: no key file"))
	}
	if opts.Interval < 0 {
		problems = append(problems, fmt.Errorf("tlsreload: negative interval %v", opts.Interval))
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	r := &Reloader{
		certFile: opts.CertFile,
		keyFile:  opts.KeyFile,
		interval: opts.Interval,
		log:      opts.Logger,
		now:      opts.Now,
	}
	if r.interval == 0 {
		r.interval = DefaultInterval
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if _, err := r.load(context.Background(), true); err != nil {
		return nil, err
	}
	return r, nil
}

// GetCertificate returns the current pair. It has the signature of
// [tls.Config.GetCertificate].
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cur.Load().cert, nil
}

// Reload loads the files now. It returns nil when the pair in the files
// is in service (newly loaded or unchanged), and otherwise an error
// saying why the files were refused; the previous pair stays in service.
// The refusal is logged too.
func (r *Reloader) Reload() error {
	_, err := r.load(context.Background(), true)
	return err
}

// Run looks at the files every interval and loads them when they
// changed, until ctx is done. A refused pair is logged once, until the
// files change again.
func (r *Reloader) Run(ctx context.Context) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.load(ctx, false)
		}
	}
}

// Config returns a server configuration that serves r's current pair:
// TLS 1.2 and later, with Go's default cipher suites and key exchanges
// (which follow each Go release). Use it with [net/http.Server.ServeTLS]
// and empty file names; ServeTLS adds the HTTP/2 and HTTP/1.1 protocol
// names.
func Config(r *Reloader) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.GetCertificate,
	}
}

// load reads and parses the files and puts the pair in service when it
// differs from the current one. When explicit is false (a periodic look),
// a refusal already logged is not logged again.
func (r *Reloader) load(ctx context.Context, explicit bool) (changed bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.cur.Load()

	certPEM, keyPEM, err := r.read()
	if err != nil {
		return false, r.refuse(ctx, explicit, "read:"+err.Error(), err)
	}
	defer clear(keyPEM)
	digest := pairDigest(certPEM, keyPEM)
	if cur != nil && digest == cur.digest {
		r.lastFailure = ""
		return false, nil
	}
	cert, err := r.parse(certPEM, keyPEM)
	if err != nil {
		return false, r.refuse(ctx, explicit, hex.EncodeToString(digest[:]), err)
	}
	r.cur.Store(&loaded{cert: cert, digest: digest})
	r.lastFailure = ""
	leaf := cert.Leaf
	fp := sha256.Sum256(leaf.Raw)
	r.log.LogAttrs(ctx, slog.LevelInfo, "tlsreload: certificate loaded",
		slog.String("cert_file", r.certFile), slog.String("key_file", r.keyFile),
		slog.String("subject", leaf.Subject.String()), slog.Any("dns_names", leaf.DNSNames),
		slog.Time("not_after", leaf.NotAfter), slog.String("sha256", hex.EncodeToString(fp[:])))
	return true, nil
}

// refuse logs err unless it is a periodic look at a failure already
// logged, and returns err.
func (r *Reloader) refuse(ctx context.Context, explicit bool, id string, err error) error {
	if r.cur.Load() == nil {
		return err // New reports it; nothing in service yet
	}
	if explicit || id != r.lastFailure {
		r.log.LogAttrs(ctx, slog.LevelError, "tlsreload: certificate files refused; still serving the previous certificate",
			slog.String("cert_file", r.certFile), slog.String("key_file", r.keyFile), slog.String("error", err.Error()))
	}
	r.lastFailure = id
	return err
}

// read returns the contents of both files.
func (r *Reloader) read() (certPEM, keyPEM []byte, err error) {
	certPEM, err = readFile(r.certFile, false)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = readFile(r.keyFile, true)
	if err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

// parse checks that the pair matches and that the leaf certificate has
// not expired. Its errors never quote the key.
func (r *Reloader) parse(certPEM, keyPEM []byte) (*tls.Certificate, error) {
	if err := checkComplete(certPEM); err != nil {
		return nil, fmt.Errorf("tlsreload: %s: %w", r.certFile, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// crypto/tls's messages name the problem, never the key bytes.
		return nil, fmt.Errorf("tlsreload: %s and %s: %w", r.certFile, r.keyFile, err)
	}
	if cert.Leaf == nil {
		return nil, fmt.Errorf("tlsreload: %s: no leaf certificate", r.certFile)
	}
	if now := r.now(); now.After(cert.Leaf.NotAfter) {
		return nil, fmt.Errorf("tlsreload: %s: certificate expired at %s", r.certFile, cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return &cert, nil
}

// checkComplete refuses a PEM file with anything but white space after
// its last complete block: a chain file cut short in a later certificate
// would otherwise load as the blocks before the cut (pem.Decode stops at
// the first incomplete block), and clients would be sent a chain without
// its intermediates.
func checkComplete(b []byte) error {
	rest := b
	for {
		block, r := pem.Decode(rest)
		if block == nil {
			break
		}
		rest = r
	}
	if len(bytes.TrimSpace(rest)) != 0 && len(rest) != len(b) {
		return errors.New("data after the last complete PEM block (a file still being written?)")
	}
	return nil
}

// checkKeyMode applies PostgreSQL's rule for its server key: mode 0600
// or less, or 0640 or less when root owns the file (an administrator
// shares the key with the server through a group, as Debian's ssl-cert
// group or a Kubernetes secret volume with fsGroup do). Anything others
// may access, or the group may write, is refused. Modes mean nothing on
// Windows.
func checkKeyMode(path string, fi os.FileInfo) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	perm := fi.Mode().Perm()
	if perm&0o077 == 0 || ownedByRoot(fi) && perm&0o037 == 0 {
		return nil
	}
	return fmt.Errorf("tlsreload: key file %s is accessible by group or others (mode %04o); run: chmod 600 %s (or, for a key owned by root and shared through its group, chmod 640)", path, perm, path)
}

// pairDigest identifies the contents of both files.
func pairDigest(certPEM, keyPEM []byte) [sha256.Size]byte {
	c, k := sha256.Sum256(certPEM), sha256.Sum256(keyPEM)
	return sha256.Sum256(append(c[:], k[:]...))
}

// readFile reads a regular file of at most MaxFileSize bytes. A private
// key file must pass checkKeyMode.
func readFile(path string, private bool) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tlsreload: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("tlsreload: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("tlsreload: %s is not a regular file", path)
	}
	if private {
		if err := checkKeyMode(path, fi); err != nil {
			return nil, err
		}
	}
	if fi.Size() > MaxFileSize {
		return nil, fmt.Errorf("tlsreload: %s holds %d bytes; want at most %d", path, fi.Size(), MaxFileSize)
	}
	// Read exactly the size stat reported, and check that nothing
	// follows: a file rewritten while being read is refused (and looked
	// at again next time), and the key is in one buffer load can clear.
	b := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("tlsreload: %s changed while being read: %w", path, err)
	}
	if n, _ := f.Read(make([]byte, 1)); n != 0 {
		clear(b)
		return nil, fmt.Errorf("tlsreload: %s changed while being read", path)
	}
	return b, nil
}
