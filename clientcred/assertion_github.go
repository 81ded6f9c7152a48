package clientcred

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/m2mkit/m2m/internal/redact"
)

// Environment variables GitHub Actions sets in a job with "permissions:
// id-token: write".
const (
	EnvGitHubTokenRequestURL   = "ACTIONS_ID_TOKEN_REQUEST_URL"
	EnvGitHubTokenRequestToken = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
)

// DefaultGitHubTimeout bounds one request for a GitHub Actions identity
// token when [GitHubActionsAssertion].Timeout is 0.
const DefaultGitHubTimeout = 10 * time.Second

// maxGitHubResponse caps GitHub's answer ({"value": TOKEN}).
const maxGitHubResponse = 64 << 10

// GitHubActionsAssertion fetches a GitHub Actions OIDC identity token for
// each token request: a GET of $ACTIONS_ID_TOKEN_REQUEST_URL with the
// audience query parameter, authorized by
// $ACTIONS_ID_TOKEN_REQUEST_TOKEN (which is never logged or put in an
// error). The job needs "permissions: id-token: write". The response is
// capped and the request bounded by Timeout; redirects are not followed.
// It is safe for concurrent use.
type GitHubActionsAssertion struct {
	// Audience is the aud the token is issued for (a trust policy's
	// --audience); "" leaves GitHub's default (the URL of the repository
	// owner).
	Audience string
	// HTTPClient makes the request; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Timeout bounds one request; zero means [DefaultGitHubTimeout].
	Timeout time.Duration
	// LookupEnv reads the environment; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// ErrNoGitHubActions is returned outside a GitHub Actions job that may
// request identity tokens.
var ErrNoGitHubActions = errors.New("clientcred: " + EnvGitHubTokenRequestURL + " and " + EnvGitHubTokenRequestToken +
	" are not set: not in a GitHub Actions job with permissions id-token: write")

// Assertion fetches a fresh identity token.
func (a *GitHubActionsAssertion) Assertion(ctx context.Context, _ AssertionRequest) (string, error) {
	look := a.LookupEnv
	if look == nil {
		look = os.LookupEnv
	}
	rawURL, ok1 := look(EnvGitHubTokenRequestURL)
	bearer, ok2 := look(EnvGitHubTokenRequestToken)
	if !ok1 || !ok2 || rawURL == "" || bearer == "" {
		return "", ErrNoGitHubActions
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("clientcred: %s is not an absolute http(s) URL", EnvGitHubTokenRequestURL)
	}
	if a.Audience != "" {
		q := u.Query()
		q.Set("audience", a.Audience)
		u.RawQuery = q.Encode()
	}
	timeout := a.Timeout
	if timeout <= 0 {
		timeout = DefaultGitHubTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	shown := redact.URL(u.String())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("clientcred: GitHub identity token request to %s: %w", shown, redact.Error(err, u.String()))
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Accept", "application/json")
	hc := http.DefaultClient
	if a.HTTPClient != nil {
		hc = a.HTTPClient
	}
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		// The URL is masked; the request token is in a header, which
		// transport errors do not show, but is masked too for certain.
		msg := strings.ReplaceAll(redact.Error(err, u.String()).Error(), bearer, "[REDACTED]")
		return "", fmt.Errorf("clientcred: GitHub identity token request to %s: %s", shown, msg)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxGitHubResponse+1))
	if err != nil {
		return "", fmt.Errorf("clientcred: GitHub identity token response: %w", err)
	}
	if len(body) > maxGitHubResponse {
		return "", fmt.Errorf("clientcred: GitHub identity token response larger than %d bytes", maxGitHubResponse)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("clientcred: GitHub identity token request to %s: status %d", shown, resp.StatusCode)
	}
	var r struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Value == "" {
		return "", errors.New("clientcred: GitHub identity token response has no value")
	}
	if len(r.Value) > MaxAssertionBytes || strings.ContainsAny(r.Value, " \t\r\n") {
		return "", errors.New("clientcred: GitHub identity token response: the value is not a compact JWT")
	}
	return r.Value, nil
}
