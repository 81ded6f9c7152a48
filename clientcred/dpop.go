package clientcred

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/internal/redact"
	"github.com/m2mkit/m2m/jwk"
)

// DPoPKey is a client's DPoP key (RFC 9449): it signs the proofs that
// bind the client's tokens to it and prove possession on every use. Set
// it as Config.DPoP: the token request then carries a proof and must be
// answered with token_type DPoP, and [Transport] sends each API request
// with "Authorization: DPoP <token>" and a fresh proof for that request's
// method, URL and token.
//
// A DPoPKey also keeps the latest server nonce (DPoP-Nonce) of each
// origin it has seen one from, and puts it in the next proof to that
// origin. It is safe for concurrent use.
type DPoPKey struct {
	key        any    // *ecdsa.PrivateKey, ed25519.PrivateKey or *rsa.PrivateKey
	alg        string // the proof algorithm
	header     []byte // the proof header JSON: alg, typ, jwk
	thumbprint string

	mu     sync.Mutex
	nonces map[string]string // origin -> latest DPoP-Nonce
}

// maxNonceOrigins bounds the nonces a DPoPKey keeps; the map is cleared
// when full. maxNonceBytes bounds one nonce.
const (
	maxNonceOrigins = 256
	maxNonceBytes   = 1024
)

// GenerateDPoPKey returns a new ES256 (P-256) DPoP key from crypto/rand.
func GenerateDPoPKey() (*DPoPKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("clientcred: generating a DPoP key: %w", err)
	}
	return NewDPoPKey(k)
}

// NewDPoPKey returns the DPoP key of a private key: an *ecdsa.PrivateKey
// on P-256, P-384 or P-521 (proofs ES256, ES384, ES512), an
// ed25519.PrivateKey (EdDSA) or an *rsa.PrivateKey of at least 2048 bits
// (RS256), checked as [NewPrivateKey] checks it.
func NewDPoPKey(private crypto.Signer) (*DPoPKey, error) {
	pk, err := newPrivateKey(private, "", "")
	if err != nil {
		return nil, err
	}
	return newDPoPKey(private, pk.Algorithm)
}

// dpopAlgorithms are the proof algorithms a key file may ask for with
// its JWK "alg": those servers accept by default (jwtauth's
// DefaultDPoPAlgorithms).
var dpopAlgorithms = []string{"ES256", "ES384", "ES512", "EdDSA", "PS256", "RS256"}

func newDPoPKey(private crypto.Signer, alg string) (*DPoPKey, error) {
	pub, err := jwk.FromPublic(private.Public(), "", "")
	if err != nil {
		return nil, fmt.Errorf("clientcred: DPoP key: %w", err)
	}
	set, err := jwk.MarshalSet(*pub)
	if err != nil {
		return nil, fmt.Errorf("clientcred: DPoP key: %w", err)
	}
	var doc struct{ Keys []map[string]any }
	if err := json.Unmarshal(set, &doc); err != nil || len(doc.Keys) != 1 {
		return nil, errors.New("clientcred: DPoP key: cannot encode the public key")
	}
	// The public members alone (kty, crv, x, y, n, e).
	for _, m := range []string{"use", "kid", "alg", "key_ops"} {
		delete(doc.Keys[0], m)
	}
	header, err := json.Marshal(map[string]any{"alg": alg, "typ": "dpop+jwt", "jwk": doc.Keys[0]})
	if err != nil {
		return nil, err
	}
	return &DPoPKey{key: private, alg: alg, header: header, thumbprint: pub.Thumbprint}, nil
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of the public key,
// base64url: the cnf.jkt of the tokens bound to it.
func (k *DPoPKey) Thumbprint() string { return k.thumbprint }

// Algorithm returns the proofs' alg.
func (k *DPoPKey) Algorithm() string { return k.alg }

// String names the key by its thumbprint; the private key is never shown.
func (k *DPoPKey) String() string { return "clientcred.DPoPKey{" + k.alg + " " + k.thumbprint + "}" }

// Proof returns a DPoP proof for a request with method to rawURL (its
// query and fragment are left out of htu), made now, with ath for
// accessToken when it is not empty, and the latest nonce of rawURL's
// origin, if any.
func (k *DPoPKey) Proof(method, rawURL, accessToken string) (string, error) {
	return k.proof(method, rawURL, accessToken, time.Now())
}

func (k *DPoPKey) proof(method, rawURL, accessToken string, now time.Time) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("clientcred: DPoP proof for %q: want an absolute http(s) URL", redact.URL(rawURL))
	}
	htu := *u
	htu.RawQuery, htu.ForceQuery, htu.Fragment, htu.RawFragment, htu.User = "", false, "", "", nil
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", fmt.Errorf("clientcred: DPoP proof: %w", err)
	}
	claims := map[string]any{
		"jti": base64.RawURLEncoding.EncodeToString(jti[:]),
		"htm": method,
		"htu": htu.String(),
		"iat": now.Unix(),
	}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		claims["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if n := k.nonce(origin(u)); n != "" {
		claims["nonce"] = n
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	p, err := jws.Sign(k.alg, k.key, k.header, payload)
	if err != nil {
		return "", fmt.Errorf("clientcred: signing a DPoP proof: %w", err)
	}
	return p, nil
}

// origin is the scheme and host of u, in lower case.
func origin(u *url.URL) string {
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

func (k *DPoPKey) nonce(origin string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.nonces[origin]
}

// noteNonce keeps the DPoP-Nonce of a response from the origin of req,
// and reports whether it had one.
func (k *DPoPKey) noteNonce(req *http.Request, h http.Header) bool {
	n := h.Get("DPoP-Nonce")
	if n == "" || len(n) > maxNonceBytes || req == nil || req.URL == nil || !printableASCII(n) {
		return false
	}
	o := origin(req.URL)
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.nonces == nil || len(k.nonces) >= maxNonceOrigins {
		k.nonces = make(map[string]string)
	}
	k.nonces[o] = n
	return true
}

// printableASCII reports whether s is a NQCHAR sequence (RFC 9449
// section 8.1: %x21 / %x23-5B / %x5D-7E).
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// askedForNonce reports whether an API's 401 asks for a DPoP nonce: a DPoP
// challenge with error="use_dpop_nonce" (RFC 9449 section 9).
func askedForNonce(h http.Header) bool {
	for _, v := range h.Values("WWW-Authenticate") {
		if len(v) > 8<<10 {
			continue
		}
		for c := range strings.SplitSeq(v, ",") {
			c = strings.TrimSpace(c)
			if scheme, rest, ok := strings.Cut(c, " "); ok && strings.EqualFold(scheme, "DPoP") {
				c = strings.TrimSpace(rest)
			}
			name, value, ok := strings.Cut(c, "=")
			if ok && strings.EqualFold(strings.TrimSpace(name), "error") && strings.Trim(strings.TrimSpace(value), `"`) == "use_dpop_nonce" {
				return true
			}
		}
	}
	return false
}
