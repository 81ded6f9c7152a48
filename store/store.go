// Package store is the storage vocabulary of the m2m token server: the
// records it keeps ([Client], [SigningKey], revocations, [TrustPolicy]) and the small
// interfaces backends implement. Backends live in sqlstore (SQLite by
// default, PostgreSQL) and redisstore; package storetest is the conformance
// suite every backend's tests run.
//
// Conventions: a miss returns [ErrNotFound]; creating an existing record
// returns [ErrConflict]; read-modify-write goes through an updater function
// that the backend runs atomically, holding a lock on what it read (a row
// lock, an advisory lock or SQLite's write lock) until it has written, so
// concurrent updates queue and none is lost; an update is never retried,
// so the updater runs exactly once per call. Records returned are copies
// the caller owns.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors every backend returns for the same conditions.
var (
	ErrNotFound = errors.New("store: not found")
	ErrConflict = errors.New("store: already exists")
	// ErrNoExpiry is returned by RevokeToken for a zero expiry: a
	// revocation is kept until the token it revokes expires, so without an
	// expiry it would either be dropped at once (revoking nothing) or kept
	// forever.
	ErrNoExpiry = errors.New("store: revocation needs an expiry")
	// ErrInUse is returned for a delete of a record that others name (a
	// client that trust policies name: see [ClientInUseError]); nothing
	// is deleted.
	ErrInUse = errors.New("store: in use")
)

// Client is an OAuth2 client registered with the token server.
type Client struct {
	ID   string
	Name string
	// SecretHash is the digest of the client secret: SHA-256 of the secret
	// for server-generated (256-bit) secrets, or a PHC string of a slow KDF
	// for imported ones (SecretAlgorithm says which).
	SecretHash      []byte
	SecretAlgorithm string // "sha256" (server-generated) or "argon2id"
	// PreviousSecretHash still authenticates until PreviousSecretExpiresAt,
	// so a rotated secret can be rolled out without downtime.
	PreviousSecretHash      []byte
	PreviousSecretAlgorithm string
	PreviousSecretExpiresAt time.Time

	Audiences []string // audiences the client may request; the first is the default
	Scopes    []string // scopes the client may request
	// TokenTTL overrides the server's access-token lifetime (0: default).
	TokenTTL time.Duration
	// RateLimit overrides the server's per-client token bucket: tokens per
	// second and burst (0: default).
	RateLimitPerSecond float64
	RateLimitBurst     int
	// Profile selects the access-token format: "" (server default),
	// "rfc9068" or "auth0".
	Profile  string
	Disabled bool
	// RevokedBefore, when set, invalidates every token issued to the
	// client before it.
	RevokedBefore time.Time
	// Metadata is free-form operator data (owner, ticket, ...).
	Metadata map[string]string

	// AuthMethod is how the client authenticates at the token endpoint
	// (RFC 7591 token_endpoint_auth_method): "" (the default: its secret,
	// in HTTP Basic or in the form body, as [AuthMethodClientSecretBasic]
	// and [AuthMethodClientSecretPost] together),
	// [AuthMethodClientSecretBasic] or [AuthMethodClientSecretPost] (its
	// secret, in that way only), or [AuthMethodPrivateKeyJWT] (a JWT
	// signed with one of its keys, RFC 7523 section 2.2; such a client
	// has no secret).
	AuthMethod string
	// JWKS is the JWK Set document (RFC 7517 section 5) of a
	// private_key_jwt client's public keys, when they are registered by
	// value; JWKSURI is the https URL of that document, when they are
	// fetched. A private_key_jwt client has exactly one of the two; other
	// clients have neither.
	JWKS    []byte
	JWKSURI string
	// RequireDPoP, when set, makes the token endpoint refuse the client's
	// token requests that carry no DPoP proof (RFC 9449): its tokens are
	// always sender-constrained. False: a proof is optional.
	RequireDPoP bool

	// TLSSubject, TLSSANDNS, TLSSANURI, TLSSANIP and TLSSANEmail name the
	// certificate of a [AuthMethodTLSClientAuth] client (RFC 8705 section
	// 2.1.2: tls_client_auth_subject_dn, _san_dns, _san_uri, _san_ip,
	// _san_email): such a client has exactly one of them, other clients
	// none. TLSSubject is an RFC 4514 string, compared with the
	// certificate's subject RDN by RDN, attribute types by OID and values
	// exactly; a SAN matches when the certificate lists it among its
	// subject alternative names of that kind (DNS names without regard to
	// case, IP addresses as addresses).
	TLSSubject  string
	TLSSANDNS   string
	TLSSANURI   string
	TLSSANIP    string
	TLSSANEmail string
	// TLSClientCertificateBoundAccessTokens (RFC 8705 section 3.4), when
	// set, binds the tokens of a client that authenticates otherwise (a
	// secret, private_key_jwt) to the client certificate its token request
	// came over, when it presented one. The tokens of the two mutual-TLS
	// methods are always bound.
	TLSClientCertificateBoundAccessTokens bool
	// QuotaHourly and QuotaDaily cap the tokens issued to the client in
	// a clock hour and a UTC day, across every replica (0: no quota).
	// QuotaMode says what happens past a quota: [QuotaEnforce] (also
	// meant by "") refuses with 429 until the window resets,
	// [QuotaMonitor] lets the request through and only reports it.
	QuotaHourly int64
	QuotaDaily  int64
	QuotaMode   string
	// SecretCreatedAt is when the client's current secret was made (at
	// creation or the last rotation); zero when unknown.
	SecretCreatedAt time.Time

	CreatedAt time.Time
	UpdatedAt time.Time
}

// KeyState is a signing key's place in its lifecycle.
type KeyState string

// The lifecycle: a key is published as next before it signs, signs while
// active, stays published while retiring (until every token it signed has
// expired), and is then retired (no longer published, kept for audit or
// deleted). A key revoked in an emergency (compromised) leaves the key
// set at once from any state and never signs or verifies again.
const (
	KeyNext     KeyState = "next"
	KeyActive   KeyState = "active"
	KeyRetiring KeyState = "retiring"
	KeyRetired  KeyState = "retired"
	KeyRevoked  KeyState = "revoked"
)

// SigningKey is one token-signing key.
type SigningKey struct {
	ID        string // the JWS kid
	Algorithm string // ES256, EdDSA, RS256, ...
	State     KeyState
	// PrivateKey is the sealed (encrypted) PKCS#8 private key; only package
	// keyring can open it, with the server's master secret.
	PrivateKey []byte
	// PublicJWK is the public key as a JWK JSON object.
	PublicJWK []byte

	CreatedAt time.Time
	// ActivatedAt is when the key became active or, while it is next, when
	// it is due to become active (the end of its pre-publication period).
	ActivatedAt time.Time
	RetiredAt   time.Time // when it stopped signing; zero while next or active
	// PublishUntil is when a retiring key may leave the key set: the end of
	// the lifetime of the last token it signed.
	PublishUntil time.Time
}

// Clients stores OAuth2 clients.
type Clients interface {
	CreateClient(ctx context.Context, c *Client) error
	GetClient(ctx context.Context, id string) (*Client, error)
	ListClients(ctx context.Context) ([]*Client, error)
	// UpdateClient loads the client, calls update on a copy and stores the
	// result atomically; an error from update aborts and is returned.
	UpdateClient(ctx context.Context, id string, update func(*Client) error) (*Client, error)
	DeleteClient(ctx context.Context, id string) error
}

// Keys stores signing keys.
type Keys interface {
	CreateKey(ctx context.Context, k *SigningKey) error
	GetKey(ctx context.Context, id string) (*SigningKey, error)
	// ListKeys returns every key, oldest first.
	ListKeys(ctx context.Context) ([]*SigningKey, error)
	UpdateKey(ctx context.Context, id string, update func(*SigningKey) error) (*SigningKey, error)
	DeleteKey(ctx context.Context, id string) error
	// UpdateKeys runs update on all keys in one transaction, so that a
	// rotation (next -> active -> retiring) is seen by other replicas
	// either wholly or not at all. update returns the keys to store;
	// keys it drops from the slice are left unchanged, and a returned key
	// whose ID is not in the store is created (so "create the first key if
	// there is none" is atomic too). Two concurrent UpdateKeys calls are
	// serialized: the second sees the first's result.
	UpdateKeys(ctx context.Context, update func([]*SigningKey) ([]*SigningKey, error)) error
}

// Revocations records revoked tokens by jti until their expiry.
type Revocations interface {
	// RevokeToken marks jti revoked until expiry (after which the token is
	// invalid anyway and the record may be dropped). A zero expiry is an
	// error wrapping [ErrNoExpiry]; an expiry already past records nothing
	// and returns nil (the token is invalid anyway). Revoking again never
	// shortens a revocation.
	RevokeToken(ctx context.Context, jti string, expiry time.Time) error
	IsRevoked(ctx context.Context, jti string) (bool, error)
}

// Store is everything the token server keeps in its database.
type Store interface {
	Clients
	Keys
	Revocations
	Settings
	TrustPolicies
	ClientsAndTrustPolicies
	Usage
	Audit
	// Ping reports whether the backend is reachable (for /readyz).
	Ping(ctx context.Context) error
	Close() error
}

// Clone returns a deep copy of c (nil for nil), so that a backend never
// hands out or keeps an alias of a caller's slices and maps.
func (c *Client) Clone() *Client {
	if c == nil {
		return nil
	}
	d := *c
	d.SecretHash = cloneBytes(c.SecretHash)
	d.PreviousSecretHash = cloneBytes(c.PreviousSecretHash)
	d.Audiences = cloneStrings(c.Audiences)
	d.Scopes = cloneStrings(c.Scopes)
	d.JWKS = cloneBytes(c.JWKS)
	if c.Metadata != nil {
		d.Metadata = make(map[string]string, len(c.Metadata))
		for k, v := range c.Metadata {
			d.Metadata[k] = v
		}
	}
	return &d
}

// Clone returns a deep copy of k (nil for nil).
func (k *SigningKey) Clone() *SigningKey {
	if k == nil {
		return nil
	}
	d := *k
	d.PrivateKey = cloneBytes(k.PrivateKey)
	d.PublicJWK = cloneBytes(k.PublicJWK)
	return &d
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string{}, s...)
}
