package jwtauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/internal/jsonstr"
	"github.com/m2mkit/m2m/internal/jws"
)

// DefaultTTL is the lifetime of a device token when DeviceTokens.TTL is 0.
const DefaultTTL = time.Hour

// MinKeyBytes is the shortest secret [DeviceTokens] accepts: 256 bits, as
// RFC 7518 section 3.2 requires for HS256.
const MinKeyBytes = 32

// Sign returns the compact JWS of a claims set: payload is the claims JSON
// object exactly as it is to be encoded, h names the algorithm and
// optionally a kid and typ ("" means "JWT"). The header is serialized with
// sorted keys and no spaces, as PyJWT writes it, so a token made here from
// the same payload bytes is identical to PyJWT's. key is []byte (or
// m2m.Secret) for HS256/384/512, *rsa.PrivateKey for RS*/PS*,
// *ecdsa.PrivateKey for ES*, ed25519.PrivateKey for EdDSA.
func Sign(h Header, key any, payload []byte) (string, error) {
	if s, ok := key.(m2m.Secret); ok {
		key = []byte(s)
	}
	if !json.Valid(payload) || len(payload) == 0 || payload[0] != '{' {
		return "", errors.New("jwtauth: the payload is not a JSON object")
	}
	typ := h.Typ
	if typ == "" {
		typ = "JWT"
	}
	tok, err := jws.Sign(h.Alg, key, jws.HeaderJSON(h.Alg, h.Kid, typ), payload)
	if err != nil {
		return "", fmt.Errorf("jwtauth: %w", err)
	}
	return tok, nil
}

// DeviceTokens issues and verifies the short-lived tokens of the device
// pattern (the microdot auth recipe): after a password login the device
// signs {"sub": user, "exp": now+TTL, "iat": now} with a secret kept in a
// file, and checks the token on every later request. Tokens are
// PyJWT-compatible: the recipe's Python code verifies them and they verify
// here.
//
// Keys[0] signs; every key verifies, so after secretfile.Rotate tokens
// signed with the previous secrets keep working until they expire. Pass
// secretfile.Keys.All().
//
// A DeviceTokens is safe for concurrent use; do not change its fields
// while it is in use.
type DeviceTokens struct {
	// Keys are the HMAC secrets, current first; each must be at least
	// MinKeyBytes long. Without keys every call fails.
	Keys []m2m.Secret
	// Algorithm is "HS256" (when empty), "HS384" or "HS512". Only this
	// algorithm verifies.
	Algorithm string
	// TTL is the token lifetime; zero means [DefaultTTL].
	TTL time.Duration
	// Issuer and Audience, if set, are written into every token and
	// required on verification. Empty means tokens carry none.
	Issuer, Audience string
	// OmitIssuedAt leaves out "iat", writing {"sub", "exp"} exactly as the
	// microdot recipe's login does.
	OmitIssuedAt bool
	// Leeway is the clock skew allowed on verification; zero means
	// [DefaultLeeway] and [NoLeeway] means none.
	Leeway time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

var _ TokenIssuer = (*DeviceTokens)(nil)

func (d *DeviceTokens) alg() string {
	if d.Algorithm == "" {
		return "HS256"
	}
	return d.Algorithm
}

func (d *DeviceTokens) check() error {
	if !jws.IsHMAC(d.alg()) {
		return fmt.Errorf("jwtauth: DeviceTokens.Algorithm %q is not HS256, HS384 or HS512", d.Algorithm)
	}
	if len(d.Keys) == 0 {
		return errors.New("jwtauth: DeviceTokens has no Keys")
	}
	for i, k := range d.Keys {
		if len(k) < MinKeyBytes {
			return fmt.Errorf("jwtauth: DeviceTokens key %d is %d bytes; want at least %d", i, len(k), MinKeyBytes)
		}
	}
	return nil
}

func (d *DeviceTokens) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Issue returns a token for subject, valid for TTL from now:
// {"sub", "exp", "iat"} (plus "iss" and "aud" when set), exp and iat in
// whole seconds, header {"alg":"HS256","typ":"JWT"}.
func (d *DeviceTokens) Issue(subject string) (string, error) {
	if err := d.check(); err != nil {
		return "", err
	}
	if subject == "" {
		return "", errors.New("jwtauth: empty subject")
	}
	ttl := d.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl < time.Second {
		return "", fmt.Errorf("jwtauth: DeviceTokens.TTL %v is shorter than a second", ttl)
	}
	now := d.now().Unix()
	buf := make([]byte, 0, 128)
	buf = append(buf, `{"sub":`...)
	buf = jsonstr.Append(buf, subject)
	buf = append(buf, `,"exp":`...)
	buf = strconv.AppendInt(buf, now+int64(ttl/time.Second), 10)
	if !d.OmitIssuedAt {
		buf = append(buf, `,"iat":`...)
		buf = strconv.AppendInt(buf, now, 10)
	}
	if d.Issuer != "" {
		buf = append(buf, `,"iss":`...)
		buf = jsonstr.Append(buf, d.Issuer)
	}
	if d.Audience != "" {
		buf = append(buf, `,"aud":`...)
		buf = jsonstr.Append(buf, d.Audience)
	}
	buf = append(buf, '}')
	return Sign(Header{Alg: d.alg()}, []byte(d.Keys[0]), buf)
}

// IssueToken implements [TokenIssuer] with [DeviceTokens.Issue].
func (d *DeviceTokens) IssueToken(_ context.Context, subject string) (string, error) {
	return d.Issue(subject)
}

// Validator returns the verification policy of d's tokens: its algorithm
// only, exp required, its issuer and audience if set (otherwise a token
// naming an audience is refused), its leeway and clock.
func (d *DeviceTokens) Validator() *Validator {
	v := &Validator{
		Algorithms:        []string{d.alg()},
		Issuer:            d.Issuer,
		SkipIssuerCheck:   d.Issuer == "",
		SkipAudienceCheck: d.Audience == "",
		Leeway:            d.Leeway,
		Now:               d.Now,
	}
	if d.Audience != "" {
		v.Audience = []string{d.Audience}
	}
	return v
}

// Verify checks a device token against every key and returns its claims.
// A device token names its subject: a token without a "sub", or with an
// empty one, is refused (missing_claim) even when signed with d's key,
// since its Principal would name nobody. A refused token is a
// [*m2m.CredentialError] with a stable reason.
func (d *DeviceTokens) Verify(ctx context.Context, token string) (*Claims, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	c, err := d.Validator().Verify(ctx, token, Secrets(d.Keys...))
	if err != nil {
		return nil, err
	}
	if c.Subject == "" {
		return nil, m2m.Invalid(m2m.SchemeBearer, m2m.ReasonMissingClaim, `the token has no "sub" claim`)
	}
	return c, nil
}

// CheckToken verifies token and returns its Principal: the subject,
// scheme m2m.SchemeBearer, the audience, the expiry and all claims. Its
// signature fits [TokenAuth].Check.
func (d *DeviceTokens) CheckToken(r *http.Request, token string) (*m2m.Principal, error) {
	c, err := d.Verify(r.Context(), token)
	if err != nil {
		return nil, err
	}
	return c.Principal(), nil
}

// Principal returns a Principal for the claims: Subject from sub, Scheme
// m2m.SchemeBearer, Audience, ExpiresAt and Claims (the raw claims).
// Scopes are nil; a caller with scoped tokens sets them.
func (c *Claims) Principal() *m2m.Principal {
	return &m2m.Principal{
		Subject:   c.Subject,
		Scheme:    m2m.SchemeBearer,
		Audience:  c.Audience,
		ExpiresAt: c.ExpiresAt,
		Claims:    c.Raw,
	}
}
