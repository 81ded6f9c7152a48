package clientcred

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/m2mkit/m2m/internal/redact"
)

// Token is an access token from the token endpoint. Its String and
// LogValue methods redact the access token.
type Token struct {
	AccessToken string
	// TokenType is the Authorization scheme the token is sent with;
	// "" means "Bearer".
	TokenType string
	Scope     string // granted scopes, space-separated, if the server said
	// Expiry is when the token expires by the local clock (receipt time
	// plus expires_in).
	Expiry time.Time

	refreshAt time.Time // background refresh starts after this
	staleAt   time.Time // not used after this (Expiry - ExpiryDelta)
	authz     string    // the Authorization header value, built once
	dpop      *DPoPKey  // the key the token is bound to; nil for Bearer
	// x5t is the thumbprint of the client certificate presented when
	// the token was requested; "" without one.
	x5t string
}

// authorization returns the Authorization header value for t.
func (t *Token) authorization() string {
	if t.authz != "" {
		return t.authz
	}
	typ := t.TokenType
	if typ == "" {
		typ = "Bearer"
	}
	return typ + " " + t.AccessToken
}

// String redacts the access token.
func (t *Token) String() string { return "clientcred.Token{" + t.TokenType + " [REDACTED]}" }

// LogValue redacts the access token.
func (t *Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("token_type", t.TokenType), slog.Time("expiry", t.Expiry))
}

// Size caps on what the token endpoint and discovery may send.
const (
	maxTokenResponse    = 1 << 20
	maxMetadataResponse = 1 << 20
)

// attemptError is one failed attempt, classified for the retry loop.
type attemptError struct {
	err       error
	retryable bool
	status    int
	header    http.Header
	nonce     bool // a DPoP use_dpop_nonce refusal with a new nonce
}

func (e *attemptError) Error() string { return e.err.Error() }
func (e *attemptError) Unwrap() error { return e.err }

// fetch gets a new token, retrying as the policy allows.
func (s *TokenSource) fetch(ctx context.Context) (*Token, error) {
	p := s.cfg.Retry.withDefaults()
	start := s.cfg.now()
	deadline := start.Add(p.MaxElapsed)
	for n := 1; ; n++ {
		tok, err := s.attempt(ctx)
		if err == nil {
			return tok, nil
		}
		var ae *attemptError
		if !errors.As(err, &ae) || !ae.retryable || ctx.Err() != nil {
			return nil, finalError(err, s.cfg.now())
		}
		if n >= p.MaxAttempts {
			return nil, finalError(err, s.cfg.now())
		}
		d, ok := p.waitBeforeRetry(n, ae.header, s.cfg.now(), deadline)
		if !ok {
			return nil, finalError(err, s.cfg.now())
		}
		if err := s.sleep(ctx, d); err != nil {
			return nil, fmt.Errorf("clientcred: token request: %w (after: %v)", err, ae.err)
		}
	}
}

// finalError turns the last attempt's error into what the caller sees: a
// *RateLimitError for a 429, the *RetrieveError for other refusals.
func finalError(err error, now time.Time) error {
	var ae *attemptError
	if !errors.As(err, &ae) {
		return err
	}
	if ae.status == http.StatusTooManyRequests {
		re, _ := ae.err.(*RetrieveError)
		rl := &RateLimitError{StatusCode: ae.status, Err: re, Limit: -1, Remaining: -1}
		if ae.header != nil {
			rl.RetryAfter, rl.Reset, _ = retryAfter(ae.header, now)
			rl.Limit = headerInt(ae.header, "X-RateLimit-Limit")
			rl.Remaining = headerInt(ae.header, "X-RateLimit-Remaining")
		}
		return rl
	}
	return ae.err
}

func (s *TokenSource) attempt(ctx context.Context) (*Token, error) {
	tokenURL, err := s.tokenURL(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := s.attemptAt(ctx, tokenURL)
	var ae *attemptError
	if s.cfg.DPoP != nil && errors.As(err, &ae) && ae.nonce {
		// RFC 9449 section 8: retry once with the nonce the server sent.
		return s.attemptAt(ctx, tokenURL)
	}
	return tok, err
}

func (s *TokenSource) attemptAt(ctx context.Context, tokenURL string) (*Token, error) {
	x5t := ""
	if cc := s.cfg.ClientCertificate; cc != nil {
		// A certificate renewed on disk is presented, and the token
		// bound to it, from the next token request on.
		st, err := cc.check()
		if err != nil && s.cfg.Logger != nil {
			s.cfg.Logger.Warn("clientcred: client certificate files refused; the certificate in service stays in use",
				"client_id", s.cfg.ClientID, "error", certFileError(err))
		}
		x5t = st.x5t
	}
	req, assertion, err := s.tokenRequest(ctx, tokenURL)
	if err != nil {
		return nil, err
	}
	if s.cfg.DPoP != nil {
		proof, err := s.cfg.DPoP.proof(http.MethodPost, tokenURL, "", s.cfg.now())
		if err != nil {
			return nil, err
		}
		req.Header.Set("DPoP", proof)
	}
	// Never follow a redirect with the client secret in the body: a 3xx
	// is answered as a refusal.
	hc := *s.httpClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Do(req)
	if err != nil {
		return nil, &attemptError{err: fmt.Errorf("clientcred: token request: %w", redact.Error(err, tokenURL)), retryable: retryableErr(ctx, err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse+1))
	if err != nil {
		return nil, &attemptError{err: fmt.Errorf("clientcred: token response: %w", err), retryable: retryableErr(ctx, err)}
	}
	if len(body) > maxTokenResponse {
		return nil, fmt.Errorf("clientcred: token response larger than %d bytes", maxTokenResponse)
	}
	newNonce := s.cfg.DPoP != nil && s.cfg.DPoP.noteNonce(req, resp.Header)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		re := s.scrubbedRefusal(resp.StatusCode, body, assertion)
		return nil, &attemptError{
			err:       re,
			retryable: retryableStatus(resp.StatusCode, true),
			status:    resp.StatusCode,
			header:    resp.Header,
			nonce:     newNonce && resp.StatusCode == http.StatusBadRequest && re.ErrorCode == "use_dpop_nonce",
		}
	}
	tok, err := s.parseToken(body)
	if err != nil {
		return nil, err
	}
	tok.x5t = x5t
	return tok, nil
}

// scrubbedRefusal parses a refusal and masks every form in which the
// token request carried the client secret: an endpoint (or a proxy before
// it) that echoes the request must not put the secret in an error text or
// a log. The whole body is masked before it is parsed and cut short, and
// the parsed fields again (JSON escapes may have hidden the secret).
//
// An assertion is masked the same way: an external identity token may be
// accepted more than once.
func (s *TokenSource) scrubbedRefusal(status int, body []byte, assertion string) *RetrieveError {
	secret := s.cfg.ClientSecret
	if assertion != "" {
		secret = assertion
	}
	if secret == "" {
		return parseErrorBody(status, body)
	}
	forms := secretForms(s.cfg.ClientID, secret)
	mask := func(v string) string {
		for _, f := range forms {
			v = strings.ReplaceAll(v, f, "[REDACTED]")
		}
		return v
	}
	e := parseErrorBody(status, []byte(mask(string(body))))
	e.ErrorCode, e.Description, e.ErrorURI = mask(e.ErrorCode), mask(e.Description), mask(e.ErrorURI)
	return e
}

// secretForms lists the spellings of secret that a token request carries
// and an echo of it may show: as is, form-encoded, in the Basic
// credentials, and each of these JSON-escaped once or twice (a JSON
// request body echoed inside a JSON response), longest first.
func secretForms(id, secret string) []string {
	jsonEsc := func(v string, html bool) string {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		_ = enc.Encode(v)
		out := strings.TrimSuffix(b.String(), "\n")
		return out[1 : len(out)-1]
	}
	forms := []string{
		secret,
		url.QueryEscape(secret),
		base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret))),
	}
	for range 2 {
		for _, f := range forms {
			forms = append(forms, jsonEsc(f, true), jsonEsc(f, false))
		}
	}
	slices.SortFunc(forms, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(forms)
}

// tokenRequest builds the token request, and returns the assertion it
// carries, if any, for masking in refusals.
func (s *TokenSource) tokenRequest(ctx context.Context, tokenURL string) (*http.Request, string, error) {
	c := &s.cfg
	if c.Assertion != nil {
		return s.assertionRequest(ctx, tokenURL)
	}
	v := url.Values{"grant_type": {"client_credentials"}}
	if c.Audience != "" {
		v.Set("audience", c.Audience)
	}
	if len(c.Scopes) > 0 {
		v.Set("scope", strings.Join(c.Scopes, " "))
	}
	for k, vs := range c.EndpointParams {
		v[k] = append([]string(nil), vs...)
	}
	var body io.Reader
	var ctype string
	// RFC 8705 section 2: a certificate with no secret authenticates
	// the client, which names itself with client_id alone.
	certAuth := c.ClientSecret == "" && c.ClientCertificate != nil
	switch {
	case c.AuthStyle == AuthStyleJSON:
		m := map[string]string{"client_id": c.ClientID}
		if !certAuth {
			m["client_secret"] = c.ClientSecret
		}
		for k, vs := range v {
			if len(vs) > 0 {
				m[k] = vs[0]
			}
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, "", err
		}
		body, ctype = strings.NewReader(string(b)), "application/json"
	case c.AuthStyle == AuthStyleInHeader && !certAuth:
		body, ctype = strings.NewReader(v.Encode()), "application/x-www-form-urlencoded"
	default:
		v.Set("client_id", c.ClientID)
		if !certAuth {
			v.Set("client_secret", c.ClientSecret)
		}
		body, ctype = strings.NewReader(v.Encode()), "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, body)
	if err != nil {
		return nil, "", fmt.Errorf("clientcred: token request: %w", redact.Error(err, tokenURL))
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/json")
	if c.AuthStyle == AuthStyleInHeader && !certAuth {
		req.SetBasicAuth(url.QueryEscape(c.ClientID), url.QueryEscape(c.ClientSecret))
	}
	return req, "", nil
}

func (s *TokenSource) parseToken(body []byte) (*Token, error) {
	var r struct {
		AccessToken string          `json:"access_token"`
		TokenType   string          `json:"token_type"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
		Scope       string          `json:"scope"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("clientcred: token response is not a JSON object: %w", err)
	}
	if r.AccessToken == "" {
		return nil, errors.New("clientcred: token response has no access_token")
	}
	if r.TokenType == "" {
		r.TokenType = "Bearer"
	}
	if s.cfg.DPoP != nil && !strings.EqualFold(r.TokenType, "DPoP") {
		// The server ignored the proof: the token is not bound, and
		// sending it with proofs would fail at the API (or succeed as a
		// bearer token the client did not ask for).
		return nil, fmt.Errorf("clientcred: the token endpoint answered a DPoP token request with token_type %.20q, not DPoP (does the server accept DPoP?)", r.TokenType)
	}
	life := DefaultLifetime
	if len(r.ExpiresIn) > 0 && string(r.ExpiresIn) != "null" {
		// A number, or a numeric string as some servers send.
		raw := strings.Trim(string(r.ExpiresIn), `"`)
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil || f <= 0 || f > 1<<31 {
			return nil, fmt.Errorf("clientcred: token response: bad expires_in %.40q", raw)
		}
		life = time.Duration(f * float64(time.Second))
	}
	tok := s.newToken(r.AccessToken, r.TokenType, r.Scope, s.cfg.now(), life)
	if s.cfg.DPoP != nil {
		tok.TokenType, tok.authz, tok.dpop = "DPoP", "DPoP "+r.AccessToken, s.cfg.DPoP
	}
	return tok, nil
}

// newToken sets the token's expiry and its jittered refresh time.
func (s *TokenSource) newToken(access, typ, scope string, now time.Time, life time.Duration) *Token {
	frac := s.cfg.RefreshAt
	if frac == 0 {
		frac = DefaultRefreshAt
	}
	frac += s.jitter() * 0.05
	delta := s.cfg.ExpiryDelta
	if delta == 0 {
		delta = DefaultExpiryDelta
	}
	if delta > life/4 {
		delta = life / 4
	}
	return &Token{
		AccessToken: access,
		TokenType:   typ,
		Scope:       scope,
		Expiry:      now.Add(life),
		refreshAt:   now.Add(time.Duration(float64(life) * frac)),
		staleAt:     now.Add(life - delta),
		authz:       typ + " " + access,
	}
}

// tokenURL returns the configured or discovered token endpoint.
func (s *TokenSource) tokenURL(ctx context.Context) (string, error) {
	c := &s.cfg
	switch {
	case c.TokenURL != "":
		return c.TokenURL, nil
	case c.Domain != "":
		return "https://" + c.Domain + "/oauth/token", nil
	}
	if u := s.discovered.Load(); u != nil {
		return *u, nil
	}
	u, err := discover(ctx, s.httpClient(), c.Issuer)
	if err != nil {
		return "", err
	}
	s.discovered.Store(&u)
	return u, nil
}

// discover reads the token endpoint from RFC 8414 authorization server
// metadata, then from OpenID Connect discovery, and checks that the
// metadata names the configured issuer.
func discover(ctx context.Context, hc *http.Client, issuer string) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return "", fmt.Errorf("clientcred: issuer: %w", redact.Error(err, issuer))
	}
	path := strings.TrimSuffix(u.Path, "/")
	rfc8414 := *u
	rfc8414.Path = "/.well-known/oauth-authorization-server" + path
	oidc := *u
	oidc.Path = path + "/.well-known/openid-configuration"
	var errs []error
	for _, mu := range []string{rfc8414.String(), oidc.String()} {
		ep, err := fetchMetadata(ctx, hc, mu, issuer)
		if err == nil {
			return ep, nil
		}
		var ae *attemptError
		if errors.As(err, &ae) && ae.retryable {
			return "", err // a transient failure: retry discovery as a whole
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("clientcred: discovery for issuer %q failed: %w", redact.URL(issuer), errors.Join(errs...))
}

func fetchMetadata(ctx context.Context, hc *http.Client, metaURL, issuer string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metaURL, nil)
	if err != nil {
		return "", redact.Error(err, metaURL)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := noDowngrade(hc).Do(req)
	if err != nil {
		return "", &attemptError{err: fmt.Errorf("clientcred: discovery: %w", redact.Error(err, metaURL)), retryable: retryableErr(ctx, err) && !errors.Is(err, errDowngrade)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataResponse+1))
	if err != nil {
		return "", &attemptError{err: fmt.Errorf("clientcred: discovery: %w", err), retryable: retryableErr(ctx, err)}
	}
	if resp.StatusCode != http.StatusOK {
		return "", &attemptError{
			err:       fmt.Errorf("clientcred: discovery: %s: status %d", redact.URL(metaURL), resp.StatusCode),
			retryable: retryableStatus(resp.StatusCode, true),
			status:    resp.StatusCode,
			header:    resp.Header,
		}
	}
	if len(body) > maxMetadataResponse {
		return "", fmt.Errorf("clientcred: discovery: %s: metadata larger than %d bytes", redact.URL(metaURL), maxMetadataResponse)
	}
	var m struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return "", fmt.Errorf("clientcred: discovery: %s: %w", redact.URL(metaURL), err)
	}
	if strings.TrimSuffix(m.Issuer, "/") != strings.TrimSuffix(issuer, "/") {
		return "", fmt.Errorf("clientcred: discovery: %s names issuer %q, want %q", redact.URL(metaURL), redact.URL(m.Issuer), redact.URL(issuer))
	}
	if err := checkURL("token_endpoint", m.TokenEndpoint); err != nil {
		return "", err
	}
	if strings.HasPrefix(issuer, "https:") && !strings.HasPrefix(m.TokenEndpoint, "https:") {
		return "", fmt.Errorf("clientcred: discovery: token_endpoint %q is not https", redact.URL(m.TokenEndpoint))
	}
	return m.TokenEndpoint, nil
}

var errDowngrade = errors.New("clientcred: refusing a redirect from https to plain http")

// noDowngrade returns a copy of hc that refuses to follow a redirect from
// https to plain http: metadata read over http could send the client
// secret anywhere.
func noDowngrade(hc *http.Client) *http.Client {
	c := *hc
	next := hc.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
			return errDowngrade
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("clientcred: stopped after 10 redirects")
		}
		return nil
	}
	return &c
}
