package clientcred

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/m2mkit/m2m/internal/tlsreload"
)

// CertificateCheckInterval bounds how long a request goes out through
// connections made with a certificate that has been replaced on disk: a
// [ClientCertificate] loaded from files looks at them at every TLS
// handshake, before every token request, and at most this often before
// other requests.
const CertificateCheckInterval = 2 * time.Second

// closeOldConnsAfter is how long connections made with a replaced
// certificate may finish their requests before they are closed.
const closeOldConnsAfter = time.Minute

// ClientCertificate is a TLS client certificate and its private key, for
// mutual TLS (RFC 8705). Set it as Config.ClientCertificate: the token
// request and, through [Transport], every API request present it, and a
// client without a secret or an [AssertionSource] authenticates with it
// (tls_client_auth or self_signed_tls_client_auth): its token request
// carries client_id alone.
//
// One loaded by [LoadClientCertificate] follows its files: a renewed
// certificate (cert-manager, a SPIFFE agent, a cron job) is presented
// from the next TLS handshake on, and the connections made with the old
// one are retired (see [ClientCertificate.RoundTripper]). It is safe for
// concurrent use.
type ClientCertificate struct {
	id    uint64              // names the certificate in the shared token cache
	files *tlsreload.Reloader // nil for a fixed certificate

	mu        sync.Mutex // serializes looks at the files
	cur       atomic.Pointer[certState]
	nextCheck atomic.Int64 // unix nanos before which requests do not look at the files
}

// certState is one certificate in service.
type certState struct {
	cert   *tls.Certificate
	digest [sha256.Size]byte // of the files it came from; zero for a fixed one
	x5t    string            // RFC 8705 thumbprint of the leaf
}

var certIDs atomic.Uint64

// LoadClientCertificate reads a PEM certificate chain (leaf first) and
// the PEM private key of its leaf. Neither file may be larger than 1 MiB;
// the key file must be readable by its owner only (mode 0600; 0640 when
// root owns it and shares it through its group), which is refused
// otherwise (outside Windows), with the chmod that fixes it; a
// certificate that has expired, or does not match the key, is refused.
//
// The files are looked at again at every TLS handshake, before every
// token request and at most every [CertificateCheckInterval] before
// other requests, and a new pair is put in service when their content
// changed. A replacement that
// cannot be used (half written, mismatched, expired) is ignored and the
// certificate in service stays; errors name the files, never the key.
func LoadClientCertificate(certFile, keyFile string) (*ClientCertificate, error) {
	r, err := tlsreload.New(tlsreload.Options{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		return nil, certFileError(err)
	}
	c := &ClientCertificate{id: certIDs.Add(1), files: r}
	cert, digest, _ := r.Check(context.Background()) // New loaded them
	c.cur.Store(newCertState(cert, digest))
	return c, nil
}

// NewClientCertificate returns a fixed certificate: cert must hold a
// certificate chain, leaf first, and the leaf's private key (as
// tls.X509KeyPair returns it). Its validity is not checked: the server
// refuses an expired certificate.
func NewClientCertificate(cert tls.Certificate) (*ClientCertificate, error) {
	if len(cert.Certificate) == 0 || cert.PrivateKey == nil {
		return nil, errors.New("clientcred: client certificate: want a certificate and its private key")
	}
	if cert.Leaf == nil {
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("clientcred: client certificate: %w", err)
		}
		cert.Leaf = leaf
	}
	c := &ClientCertificate{id: certIDs.Add(1)}
	c.cur.Store(newCertState(&cert, [sha256.Size]byte{}))
	return c, nil
}

// certFileError names the package that reports err, a problem of the
// files, and keeps it for errors.Is (fs.ErrNotExist).
func certFileError(err error) error {
	return &certError{msg: "clientcred: client certificate: " + strings.ReplaceAll(err.Error(), "tlsreload: ", ""), err: err}
}

type certError struct {
	msg string
	err error
}

func (e *certError) Error() string { return e.msg }
func (e *certError) Unwrap() error { return e.err }

func newCertState(cert *tls.Certificate, digest [sha256.Size]byte) *certState {
	sum := sha256.Sum256(cert.Leaf.Raw)
	return &certState{cert: cert, digest: digest, x5t: base64.RawURLEncoding.EncodeToString(sum[:])}
}

// GetClientCertificate returns the certificate to present, after looking
// at the files when it was loaded from files. It has the signature of
// [tls.Config.GetClientCertificate], for an HTTP client of your own.
func (c *ClientCertificate) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	st, _ := c.check() // a refused replacement: present the one in service
	return st.cert, nil
}

// Leaf returns the certificate presented now.
func (c *ClientCertificate) Leaf() *x509.Certificate { return c.cur.Load().cert.Leaf }

// Thumbprint returns the X.509 certificate SHA-256 thumbprint of the
// certificate presented now, base64url without padding: the cnf.x5t#S256
// of the tokens bound to it (RFC 8705 section 3.1).
func (c *ClientCertificate) Thumbprint() string { return c.cur.Load().x5t }

// String names the certificate presented now, never the key.
func (c *ClientCertificate) String() string {
	st := c.cur.Load()
	return "clientcred.ClientCertificate{" + st.cert.Leaf.Subject.String() + " x5t#S256=" + st.x5t + "}"
}

// LogValue names the certificate presented now, never the key.
func (c *ClientCertificate) LogValue() slog.Value {
	st := c.cur.Load()
	return slog.GroupValue(slog.String("subject", st.cert.Leaf.Subject.String()),
		slog.String("x5t#S256", st.x5t), slog.Time("not_after", st.cert.Leaf.NotAfter))
}

// check looks at the files now (when there are files) and returns the
// certificate in service, and why the files were refused if they were
// (the certificate in service then stays).
func (c *ClientCertificate) check() (*certState, error) {
	if c.files == nil {
		return c.cur.Load(), nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextCheck.Store(time.Now().Add(CertificateCheckInterval).UnixNano())
	cert, digest, err := c.files.Check(context.Background())
	if cur := c.cur.Load(); cur.digest == digest {
		return cur, err
	}
	st := newCertState(cert, digest)
	c.cur.Store(st)
	return st, err
}

// checkSometimes is check at most every CertificateCheckInterval.
func (c *ClientCertificate) checkSometimes() *certState {
	if c.files == nil || time.Now().UnixNano() < c.nextCheck.Load() {
		return c.cur.Load()
	}
	st, _ := c.check()
	return st
}

// RoundTripper returns an http.RoundTripper that sends requests through
// a clone of base (nil means http.DefaultTransport, when it is an
// *http.Transport) whose TLS handshakes
// present c. When c's files hold a new certificate, requests go through a
// fresh clone, so new connections present the new certificate, and the
// connections made with the old one are closed once idle (within a
// minute): a token bound to the new certificate is not sent over a
// connection made with the old one. Its CloseIdleConnections closes the
// idle connections.
func (c *ClientCertificate) RoundTripper(base *http.Transport) http.RoundTripper {
	if base == nil {
		if dt, ok := http.DefaultTransport.(*http.Transport); ok {
			base = dt
		} else {
			base = &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true, IdleConnTimeout: 90 * time.Second}
		}
	}
	return &certTransport{cc: c, tmpl: base}
}

// certTransport is the RoundTripper of ClientCertificate.RoundTripper.
type certTransport struct {
	cc   *ClientCertificate
	tmpl *http.Transport

	mu  sync.Mutex
	cur atomic.Pointer[certConns]
}

// certConns is the connection pool of one certificate.
type certConns struct {
	x5t string
	t   *http.Transport
}

var _ http.RoundTripper = (*certTransport)(nil)

func (t *certTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.transport(t.cc.checkSometimes()).RoundTrip(req)
}

// CloseIdleConnections closes the idle connections, as
// http.Transport.CloseIdleConnections does.
func (t *certTransport) CloseIdleConnections() {
	if cur := t.cur.Load(); cur != nil {
		cur.t.CloseIdleConnections()
	}
}

// transport returns the pool of the certificate st, replacing the pool
// of an older one.
func (t *certTransport) transport(st *certState) *http.Transport {
	if cur := t.cur.Load(); cur != nil && cur.x5t == st.x5t {
		return cur.t
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.cur.Load()
	if old != nil && old.x5t == st.x5t {
		return old.t
	}
	tr := t.tmpl.Clone()
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tr.TLSClientConfig.Certificates = nil
	tr.TLSClientConfig.GetClientCertificate = t.cc.GetClientCertificate
	if tr.TLSClientConfig.ClientSessionCache != nil {
		// A resumed session keeps the certificate of the handshake it
		// came from: sessions are not shared across certificates.
		tr.TLSClientConfig.ClientSessionCache = tls.NewLRUClientSessionCache(0)
	}
	t.cur.Store(&certConns{x5t: st.x5t, t: tr})
	if old != nil {
		old.t.CloseIdleConnections()
		// Requests in flight on the old connections finish; the
		// connections are closed when idle.
		time.AfterFunc(closeOldConnsAfter, old.t.CloseIdleConnections)
	}
	return tr
}
