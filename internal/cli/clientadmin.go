package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/internal/redact"
	"github.com/m2mkit/m2m/secretfile"
	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/sqlstore"
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
	// delete deletes the client and, withTrustPolicies, the trust
	// policies that name it, returning their names; without it, a client
	// that policies name is a *store.ClientInUseError.
	delete(ctx context.Context, id string, withTrustPolicies bool) ([]string, error)
}

// storeAdmin works on the database.
type storeAdmin struct{ st store.Store }

var _ clientAdmin = storeAdmin{}

func (a storeAdmin) create(ctx context.Context, c *store.Client) (authserver.ClientInfo, error) {
	secret, err := authserver.CreateClient(ctx, a.st, c, nil)
	if err != nil {
		return authserver.ClientInfo{}, err
	}
	a.audit(ctx, authserver.AuditClientCreated, c.ID)
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
	a.audit(ctx, authserver.AuditClientSecretRotated, id)
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
	code := authserver.AuditClientEnabled
	if disabled {
		code = authserver.AuditClientDisabled
	}
	a.audit(ctx, code, id)
	return authserver.NewClientInfo(c, "", time.Now()), nil
}

func (a storeAdmin) delete(ctx context.Context, id string, withTrustPolicies bool) ([]string, error) {
	deleted, err := authserver.DeleteClient(ctx, a.st, id, withTrustPolicies)
	if err != nil {
		return nil, err
	}
	names := []string{}
	for _, p := range deleted {
		names = append(names, p.Name)
		a.auditPolicy(ctx, authserver.AuditTrustPolicyDeleted, id, p.Name)
	}
	a.audit(ctx, authserver.AuditClientDeleted, id)
	return names, nil
}

// adminTokenFileUsage is the help of --admin-token-file.
const adminTokenFileUsage = "with --server: `PATH` of the admin token file m2m serve wrote (default DATA/" + dataAdminFile +
	"; env M2M_ADMIN_TOKEN_FILE); M2M_ADMIN_TOKEN may hold the token itself instead"

// adminToken returns the admin API token, one form everywhere: the
// base64url encoding of the 32 bytes of the admin token file that m2m
// serve writes (DATA/admin.token), which the API takes as a Bearer token.
// It comes from the file at --admin-token-file (or M2M_ADMIN_TOKEN_FILE),
// a path, checked as a secret file; else from M2M_ADMIN_TOKEN, the value;
// else from DATA/admin.token.
func adminToken(env *Env, file, data string) (string, error) {
	if file == "" {
		if v, ok := env.Lookup("M2M_ADMIN_TOKEN"); ok && v != "" {
			if b, err := base64.RawURLEncoding.DecodeString(v); err != nil || len(b) != secretfile.DefaultSize {
				return "", Usage("M2M_ADMIN_TOKEN: want the admin token, %d base64url characters (the Bearer token of the admin API); to name the file, set M2M_ADMIN_TOKEN_FILE or give --admin-token-file",
					base64.RawURLEncoding.EncodedLen(secretfile.DefaultSize))
			}
			return v, nil
		}
		file = filepath.Join(data, dataAdminFile)
	}
	k, err := secretfile.Load(file, secretfile.DefaultSize)
	if err != nil {
		return "", Rejected(fmt.Errorf("no admin token for --server: %w (give --admin-token-file PATH, M2M_ADMIN_TOKEN_FILE or M2M_ADMIN_TOKEN)", err))
	}
	return base64.RawURLEncoding.EncodeToString(k.Current), nil
}

// fieldsError is the admin API's 400 answer to a record it refuses,
// with each problem as a store.FieldError (wrapping store.ErrInvalid),
// so that the CLI can name the flag of each field.
type fieldsError struct {
	err    error
	fields []store.FieldError
}

func (e *fieldsError) Error() string { return e.err.Error() }

func (e *fieldsError) Unwrap() []error {
	errs := make([]error, len(e.fields))
	for i := range e.fields {
		errs[i] = &e.fields[i]
	}
	return errs
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
		return nil, Usage("--server %q: want an http(s) URL", redact.URL(server))
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
	req.Header.Set(authserver.ActorHeader, cliActor())
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return redact.Error(err, a.base)
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
		var e struct {
			Error         string   `json:"error"`
			TrustPolicies []string `json:"trust_policies"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error == authserver.CodeClientHasTrustPolicies {
			// The caller knows the client id.
			return &store.ClientInUseError{TrustPolicies: e.TrustPolicies}
		}
		return store.ErrConflict
	case resp.StatusCode >= 300:
		var e struct {
			Error            string `json:"error"`
			ErrorDescription string `json:"error_description"`
			Fields           []store.FieldError
		}
		json.Unmarshal(b, &e)
		err := fmt.Errorf("%s %s: %s %s: %s", method, path, resp.Status, e.Error, e.ErrorDescription)
		if resp.StatusCode == http.StatusBadRequest && len(e.Fields) > 0 {
			return &fieldsError{err, e.Fields}
		}
		return err
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
	if in.TokenEndpointAuthMethod != "" {
		m["token_endpoint_auth_method"] = in.TokenEndpointAuthMethod
	}
	if len(in.JWKS) > 0 {
		m["jwks"] = in.JWKS
	}
	if in.JWKSURI != "" {
		m["jwks_uri"] = in.JWKSURI
	}
	if in.DPoPBoundAccessTokens {
		m["dpop_bound_access_tokens"] = true
	}
	for k, v := range map[string]string{
		"tls_client_auth_subject_dn": in.TLSClientAuthSubjectDN, "tls_client_auth_san_dns": in.TLSClientAuthSANDNS,
		"tls_client_auth_san_uri": in.TLSClientAuthSANURI, "tls_client_auth_san_ip": in.TLSClientAuthSANIP,
		"tls_client_auth_san_email": in.TLSClientAuthSANEmail,
	} {
		if v != "" {
			m[k] = v
		}
	}
	if in.TLSClientCertificateBoundAccessTokens {
		m["tls_client_certificate_bound_access_tokens"] = true
	}
	if in.QuotaHourly > 0 {
		m["quota_hourly"] = in.QuotaHourly
	}
	if in.QuotaDaily > 0 {
		m["quota_daily"] = in.QuotaDaily
	}
	if in.QuotaMode != "" {
		m["quota_mode"] = in.QuotaMode
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

func (a *httpAdmin) delete(ctx context.Context, id string, withTrustPolicies bool) ([]string, error) {
	path := "/admin/clients/" + url.PathEscape(id)
	if withTrustPolicies {
		path += "?cascade=" + authserver.CascadeTrustPolicies
	}
	var out authserver.ClientDeleted
	err := a.do(ctx, http.MethodDelete, path, nil, &out)
	var inUse *store.ClientInUseError
	if errors.As(err, &inUse) {
		inUse.ClientID = id
	}
	if err != nil {
		return nil, err
	}
	if out.TrustPoliciesDeleted == nil {
		out.TrustPoliciesDeleted = []string{}
	}
	return out.TrustPoliciesDeleted, nil
}

// openExisting opens the database of an existing server: the data
// directory (--data) and its SQLite file, or the database at --database,
// must already hold m2m's tables. Nothing is created: only m2m serve
// creates a server's data, so that an admin command run in the wrong
// directory, or given a mistyped URL, fails instead of working on a new,
// empty database. Every admin command (client, key, revoke) opens the
// database this way.
func (f *dataFlags) openExisting(ctx context.Context) (*sqlstore.Store, error) {
	u := f.database
	if u == "" {
		fi, err := os.Stat(f.data)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, Rejected(fmt.Errorf("data directory %s does not exist: give the --data DIR (or M2M_DATA) or the --database URL of an existing server; m2m init or m2m serve creates one", f.data))
		case err != nil:
			return nil, Rejected(fmt.Errorf("data directory: %w", err))
		case !fi.IsDir():
			return nil, Rejected(fmt.Errorf("data directory %s is not a directory", f.data))
		}
		abs, err := filepath.Abs(filepath.Join(f.data, dataDBFile))
		if err != nil {
			return nil, Rejected(err)
		}
		u = "sqlite://" + abs
	}
	st, err := sqlstore.OpenWith(ctx, u, sqlstore.Options{MustExist: true})
	if errors.Is(err, sqlstore.ErrNoDatabase) {
		where := "--database"
		if f.database == "" {
			where = "--data " + f.data
		}
		return nil, Rejected(fmt.Errorf("%s: %w; give the --data DIR or --database URL of an existing server (m2m init or m2m serve creates one)", where, err))
	}
	if err != nil {
		return nil, Rejected(err)
	}
	return st, nil
}

// masterExisting loads the master secret of an existing server
// (--master-secret-file, else DATA/master.key). It never creates one: a
// new master secret could not open the keys the old one sealed.
func (f *dataFlags) masterExisting() ([]byte, error) {
	path := f.masterFile
	if path == "" {
		path = filepath.Join(f.data, dataMasterFile)
	}
	k, err := secretfile.Load(path, secretfile.DefaultSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Rejected(fmt.Errorf("master secret %s does not exist: give the --master-secret-file (or M2M_MASTER_SECRET_FILE) that m2m serve uses", path))
	}
	if err != nil {
		return nil, Rejected(err)
	}
	return k.Current, nil
}

// writeCredentials writes the client id and secret of info to path as
// the JSON object m2m token --credentials-file reads, readable by its
// owner only (0600) and atomically. Without replace an existing file is
// refused.
func writeCredentials(path string, info authserver.ClientInfo, replace bool) error {
	b, err := json.MarshalIndent(struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}{info.ClientID, info.ClientSecret}, "", "  ")
	if err != nil {
		return err
	}
	if err := secretfile.WritePrivate(path, append(b, '\n'), replace); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("--credentials-file %s exists; choose another path or remove it", path)
		}
		return fmt.Errorf("--credentials-file: %w", err)
	}
	return nil
}
