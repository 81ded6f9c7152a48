package rolling

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/m2mkit/m2m/outbound"
)

// Transport is an [http.RoundTripper] that adds the current code to each
// request, in the form Wire describes. It never modifies the caller's
// request. It is safe for concurrent use when Base and Codec are.
//
// Every request carries the code of the current step; a server that
// accepts each code once (the default) accepts one request per key and
// step, so choose the period accordingly.
type Transport struct {
	// Codec derives the codes; it is required.
	Codec Codec
	// KeyID is sent with each code unless empty (or Wire.Bare).
	KeyID string
	// Wire is the request form; the zero Wire is "Authorization: Rolling".
	Wire Wire
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Now returns the current time (nil means time.Now).
	Now func() time.Time
}

var _ http.RoundTripper = (*Transport)(nil)

// RoundTrip adds the code to a clone of req and sends it with Base,
// through an [outbound.Transport]: the request body is closed on every
// path, and a redirect that http.Client follows to another origin (scheme
// and host) is sent without a code: the other host could spend a code the
// first one has not seen, and m2m_token codes help an offline search for
// the seed.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ot := outbound.Transport{Authorize: t.authorize, Base: t.Base}
	return ot.RoundTrip(req)
}

// authorize sets the current code on r, a clone of the caller's request.
func (t *Transport) authorize(r *http.Request) error {
	if t.Codec == nil {
		return errors.New("rolling: Transport has no Codec")
	}
	now := time.Now()
	if t.Now != nil {
		now = t.Now()
	}
	code, err := t.Codec.Generate(now)
	if err != nil {
		return fmt.Errorf("rolling: generating code: %w", err)
	}
	keyID := t.KeyID
	if t.Wire.Bare {
		keyID = ""
	}
	r.Header.Set(t.Wire.header(), t.Wire.Format(keyID, code))
	return nil
}
