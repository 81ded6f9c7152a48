package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/secretfile"
	"github.com/m2mkit/m2m/store"
)

// dataAdminFile holds the admin API token's secret bytes in the data
// directory; the token is their base64url encoding.
const dataAdminFile = "admin.token"

// clientAdmin is what the client commands need: the database directly or
// a server's admin API.
type clientAdmin interface {
	create(ctx context.Context, c *store.Client) (authserver.ClientInfo, error)
	list(ctx context.Context) ([]authserver.ClientInfo, error)
	get(ctx context.Context, id string) (authserver.ClientInfo, error)
	rotate(ctx context.Context, id string, grace time.Duration) (authserver.ClientInfo, error)
	setDisabled(ctx context.Context, id string, disabled bool) (authserver.ClientInfo, error)
	delete(ctx context.Context, id string) error
}

// storeAdmin works on the database.
type storeAdmin struct{ st store.Store }

var _ clientAdmin = storeAdmin{}

func (a storeAdmin) create(ctx context.Context, c *store.Client) (authserver.ClientInfo, error) {
	secret, err := authserver.CreateClient(ctx, a.st, c, nil)
	if err != nil {
		return authserver.ClientInfo{}, err
	}
	return authserver.NewClientInfo(c, secret, time.Now()), nil
}

func (a storeAdmin) list(ctx context.Context) ([]authserver.ClientInfo, error) {
	list, err := a.st.ListClients(ctx)
	if err != nil {
		return nil, err
	}
	out := []authserver.ClientInfo{}
	for _, c := range list {
		out = append(out, authserver.NewClientInfo(c, "", time.Now()))
	}
	return out, nil
}

func (a storeAdmin) get(ctx context.Context, id string) (authserver.ClientInfo, error) {
	c, err := a.st.GetClient(ctx, id)
	if err != nil {
		return authserver.ClientInfo{}, err
	}
	return authserver.NewClientInfo(c, "", time.Now()), nil
}

func (a storeAdmin) rotate(ctx context.Context, id string, grace time.Duration) (authserver.ClientInfo, error) {
	secret, err := authserver.RotateSecret(ctx, a.st, id, grace, nil)
	if err != nil {
		return authserver.ClientInfo{}, err
	}
	info, err := a.get(ctx, id)
	info.ClientSecret = secret
	return info, err
}

func (a storeAdmin) setDisabled(ctx context.Context, id string, disabled bool) (authserver.ClientInfo, error) {
	c, err := a.st.UpdateClient(ctx, id, func(c *store.Client) error {
		c.Disabled, c.UpdatedAt = disabled, time.Now()
		return nil
	})
	if err != nil {
		return authserver.ClientInfo{}, err
	}
	return authserver.NewClientInfo(c, "", time.Now()), nil
}

func (a storeAdmin) delete(ctx context.Context, id string) error { return a.st.DeleteClient(ctx, id) }

// adminToken reads the admin token: M2M_ADMIN_TOKEN, else the token file
// (default DATA/admin.token).
func adminToken(env *Env, file, data string) (string, error) {
	if file == "" {
		if v, ok := env.Lookup("M2M_ADMIN_TOKEN"); ok && v != "" {
			return v, nil
		}
		file = filepath.Join(data, dataAdminFile)
	}
	k, err := secretfile.Load(file, secretfile.DefaultSize)
	if err != nil {
		return "", Usage("no admin token for --server: %v (give --admin-token-file or M2M_ADMIN_TOKEN)", err)
	}
	return base64.RawURLEncoding.EncodeToString(k.Current), nil
}

// httpAdmin talks to a server's admin API.
type httpAdmin struct {
	base, token string
	client      *http.Client
}

var _ clientAdmin = (*httpAdmin)(nil)

func newHTTPAdmin(env *Env, server, tokenFile, data string) (*httpAdmin, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, Usage("--server %q: want an http(s) URL", server)
	}
	tok, err := adminToken(env, tokenFile, data)
	if err != nil {
		return nil, err
	}
	return &httpAdmin{base: strings.TrimSuffix(server, "/"), token: tok, client: &http.Client{Timeout: 30 * time.Second}}, nil
}

// maxAdminResponse caps an admin API answer.
const maxAdminResponse = 4 << 20

func (a *httpAdmin) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAdminResponse))
	if err != nil {
		return err
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return store.ErrNotFound
	case resp.StatusCode == http.StatusConflict:
		return store.ErrConflict
	case resp.StatusCode >= 300:
		var e struct {
			Error            string `json:"error"`
			ErrorDescription string `json:"error_description"`
		}
		json.Unmarshal(b, &e)
		return fmt.Errorf("%s %s: %s %s: %s", method, path, resp.Status, e.Error, e.ErrorDescription)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

func (a *httpAdmin) create(ctx context.Context, c *store.Client) (authserver.ClientInfo, error) {
	in := authserver.NewClientInfo(c, "", time.Now())
	in.CreatedAt, in.UpdatedAt = time.Time{}, time.Time{}
	var out authserver.ClientInfo
	err := a.do(ctx, http.MethodPost, "/admin/clients", createRequest(in), &out)
	return out, err
}

// createRequest is the create body: only the fields a caller sets.
func createRequest(in authserver.ClientInfo) map[string]any {
	m := map[string]any{"name": in.Name, "audiences": in.Audiences, "scopes": in.Scopes}
	if in.ClientID != "" {
		m["client_id"] = in.ClientID
	}
	if in.TokenTTLSeconds > 0 {
		m["token_ttl_seconds"] = in.TokenTTLSeconds
	}
	if in.RateLimitPerSecond > 0 {
		m["rate_limit_per_second"] = in.RateLimitPerSecond
	}
	if in.RateLimitBurst > 0 {
		m["rate_limit_burst"] = in.RateLimitBurst
	}
	if in.Profile != "" {
		m["profile"] = in.Profile
	}
	return m
}

func (a *httpAdmin) list(ctx context.Context) ([]authserver.ClientInfo, error) {
	var out struct {
		Clients []authserver.ClientInfo `json:"clients"`
	}
	err := a.do(ctx, http.MethodGet, "/admin/clients", nil, &out)
	return out.Clients, err
}

func (a *httpAdmin) get(ctx context.Context, id string) (authserver.ClientInfo, error) {
	var out authserver.ClientInfo
	err := a.do(ctx, http.MethodGet, "/admin/clients/"+url.PathEscape(id), nil, &out)
	return out, err
}

func (a *httpAdmin) rotate(ctx context.Context, id string, grace time.Duration) (authserver.ClientInfo, error) {
	var out authserver.ClientInfo
	err := a.do(ctx, http.MethodPost, "/admin/clients/"+url.PathEscape(id)+"/rotate-secret",
		map[string]int64{"grace_seconds": int64(grace / time.Second)}, &out)
	return out, err
}

func (a *httpAdmin) setDisabled(ctx context.Context, id string, disabled bool) (authserver.ClientInfo, error) {
	verb := "enable"
	if disabled {
		verb = "disable"
	}
	var out authserver.ClientInfo
	err := a.do(ctx, http.MethodPost, "/admin/clients/"+url.PathEscape(id)+"/"+verb, nil, &out)
	return out, err
}

func (a *httpAdmin) delete(ctx context.Context, id string) error {
	return a.do(ctx, http.MethodDelete, "/admin/clients/"+url.PathEscape(id), nil, nil)
}
