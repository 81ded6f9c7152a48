// Package clientcred is the client side of the OAuth 2.0 client
// credentials grant (RFC 6749 section 4.4): it resolves a configuration
// from arguments or M2M_* environment variables, fetches access tokens
// from a token endpoint (m2m's own server, Auth0, or any RFC 6749 server,
// found directly, through RFC 8414 / OpenID Connect discovery, or from an
// Auth0 domain), caches them with early refresh and at most one fetch in
// flight, retries 429, 5xx and connection errors with full-jitter
// exponential backoff that honours Retry-After and X-RateLimit-Reset, and
// attaches them to requests through [Transport] and [Client].
//
// It is the Go counterpart of the Python m2m-auth client and fixes what
// users of golang.org/x/oauth2/clientcredentials have long asked for:
// context-aware single-flight refresh, early refresh, keeping a valid
// token when a refresh fails, rate-limit aware retries, and a retry after
// a 401 when the token was revoked.
package clientcred

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/m2mkit/m2m/internal/redact"
)

// Environment variables read by [Config.Resolve] for fields left empty.
const (
	EnvClientID     = "M2M_CLIENT_ID"
	EnvClientSecret = "M2M_CLIENT_SECRET"
	EnvAudience     = "M2M_AUDIENCE"
	EnvTokenURL     = "M2M_TOKEN_URL"
	EnvIssuer       = "M2M_ISSUER"
	EnvDomain       = "M2M_DOMAIN"
)

// Configuration errors. [Config.Resolve] joins every one that applies
// (errors.Is works for each).
var (
	ErrMissingClientID     = errors.New("clientcred: missing client id (set ClientID or " + EnvClientID + ")")
	ErrMissingClientSecret = errors.New("clientcred: missing client secret (set ClientSecret or " + EnvClientSecret + ", or a ClientCertificate)")
	ErrMissingAudience     = errors.New("clientcred: missing audience (set Audience or " + EnvAudience + ", or SkipAudience)")
	ErrMissingEndpoint     = errors.New("clientcred: missing endpoint (set TokenURL, Issuer or Domain, or " + EnvTokenURL + ", " + EnvIssuer + " or " + EnvDomain + ")")
	ErrConflictingEndpoint = errors.New("clientcred: give only one of TokenURL, Issuer and Domain")
	// ErrConflictingCredentials: a client secret and an Assertion.
	ErrConflictingCredentials = errors.New("clientcred: give a client secret or an Assertion, not both")
)

// AuthStyle says how the client authenticates to the token endpoint.
type AuthStyle int

const (
	// AuthStyleInParams sends client_id and client_secret in the form body
	// (client_secret_post). It is the zero value: Auth0, m2m's server and
	// most servers accept it.
	AuthStyleInParams AuthStyle = iota
	// AuthStyleInHeader sends them with HTTP Basic (client_secret_basic,
	// RFC 6749 section 2.3.1), form-encoded first as the RFC requires.
	AuthStyleInHeader
	// AuthStyleJSON posts a JSON body, as Auth0's documentation shows.
	AuthStyleJSON
)

// Config describes a client credentials client. Empty string fields are
// read from the environment by [Config.Resolve]; a Config is not modified
// by any method and may be shared.
type Config struct {
	// ClientID and ClientSecret identify the client (M2M_CLIENT_ID,
	// M2M_CLIENT_SECRET). The secret is never logged or put in an error.
	ClientID     string
	ClientSecret string
	// Audience is the API the token is for (M2M_AUDIENCE); it is sent as
	// the "audience" parameter. Required unless SkipAudience is set.
	Audience string
	// SkipAudience allows an empty Audience, for servers that do not use
	// the parameter.
	SkipAudience bool
	// Scopes requested, sent space-separated; nil requests the client's
	// default scopes.
	Scopes []string

	// The endpoint: exactly one of TokenURL (M2M_TOKEN_URL), Issuer
	// (M2M_ISSUER; the token endpoint is discovered from RFC 8414
	// authorization server metadata, then OpenID Connect discovery) and
	// Domain (M2M_DOMAIN; an Auth0 tenant: https://DOMAIN/oauth/token).
	// The environment is read only when all three are empty.
	TokenURL string
	Issuer   string
	Domain   string

	// AuthStyle selects client authentication; the zero value sends the
	// credentials in the form body. It is not used with Assertion.
	AuthStyle AuthStyle

	// Assertion, when set, replaces the client secret: each token request
	// carries a signed JWT from it (see [AssertionSource]), sent as
	// AssertionGrant says, and the form body is used. ClientSecret (and
	// M2M_CLIENT_SECRET) must then be empty; ClientID is required only
	// for a [*PrivateKeyAssertion]. Sources with an Assertion do not share
	// a token cache with other sources.
	Assertion AssertionSource
	// AssertionGrant says how Assertion is sent; the zero value is
	// [AssertionClientAuth], the client credentials grant with a client
	// assertion.
	AssertionGrant AssertionGrant
	// SubjectTokenType is the subject_token_type of a token exchange
	// ([AssertionTokenExchange]); "" means [TokenTypeJWT].
	SubjectTokenType string
	// EndpointParams are extra token request parameters (for example
	// Auth0's "organization").
	EndpointParams url.Values
	// DPoP, when set, binds the tokens to this key (RFC 9449): each token
	// request carries a DPoP proof and must be answered with token_type
	// DPoP, and [Transport] sends each request with a proof. A refusal
	// asking for a server nonce (use_dpop_nonce) is retried once with it.
	// Nil: Bearer tokens.
	DPoP *DPoPKey
	// ClientCertificate, when set, is presented in the TLS handshakes of
	// the token requests and of the API requests sent through
	// [Transport] (mutual TLS, RFC 8705). With no client secret (nor
	// M2M_CLIENT_SECRET) and no Assertion, the client authenticates with
	// it (tls_client_auth or self_signed_tls_client_auth): the token
	// request carries client_id alone, in the form body (or the JSON body
	// with AuthStyleJSON). With a secret or an Assertion it authenticates
	// as those say, and the server may still bind its tokens to the
	// certificate. It composes with DPoP: the server then binds the
	// token to the DPoP key. See HTTPClient for how the certificate is
	// presented. Nil: no certificate.
	ClientCertificate *ClientCertificate

	// HTTPClient makes the token (and discovery) requests; nil means
	// http.DefaultClient. It must not itself use a [Transport] of this
	// source. Token requests never follow redirects, and discovery
	// does not follow a redirect from https to plain http. With a
	// ClientCertificate, a copy of it is used whose Transport (nil means
	// http.DefaultTransport) is replaced by
	// [ClientCertificate.RoundTripper] of it; a Transport that is not an
	// *http.Transport is used as it is, and must present the certificate
	// itself.
	HTTPClient *http.Client
	// Retry bounds the retries of a token request; the zero value means
	// [DefaultRetry].
	Retry RetryPolicy
	// RefreshAt is the fraction of a token's lifetime after which it is
	// refreshed in the background; a random jitter of up to 0.05 is added.
	// Zero means [DefaultRefreshAt] (0.75).
	RefreshAt float64
	// ExpiryDelta is how long before its expiry a token stops being used
	// at all; zero means [DefaultExpiryDelta].
	ExpiryDelta time.Duration
	// FetchTimeout bounds one shared fetch, retries included; zero means
	// [DefaultFetchTimeout].
	FetchTimeout time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives token fetch failures (Warn when a background
	// refresh fails and the current token stays in use, Info for other
	// failed fetches) with client_id and the error, never the secret or a
	// token; nil discards them.
	Logger *slog.Logger
	// LookupEnv reads the environment; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// Named defaults.
const (
	DefaultRefreshAt    = 0.75
	DefaultExpiryDelta  = 10 * time.Second
	DefaultFetchTimeout = 60 * time.Second
	// DefaultLifetime is assumed when a token response has no expires_in.
	DefaultLifetime = time.Hour
)

// Resolve returns a copy of c with empty fields filled from the
// environment and every configuration problem reported at once (joined
// with errors.Join). It does not perform discovery.
func (c Config) Resolve() (Config, error) {
	look := c.LookupEnv
	if look == nil {
		look = os.LookupEnv
	}
	env := func(dst *string, name string) {
		if *dst == "" {
			if v, ok := look(name); ok {
				*dst = strings.TrimSpace(v)
			}
		}
	}
	env(&c.ClientID, EnvClientID)
	if c.ClientSecret == "" && c.Assertion == nil {
		if v, ok := look(EnvClientSecret); ok {
			c.ClientSecret = v
		}
	}
	env(&c.Audience, EnvAudience)
	if c.TokenURL == "" && c.Issuer == "" && c.Domain == "" {
		env(&c.TokenURL, EnvTokenURL)
		env(&c.Issuer, EnvIssuer)
		env(&c.Domain, EnvDomain)
	}
	var errs []error
	_, signs := c.Assertion.(*PrivateKeyAssertion)
	if c.ClientID == "" && (c.Assertion == nil || signs) {
		errs = append(errs, ErrMissingClientID)
	}
	switch {
	case c.Assertion != nil && c.ClientSecret != "":
		errs = append(errs, ErrConflictingCredentials)
	case c.Assertion == nil && c.ClientSecret == "" && c.ClientCertificate == nil:
		errs = append(errs, ErrMissingClientSecret)
	}
	if c.AssertionGrant < AssertionClientAuth || c.AssertionGrant > AssertionTokenExchange {
		errs = append(errs, fmt.Errorf("clientcred: unknown AssertionGrant %d", c.AssertionGrant))
	}
	switch c.SubjectTokenType {
	case "", TokenTypeJWT, TokenTypeIDToken, TokenTypeAccessToken:
	default:
		errs = append(errs, fmt.Errorf("clientcred: SubjectTokenType %q: want %s, %s or %s", c.SubjectTokenType, TokenTypeJWT, TokenTypeIDToken, TokenTypeAccessToken))
	}
	if c.Audience == "" && !c.SkipAudience {
		errs = append(errs, ErrMissingAudience)
	}
	n := 0
	for _, s := range []string{c.TokenURL, c.Issuer, c.Domain} {
		if s != "" {
			n++
		}
	}
	switch {
	case n == 0:
		errs = append(errs, ErrMissingEndpoint)
	case n > 1:
		errs = append(errs, ErrConflictingEndpoint)
	}
	if c.TokenURL != "" {
		if err := checkURL("token URL", c.TokenURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Issuer != "" {
		if err := checkURL("issuer", c.Issuer); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Domain != "" && (strings.ContainsAny(c.Domain, "/?#@ ") || c.Domain != strings.TrimSpace(c.Domain)) {
		errs = append(errs, fmt.Errorf("clientcred: domain %q: want a host name such as tenant.us.auth0.com", redact.URL(c.Domain)))
	}
	if c.RefreshAt < 0 || c.RefreshAt >= 1 {
		errs = append(errs, fmt.Errorf("clientcred: RefreshAt %v: want a fraction in [0, 1)", c.RefreshAt))
	}
	return c, errors.Join(errs...)
}

func checkURL(what, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("clientcred: %s %q: want an absolute http(s) URL", what, redact.URL(s))
	}
	return nil
}

// endpointKey names the endpoint for the shared token cache.
func (c *Config) endpointKey() string {
	switch {
	case c.TokenURL != "":
		return "url " + c.TokenURL
	case c.Issuer != "":
		return "iss " + c.Issuer
	}
	return "domain " + c.Domain
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Config) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return http.DefaultClient
}
