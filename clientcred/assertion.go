package clientcred

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/internal/redact"
)

// AssertionSource supplies the signed JWT a client presents instead of a
// client secret: a client assertion it signs itself ([PrivateKeyAssertion],
// RFC 7523 private_key_jwt), or an identity token an external issuer gave
// the workload ([TokenFileAssertion] for a Kubernetes projected
// service-account token, [GitHubActionsAssertion] for a GitHub Actions
// job). [Config].AssertionGrant says how the token endpoint receives it.
//
// Assertion is called once per token request attempt, so each attempt
// carries a fresh assertion. Implementations must be safe for concurrent
// use and must never put the assertion, or a credential used to obtain
// it, in an error.
type AssertionSource interface {
	Assertion(ctx context.Context, r AssertionRequest) (string, error)
}

// AssertionRequest is what a [TokenSource] knows when it asks an
// [AssertionSource] for an assertion.
type AssertionRequest struct {
	// ClientID is [Config].ClientID ("" when not configured).
	ClientID string
	// TokenURL is the token endpoint the assertion is sent to (configured
	// or discovered): the audience of a private_key_jwt assertion.
	TokenURL string
}

// AssertionGrant says how [Config].Assertion is sent to the token
// endpoint.
type AssertionGrant int

const (
	// AssertionClientAuth sends the assertion as client authentication of
	// the client credentials grant: client_assertion_type
	// urn:ietf:params:oauth:client-assertion-type:jwt-bearer and
	// client_assertion (RFC 7523 section 2.2), with client_id when
	// ClientID is set. It is the zero value and what private_key_jwt
	// clients use.
	AssertionClientAuth AssertionGrant = iota
	// AssertionJWTBearer uses the assertion as the authorization grant
	// itself: grant_type urn:ietf:params:oauth:grant-type:jwt-bearer and
	// assertion (RFC 7523 section 2.1).
	AssertionJWTBearer
	// AssertionTokenExchange exchanges the assertion for an access token
	// (RFC 8693): grant_type
	// urn:ietf:params:oauth:grant-type:token-exchange, subject_token and
	// subject_token_type ([Config].SubjectTokenType).
	AssertionTokenExchange
)

// Grant types, assertion and token types of RFC 7523 and RFC 8693.
const (
	ClientAssertionType    = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	GrantTypeJWTBearer     = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	TokenTypeJWT           = "urn:ietf:params:oauth:token-type:jwt"
	TokenTypeIDToken       = "urn:ietf:params:oauth:token-type:id_token"
	TokenTypeAccessToken   = "urn:ietf:params:oauth:token-type:access_token"
)

// Bounds of assertions.
const (
	// DefaultAssertionLifetime is how long a [PrivateKeyAssertion] is
	// valid when Lifetime is 0; MaxAssertionLifetime is the most it may
	// be (m2m's server refuses an assertion valid for more than 5
	// minutes by default).
	DefaultAssertionLifetime = 2 * time.Minute
	MaxAssertionLifetime     = 5 * time.Minute
	// MaxAssertionBytes caps an assertion read from a file or fetched
	// from GitHub.
	MaxAssertionBytes = 16 << 10
	// maxPrivateKeyBytes caps a private key file.
	maxPrivateKeyBytes = 64 << 10
)

var (
	_ AssertionSource = (*PrivateKeyAssertion)(nil)
	_ AssertionSource = (*TokenFileAssertion)(nil)
	_ AssertionSource = (*GitHubActionsAssertion)(nil)
)

// PrivateKey is a private signing key for client assertions, with the
// key id and algorithm the assertions name. Its String and LogValue never
// show the key. It is immutable and safe for concurrent use.
type PrivateKey struct {
	signer crypto.Signer
	// KeyID is the kid of the assertions: the JWK's kid, or else the
	// RFC 7638 SHA-256 thumbprint of the public key (base64url), which
	// [PrivateKey.PublicJWKS] publishes too.
	KeyID string
	// Algorithm is the JWS algorithm: the JWK's alg, or else RS256 for
	// RSA, ES256/ES384/ES512 by curve, EdDSA for Ed25519.
	Algorithm string
}

// String never shows the key.
func (k *PrivateKey) String() string {
	return "clientcred.PrivateKey{" + k.Algorithm + " kid=" + k.KeyID + " [REDACTED]}"
}

// LogValue never shows the key.
func (k *PrivateKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kid", k.KeyID), slog.String("alg", k.Algorithm))
}

// Public returns the public key.
func (k *PrivateKey) Public() crypto.PublicKey { return k.signer.Public() }

// PublicJWKS returns the JWK Set of the public key, with the key's kid
// and alg and "use": "sig": the document to register the client with
// (m2m client create --auth-method private_key_jwt --jwks FILE).
func (k *PrivateKey) PublicJWKS() ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.signer.Public(), KeyID: k.KeyID, Algorithm: k.Algorithm, Use: "sig"}}}
	return json.Marshal(set)
}

// ParsePrivateKey reads a private key: PEM ("PRIVATE KEY" PKCS #8, "EC
// PRIVATE KEY" SEC 1 or "RSA PRIVATE KEY" PKCS #1), a private JWK, or a
// JWK Set holding exactly one private key. RSA keys must have at least
// 2048 bits; encrypted PEM is refused. Errors never contain key material.
func ParsePrivateKey(data []byte) (*PrivateKey, error) {
	if len(data) > maxPrivateKeyBytes {
		return nil, fmt.Errorf("clientcred: private key larger than %d bytes", maxPrivateKeyBytes)
	}
	t := strings.TrimSpace(string(data))
	var (
		signer   crypto.Signer
		kid, alg string
		err      error
	)
	if strings.HasPrefix(t, "{") {
		signer, kid, alg, err = parsePrivateJWK([]byte(t))
	} else {
		signer, err = parsePrivatePEM([]byte(t))
	}
	if err != nil {
		return nil, err
	}
	return newPrivateKey(signer, kid, alg)
}

// ReadPrivateKeyFile reads a private key file with [ParsePrivateKey].
func ReadPrivateKeyFile(path string) (*PrivateKey, error) {
	b, err := readCapped(path, maxPrivateKeyBytes)
	if err != nil {
		return nil, fmt.Errorf("clientcred: private key: %w", err)
	}
	return ParsePrivateKey(b)
}

// NewPrivateKey wraps a private key (*rsa.PrivateKey, *ecdsa.PrivateKey
// or ed25519.PrivateKey) with kid and alg; "" picks them as
// [ParsePrivateKey] does.
func NewPrivateKey(key crypto.Signer, kid, alg string) (*PrivateKey, error) {
	return newPrivateKey(key, kid, alg)
}

func newPrivateKey(signer crypto.Signer, kid, alg string) (*PrivateKey, error) {
	def := ""
	switch k := signer.(type) {
	case *rsa.PrivateKey:
		if k == nil || k.N == nil {
			return nil, errors.New("clientcred: private key: incomplete RSA key")
		}
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("clientcred: private key: RSA key of %d bits, want at least 2048", k.N.BitLen())
		}
		def = "RS256"
	case *ecdsa.PrivateKey:
		if k == nil || k.Curve == nil {
			return nil, errors.New("clientcred: private key: incomplete EC key")
		}
		switch k.Curve {
		case elliptic.P256():
			def = "ES256"
		case elliptic.P384():
			def = "ES384"
		case elliptic.P521():
			def = "ES512"
		default:
			return nil, errors.New("clientcred: private key: unsupported curve")
		}
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, errors.New("clientcred: private key: bad Ed25519 key")
		}
		def = "EdDSA"
	default:
		return nil, fmt.Errorf("clientcred: private key: unsupported key type %T", signer)
	}
	if alg == "" {
		alg = def
	}
	if !algFits(alg, def) {
		return nil, fmt.Errorf("clientcred: private key: algorithm %q does not fit the key", alg)
	}
	if kid == "" {
		tp, err := (&jose.JSONWebKey{Key: signer.Public()}).Thumbprint(crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("clientcred: private key: %v", err)
		}
		kid = base64.RawURLEncoding.EncodeToString(tp)
	}
	return &PrivateKey{signer: signer, KeyID: kid, Algorithm: alg}, nil
}

// algFits reports whether alg may sign with a key whose default
// algorithm is def.
func algFits(alg, def string) bool {
	switch def {
	case "RS256":
		return alg == "RS256" || alg == "RS384" || alg == "RS512" || alg == "PS256" || alg == "PS384" || alg == "PS512"
	}
	return alg == def
}

func parsePrivatePEM(data []byte) (crypto.Signer, error) {
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("clientcred: private key: no PEM private key block and not a JWK")
		}
		var (
			k   any
			err error
		)
		switch b.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("clientcred: private key: encrypted PEM is not supported; decrypt it into a 0600 file")
		default:
			continue // EC PARAMETERS, a certificate, ...
		}
		if err != nil {
			return nil, fmt.Errorf("clientcred: private key: malformed %s block", b.Type)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("clientcred: private key: unsupported key type %T", k)
		}
		return s, nil
	}
}

func parsePrivateJWK(data []byte) (crypto.Signer, string, string, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, "", "", errors.New("clientcred: private key: malformed JSON")
	}
	if set.Keys != nil {
		if len(set.Keys) != 1 {
			return nil, "", "", fmt.Errorf("clientcred: private key: a JWK Set of %d keys; want exactly one", len(set.Keys))
		}
		data = set.Keys[0]
	}
	var jk jose.JSONWebKey
	if err := jk.UnmarshalJSON(data); err != nil {
		return nil, "", "", errors.New("clientcred: private key: malformed JWK")
	}
	if jk.IsPublic() {
		return nil, "", "", errors.New("clientcred: private key: the JWK is a public key")
	}
	if jk.Use != "" && jk.Use != "sig" {
		return nil, "", "", fmt.Errorf("clientcred: private key: JWK use %q, want sig", jk.Use)
	}
	s, ok := jk.Key.(crypto.Signer)
	if !ok {
		return nil, "", "", fmt.Errorf("clientcred: private key: unsupported JWK key type %T", jk.Key)
	}
	return s, jk.KeyID, jk.Algorithm, nil
}

// PrivateKeyAssertion signs a fresh client assertion for each token
// request (RFC 7523 section 2.2, OpenID Connect private_key_jwt): iss and
// sub the client id, aud the token endpoint URL, iat now, exp Lifetime
// ahead, a new 128-bit random jti, and the key's kid in the header. Its
// zero value has no key and fails. It is safe for concurrent use.
type PrivateKeyAssertion struct {
	// Key signs the assertions. Required.
	Key *PrivateKey
	// Lifetime is how long an assertion is valid; zero means
	// [DefaultAssertionLifetime]; more than [MaxAssertionLifetime] is an
	// error.
	Lifetime time.Duration
	// Audience overrides the aud claim; "" means the token endpoint URL.
	Audience string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Assertion signs an assertion for r.ClientID to r.TokenURL.
func (a *PrivateKeyAssertion) Assertion(_ context.Context, r AssertionRequest) (string, error) {
	if a.Key == nil || a.Key.signer == nil {
		return "", errors.New("clientcred: PrivateKeyAssertion has no Key")
	}
	if r.ClientID == "" {
		return "", ErrMissingClientID
	}
	life := a.Lifetime
	if life == 0 {
		life = DefaultAssertionLifetime
	}
	if life < 0 || life > MaxAssertionLifetime {
		return "", fmt.Errorf("clientcred: assertion lifetime %v: want 0 to %v", life, MaxAssertionLifetime)
	}
	aud := a.Audience
	if aud == "" {
		aud = r.TokenURL
	}
	now := time.Now()
	if a.Now != nil {
		now = a.Now()
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", fmt.Errorf("clientcred: assertion jti: %w", err)
	}
	claims := struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Aud string `json:"aud"`
		Iat int64  `json:"iat"`
		Exp int64  `json:"exp"`
		Jti string `json:"jti"`
	}{r.ClientID, r.ClientID, aud, now.Unix(), now.Add(life).Unix(), base64.RawURLEncoding.EncodeToString(jti[:])}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	tok, err := jws.Sign(a.Key.Algorithm, a.Key.signer, jws.HeaderJSON(a.Key.Algorithm, a.Key.KeyID, "JWT"), payload)
	if err != nil {
		return "", fmt.Errorf("clientcred: signing the assertion: %w", err)
	}
	return tok, nil
}

// TokenFileAssertion reads the assertion from a file at every token
// request: a Kubernetes projected service-account token, which the
// kubelet rewrites before it expires, or any other identity token a
// workload is given as a file. The file is read up to
// [MaxAssertionBytes]; surrounding white space is dropped.
type TokenFileAssertion struct {
	// Path of the token file. Required.
	Path string
}

// Assertion returns the file's current content.
func (a *TokenFileAssertion) Assertion(context.Context, AssertionRequest) (string, error) {
	if a.Path == "" {
		return "", errors.New("clientcred: TokenFileAssertion has no Path")
	}
	b, err := readCapped(a.Path, MaxAssertionBytes)
	if err != nil {
		return "", fmt.Errorf("clientcred: assertion file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("clientcred: assertion file %s is empty", a.Path)
	}
	return tok, nil
}

// readCapped reads at most limit bytes of path, failing beyond.
func readCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

// assertionRequest builds a token request that carries an assertion from
// Config.Assertion, as Config.AssertionGrant says.
func (s *TokenSource) assertionRequest(ctx context.Context, tokenURL string) (*http.Request, string, error) {
	c := &s.cfg
	assertion, err := c.Assertion.Assertion(ctx, AssertionRequest{ClientID: c.ClientID, TokenURL: tokenURL})
	if err != nil {
		return nil, "", err
	}
	if assertion == "" {
		return nil, "", errors.New("clientcred: the assertion source returned no assertion")
	}
	v := url.Values{}
	switch c.AssertionGrant {
	case AssertionJWTBearer:
		v.Set("grant_type", GrantTypeJWTBearer)
		v.Set("assertion", assertion)
	case AssertionTokenExchange:
		typ := c.SubjectTokenType
		if typ == "" {
			typ = TokenTypeJWT
		}
		v.Set("grant_type", GrantTypeTokenExchange)
		v.Set("subject_token", assertion)
		v.Set("subject_token_type", typ)
	default:
		v.Set("grant_type", "client_credentials")
		v.Set("client_assertion_type", ClientAssertionType)
		v.Set("client_assertion", assertion)
	}
	if c.ClientID != "" && c.AssertionGrant == AssertionClientAuth {
		v.Set("client_id", c.ClientID)
	}
	if c.Audience != "" {
		v.Set("audience", c.Audience)
	}
	if len(c.Scopes) > 0 {
		v.Set("scope", strings.Join(c.Scopes, " "))
	}
	for k, vs := range c.EndpointParams {
		v[k] = append([]string(nil), vs...)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(v.Encode()))
	if err != nil {
		return nil, "", fmt.Errorf("clientcred: token request: %w", redact.Error(err, tokenURL))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	return req, assertion, nil
}
