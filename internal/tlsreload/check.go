package tlsreload

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
)

// Check looks at the files now, as one look of [Reloader.Run] does: it
// loads them when their content changed, and logs a refusal once until
// the files change again. It returns the pair in service and the SHA-256
// digest of the contents of the files that pair was loaded from, which
// changes exactly when a new pair is put in service.
//
// A client presenting a certificate (mutual TLS) calls it instead of
// running Run: at each handshake, and before a request that should not
// go out with a certificate replaced on disk.
func (r *Reloader) Check(ctx context.Context) (*tls.Certificate, [sha256.Size]byte) {
	r.load(ctx, false)
	cur := r.cur.Load()
	return cur.cert, cur.digest
}
