package clientcred

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/m2mkit/m2m/internal/redact"
)

// Client makes authenticated API requests. Build it with [NewClient]; the
// methods of a zero Client return an error. It is safe for concurrent use.
type Client struct {
	// HTTPClient sends the requests; its Transport is a [*Transport].
	HTTPClient *http.Client
	// ErrorOnStatus makes every method return a [*StatusError] (with the
	// response body already read and closed) for a non-2xx answer.
	ErrorOnStatus bool
	// Source is the token source behind the transport.
	Source *TokenSource
}

// NewClient returns a Client for c whose API requests retry 429, 503 and
// (for idempotent methods) other 5xx answers and connection errors under
// c.Retry, and retry once after a 401 with a new token.
func NewClient(c Config) (*Client, error) {
	src, err := NewTokenSource(c)
	if err != nil {
		return nil, err
	}
	p := src.cfg.Retry
	return &Client{
		HTTPClient: &http.Client{Transport: &Transport{Source: src, Retry: &p}},
		Source:     src,
	}, nil
}

// StatusError is a non-2xx answer, returned when [Client.ErrorOnStatus]
// is set.
type StatusError struct {
	Method     string
	URL        string // without the query, which may hold secrets
	StatusCode int
	Status     string
	// Body is the start of the response body (at most 4 KiB), with the
	// request's access token masked should the API have echoed it.
	Body []byte
}

// Error names the method, the URL without its query, and the status.
func (e *StatusError) Error() string {
	return fmt.Sprintf("clientcred: %s %s: %s", e.Method, e.URL, e.Status)
}

// RequestOption adds something to a request made by [Client].
type RequestOption func(*requestSpec) error

type requestSpec struct {
	query   url.Values
	header  http.Header
	body    []byte
	ctype   string
	hasBody bool
}

// Query adds query parameters to the URL.
func Query(v url.Values) RequestOption {
	return func(r *requestSpec) error {
		for k, vs := range v {
			r.query[k] = append(r.query[k], vs...)
		}
		return nil
	}
}

// Header adds a request header.
func Header(name, value string) RequestOption {
	return func(r *requestSpec) error { r.header.Add(name, value); return nil }
}

// Form sends v as an application/x-www-form-urlencoded body.
func Form(v url.Values) RequestOption {
	return func(r *requestSpec) error {
		r.body, r.ctype, r.hasBody = []byte(v.Encode()), "application/x-www-form-urlencoded", true
		return nil
	}
}

// JSON sends v encoded as a JSON body.
func JSON(v any) RequestOption {
	return func(r *requestSpec) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("clientcred: JSON body: %w", err)
		}
		r.body, r.ctype, r.hasBody = b, "application/json", true
		return nil
	}
}

// Body sends b with the given content type. The bytes are kept so that
// the request can be replayed after a 401 or a 429.
func Body(b []byte, contentType string) RequestOption {
	return func(r *requestSpec) error {
		r.body, r.ctype, r.hasBody = b, contentType, true
		return nil
	}
}

// Get sends a GET request.
func (c *Client) Get(ctx context.Context, url string, opts ...RequestOption) (*http.Response, error) {
	return c.Do(ctx, http.MethodGet, url, opts...)
}

// Post sends a POST request.
func (c *Client) Post(ctx context.Context, url string, opts ...RequestOption) (*http.Response, error) {
	return c.Do(ctx, http.MethodPost, url, opts...)
}

// Put sends a PUT request.
func (c *Client) Put(ctx context.Context, url string, opts ...RequestOption) (*http.Response, error) {
	return c.Do(ctx, http.MethodPut, url, opts...)
}

// Patch sends a PATCH request.
func (c *Client) Patch(ctx context.Context, url string, opts ...RequestOption) (*http.Response, error) {
	return c.Do(ctx, http.MethodPatch, url, opts...)
}

// Delete sends a DELETE request.
func (c *Client) Delete(ctx context.Context, url string, opts ...RequestOption) (*http.Response, error) {
	return c.Do(ctx, http.MethodDelete, url, opts...)
}

// Do sends an authenticated request with the given method. The caller
// closes the response body.
func (c *Client) Do(ctx context.Context, method, rawURL string, opts ...RequestOption) (*http.Response, error) {
	if c == nil || c.HTTPClient == nil {
		return nil, errors.New("clientcred: Client has no HTTPClient (build it with NewClient)")
	}
	spec := requestSpec{query: url.Values{}, header: http.Header{}}
	for _, o := range opts {
		if err := o(&spec); err != nil {
			return nil, err
		}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// The parse error quotes rawURL, query and user info included.
		return nil, fmt.Errorf("clientcred: %w", redact.Error(err, rawURL))
	}
	if len(spec.query) > 0 {
		q := u.Query()
		for k, vs := range spec.query {
			q[k] = append(q[k], vs...)
		}
		u.RawQuery = q.Encode()
	}
	var body io.Reader
	if spec.hasBody {
		body = bytes.NewReader(spec.body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("clientcred: %w", redact.Error(err, u.String()))
	}
	for k, vs := range spec.header {
		req.Header[k] = vs
	}
	if spec.hasBody && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", spec.ctype)
	}
	resp, err := c.HTTPClient.Do(req)
	if err != nil {
		// http.Client names the full URL in its errors; like StatusError,
		// leave out the query and user info, which may hold secrets.
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = redactURL(ue.URL)
		}
		return nil, err
	}
	if c.ErrorOnStatus && (resp.StatusCode < 200 || resp.StatusCode > 299) {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxStatusBody+maxEcho))
		b = maskSentCredential(b, resp.Request)
		if len(b) > maxStatusBody {
			b = b[:maxStatusBody]
		}
		u.RawQuery, u.User = "", nil
		return nil, &StatusError{Method: method, URL: u.String(), StatusCode: resp.StatusCode, Status: resp.Status, Body: b}
	}
	return resp, nil
}

// Bounds on the body a StatusError keeps: maxStatusBody bytes, read with
// maxEcho more so that a credential cut by the limit is still masked.
const (
	maxStatusBody = 4 << 10
	maxEcho       = 8 << 10
)

// maskSentCredential masks, in the body of an API answer, the credential
// the request carried (the Authorization header the transport added to
// the request that got this answer), should the API echo the request.
func maskSentCredential(b []byte, req *http.Request) []byte {
	if req == nil {
		return b
	}
	authz := req.Header.Get("Authorization")
	if authz == "" {
		return b
	}
	forms := []string{authz}
	if _, cred, ok := strings.Cut(authz, " "); ok && cred != "" {
		forms = append(forms, cred)
	}
	for _, f := range forms {
		b = bytes.ReplaceAll(b, []byte(f), []byte("[REDACTED]"))
	}
	return b
}

// redactURL returns raw without its query, fragment and user info.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment, u.User = "", false, "", "", nil
	return u.String()
}
