package tlsreload

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
)

// Check looks at the files now, as one look of [Reloader.Run] does: it
// loads them when their content changed, and logs a refusal once until
// the files change again. It returns the pair in service, the SHA-256
// digest of the contents of the files that pair was loaded from (which
// changes exactly when a new pair is put in service), and why the files
// were refused, if they were (at every look, logged or not).
//
// A client presenting a certificate (mutual TLS) calls it instead of
// running Run: at each handshake, and before a request that should not
// go out with a certificate replaced on disk.
func (r *Reloader) Check(ctx context.Context) (*tls.Certificate, [sha256.Size]byte, error) {
	_, err := r.load(ctx, false)
	cur := r.cur.Load()
	return cur.cert, cur.digest, err
}
