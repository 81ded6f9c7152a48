package authserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/internal/logattr"
	"github.com/m2mkit/m2m/store"
)

// KeyRotator adds a next signing key; *keyring.Keyring implements it.
type KeyRotator interface {
	Rotate(ctx context.Context) error
}

// KeyRevoker pulls a signing key at once (emergency revocation): it
// leaves the key set and stops signing, and a successor signs without
// waiting for pre-publication. A Config.KeyRotator that also implements
// it (*keyring.Keyring does) enables POST /admin/keys/{kid}/revoke. An
// unknown kid is an error wrapping store.ErrNotFound.
type KeyRevoker interface {
	Revoke(ctx context.Context, kid string) error
}

// ClientInfo is a client as the admin API shows it: never a secret
// digest, and the secret itself only in the answer that created it.
type ClientInfo struct {
	ClientID                string            `json:"client_id"`
	ClientSecret            string            `json:"client_secret,omitempty"`
	Name                    string            `json:"name"`
	Audiences               []string          `json:"audiences"`
	Scopes                  []string          `json:"scopes"`
	TokenTTLSeconds         int64             `json:"token_ttl_seconds,omitempty"`
	RateLimitPerSecond      float64           `json:"rate_limit_per_second,omitempty"`
	RateLimitBurst          int               `json:"rate_limit_burst,omitempty"`
	Profile                 string            `json:"profile,omitempty"`
	Disabled                bool              `json:"disabled"`
	PreviousSecretExpiresAt *time.Time        `json:"previous_secret_expires_at,omitempty"`
	Metadata                map[string]string `json:"metadata,omitempty"`
	// TokenEndpointAuthMethod, JWKS and JWKSURI are the client's
	// authentication method (RFC 7591: "" for a secret sent either way,
	// client_secret_basic, client_secret_post or private_key_jwt) and, for
	// private_key_jwt, its public JWK Set document or its jwks_uri.
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method,omitempty"`
	JWKS                    json.RawMessage `json:"jwks,omitempty"`
	JWKSURI                 string          `json:"jwks_uri,omitempty"`
	// DPoPBoundAccessTokens is RFC 9449 section 5.2's client metadata:
	// true when the token endpoint refuses the client's requests without
	// a DPoP proof, so that its tokens are always DPoP-bound.
	DPoPBoundAccessTokens bool `json:"dpop_bound_access_tokens,omitempty"`
	// The certificate name of a tls_client_auth client (RFC 8705 section
	// 2.1.2: exactly one of them), and whether the client's tokens are
	// bound to its certificate when it authenticates otherwise (section
	// 3.4).
	TLSClientAuthSubjectDN                string `json:"tls_client_auth_subject_dn,omitempty"`
	TLSClientAuthSANDNS                   string `json:"tls_client_auth_san_dns,omitempty"`
	TLSClientAuthSANURI                   string `json:"tls_client_auth_san_uri,omitempty"`
	TLSClientAuthSANIP                    string `json:"tls_client_auth_san_ip,omitempty"`
	TLSClientAuthSANEmail                 string `json:"tls_client_auth_san_email,omitempty"`
	TLSClientCertificateBoundAccessTokens bool   `json:"tls_client_certificate_bound_access_tokens,omitempty"`
	// QuotaHourly and QuotaDaily cap the tokens issued in a clock hour
	// and a UTC day (0: none); QuotaMode is enforce or monitor.
	QuotaHourly int64     `json:"quota_hourly,omitempty"`
	QuotaDaily  int64     `json:"quota_daily,omitempty"`
	QuotaMode   string    `json:"quota_mode,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// NewClientInfo describes c; secret is the freshly generated secret, or "".
// The previous secret's expiry is shown while it still works at now.
func NewClientInfo(c *store.Client, secret string, now time.Time) ClientInfo {
	j := ClientInfo{
		ClientID: c.ID, ClientSecret: secret, Name: c.Name,
		Audiences: c.Audiences, Scopes: c.Scopes,
		TokenTTLSeconds:    int64(c.TokenTTL / time.Second),
		RateLimitPerSecond: c.RateLimitPerSecond, RateLimitBurst: c.RateLimitBurst,
		Profile: c.Profile, Disabled: c.Disabled, Metadata: c.Metadata,
		TokenEndpointAuthMethod: c.AuthMethod, JWKS: json.RawMessage(c.JWKS), JWKSURI: c.JWKSURI,
		DPoPBoundAccessTokens:  c.RequireDPoP,
		TLSClientAuthSubjectDN: c.TLSSubject, TLSClientAuthSANDNS: c.TLSSANDNS, TLSClientAuthSANURI: c.TLSSANURI,
		TLSClientAuthSANIP: c.TLSSANIP, TLSClientAuthSANEmail: c.TLSSANEmail,
		TLSClientCertificateBoundAccessTokens: c.TLSClientCertificateBoundAccessTokens,
		QuotaHourly:                           c.QuotaHourly, QuotaDaily: c.QuotaDaily, QuotaMode: c.QuotaMode,
		CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(),
	}
	if j.Audiences == nil {
		j.Audiences = []string{}
	}
	if j.Scopes == nil {
		j.Scopes = []string{}
	}
	if len(c.PreviousSecretHash) > 0 && now.Before(c.PreviousSecretExpiresAt) {
		t := c.PreviousSecretExpiresAt.UTC()
		j.PreviousSecretExpiresAt = &t
	}
	return j
}

// Client returns the store record for a create request.
func (j *ClientInfo) Client() *store.Client {
	return &store.Client{
		ID: j.ClientID, Name: j.Name, Audiences: j.Audiences, Scopes: j.Scopes,
		TokenTTL:           time.Duration(j.TokenTTLSeconds) * time.Second,
		RateLimitPerSecond: j.RateLimitPerSecond, RateLimitBurst: j.RateLimitBurst,
		Profile: j.Profile, Disabled: j.Disabled, Metadata: j.Metadata,
		AuthMethod: j.TokenEndpointAuthMethod, JWKS: jwksBytes(j.JWKS), JWKSURI: j.JWKSURI,
		RequireDPoP: j.DPoPBoundAccessTokens,
		TLSSubject:  j.TLSClientAuthSubjectDN, TLSSANDNS: j.TLSClientAuthSANDNS, TLSSANURI: j.TLSClientAuthSANURI,
		TLSSANIP: j.TLSClientAuthSANIP, TLSSANEmail: j.TLSClientAuthSANEmail,
		TLSClientCertificateBoundAccessTokens: j.TLSClientCertificateBoundAccessTokens,
		QuotaHourly:                           j.QuotaHourly, QuotaDaily: j.QuotaDaily, QuotaMode: j.QuotaMode,
	}
}

// jwksBytes is the JWK Set document of an admin request: nil when absent
// or null.
func jwksBytes(raw json.RawMessage) []byte {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return slices.Clone([]byte(raw))
}

// maxAdminBody caps an admin request body.
const maxAdminBody = 64 << 10

// adminRoutes adds the admin API under /admin/ when an admin token is set.
func (s *Server) adminRoutes(mux *http.ServeMux) {
	if len(s.cfg.AdminTokenHash) != sha256.Size {
		return
	}
	h := func(f func(w http.ResponseWriter, r *http.Request) error) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !s.adminAuthorized(w, r) {
				return
			}
			if err := f(w, r); err != nil {
				s.adminError(w, r, err)
			}
		})
	}
	mux.Handle("GET /admin/clients", h(s.adminList))
	mux.Handle("POST /admin/clients", h(s.adminCreate))
	mux.Handle("GET /admin/clients/{id}", h(s.adminGet))
	mux.Handle("DELETE /admin/clients/{id}", h(s.adminDelete))
	mux.Handle("POST /admin/clients/{id}/disable", h(func(w http.ResponseWriter, r *http.Request) error { return s.adminSetDisabled(w, r, true) }))
	mux.Handle("POST /admin/clients/{id}/enable", h(func(w http.ResponseWriter, r *http.Request) error { return s.adminSetDisabled(w, r, false) }))
	mux.Handle("POST /admin/clients/{id}/rotate-secret", h(s.adminRotate))
	mux.Handle("POST /admin/clients/{id}/revoke-tokens", h(s.adminRevokeTokens))
	mux.Handle("GET /admin/keys", h(s.adminListKeys))
	mux.Handle("POST /admin/keys/rotate", h(s.adminRotateKey))
	mux.Handle("POST /admin/keys/{kid}/revoke", h(s.adminRevokeKey))
	s.trustPolicyRoutes(mux, h)
	mux.Handle("PATCH /admin/clients/{id}", h(s.adminUpdate))
	mux.Handle("GET /admin/clients/{id}/usage", h(s.adminUsage))
	mux.Handle("GET /admin/audit", h(s.adminAudit))
}

// adminAuthorized checks the Bearer admin token in constant time. The
// right token is never refused: the admin token is a random value no one
// can guess online (see Config.AdminTokenHash), so a lockout by address
// would only let a failing caller behind the same NAT or proxy lock the
// operator out. Failures are counted per address, and an address over
// FailureLimit has its further failures answered 429 with Retry-After.
func (s *Server) adminAuthorized(w http.ResponseWriter, r *http.Request) bool {
	ctx := r.Context()
	tok, err := httpauth.Credentials(r, "Bearer", "admin")
	sum := sha256.Sum256([]byte(tok))
	if err == nil && subtle.ConstantTimeCompare(sum[:], s.cfg.AdminTokenHash) == 1 {
		return true
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "authserver: admin request refused", slog.String("reason", "bad_admin_token"),
		slog.String("remote_addr", s.clientAddr(r)))
	d, lerr := s.limiter.Take(ctx, "authfail:admin:"+s.addrKey(r), s.failures, 1)
	if lerr != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "authserver: recording a failed admin request", logattr.Error(lerr))
	}
	if lerr == nil && !d.Allowed {
		w.Header().Set("Retry-After", strconv.Itoa(ceilSeconds(d.RetryAfter)))
		writeJSON(w, http.StatusTooManyRequests, errorBody(CodeTooManyRequests, "too many failed attempts"))
		return false
	}
	w.Header().Set("WWW-Authenticate", httpauth.Challenge{Scheme: "Bearer", Params: []httpauth.Param{{Name: "realm", Value: s.realm + " admin"}}}.String())
	writeJSON(w, http.StatusUnauthorized, errorBody("invalid_token", "admin token required"))
	return false
}

// adminBadRequest is a client-safe admin API error.
type adminBadRequest struct{ msg string }

func (e *adminBadRequest) Error() string { return "authserver: " + e.msg }

func (s *Server) adminError(w http.ResponseWriter, r *http.Request, err error) {
	var bad *adminBadRequest
	switch {
	case errors.As(err, &bad):
		writeJSON(w, http.StatusBadRequest, errorBody(CodeInvalidRequest, bad.msg))
	case errors.Is(err, store.ErrInvalid):
		writeJSON(w, http.StatusBadRequest, invalidBody(err))
	case errors.Is(err, store.ErrNotFound):
		writeJSON(w, http.StatusNotFound, errorBody("not_found", "no such client"))
	case errors.Is(err, store.ErrConflict):
		writeJSON(w, http.StatusConflict, errorBody("conflict", "a client with this id already exists"))
	default:
		s.log.LogAttrs(r.Context(), slog.LevelError, "authserver: admin request failed", logattr.Error(err))
		writeJSON(w, http.StatusInternalServerError, errorBody(CodeServerError, "internal error"))
	}
}

func decodeAdmin(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &adminBadRequest{"malformed JSON body: " + strings.TrimPrefix(err.Error(), "json: ")}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &adminBadRequest{"malformed JSON body: data after the object (or a body over 64 KiB)"}
	}
	return nil
}

func (s *Server) adminList(w http.ResponseWriter, r *http.Request) error {
	list, err := s.cfg.Clients.ListClients(r.Context())
	if err != nil {
		return err
	}
	out := struct {
		Clients []ClientInfo `json:"clients"`
	}{Clients: []ClientInfo{}}
	now := s.now()
	for _, c := range list {
		out.Clients = append(out.Clients, NewClientInfo(c, "", now))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) adminCreate(w http.ResponseWriter, r *http.Request) error {
	var in ClientInfo
	if err := decodeAdmin(r, &in); err != nil {
		return err
	}
	var problems []error
	if in.ClientSecret != "" {
		problems = append(problems, &store.FieldError{Field: "client_secret", Problem: "is generated by the server"})
	}
	if in.Name == "" {
		problems = append(problems, &store.FieldError{Field: "name", Problem: "is required"})
	}
	// Checked in seconds, before the conversion to a Duration could
	// overflow.
	maxTTL := int64(s.maxTokenTTL / time.Second)
	if in.TokenTTLSeconds < 0 || in.TokenTTLSeconds > maxTTL {
		problems = append(problems, &store.FieldError{Field: "token_ttl_seconds",
			Problem: fmt.Sprintf("must be 0 (the server's default) to %d (the server's maximum token lifetime)", maxTTL)})
		in.TokenTTLSeconds = 0
	}
	c := in.Client()
	if err := ValidateClient(c, s.maxTokenTTL); err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return errors.Join(problems...)
	}
	secret, err := CreateClient(r.Context(), s.cfg.Clients, c, s.cfg.Now)
	if err != nil {
		return err
	}
	s.auditAdmin(r, AuditClientCreated, c.ID, "")
	writeJSON(w, http.StatusCreated, NewClientInfo(c, secret, s.now()))
	return nil
}

// pathID is the {id} of an admin path. An id no client can have (longer
// than a token request may carry, or with control characters) is
// answered 404 before the store is asked.
func pathID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if len(id) > maxClientIDBytes || !printableASCIIOrUTF8(id) {
		return "", store.ErrNotFound
	}
	return id, nil
}

func printableASCIIOrUTF8(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r >= 0x7f && r < 0xa0 {
			return false
		}
	}
	return true
}

func (s *Server) adminGet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	c, err := s.cfg.Clients.GetClient(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, NewClientInfo(c, "", s.now()))
	return nil
}

// adminDelete is DELETE /admin/clients/{id}. A client that trust
// policies name is refused 409 [CodeClientHasTrustPolicies], the body
// listing them, unless the query says cascade=trust-policies: then they
// are deleted with it, in one transaction, each audited as
// trust_policy.deleted, and the answer lists them.
func (s *Server) adminDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	cascade := false
	switch v, ok := r.URL.Query()["cascade"]; {
	case !ok:
	case len(v) == 1 && v[0] == CascadeTrustPolicies:
		cascade = true
	default:
		return &adminBadRequest{`cascade: the only value is "` + CascadeTrustPolicies + `", once`}
	}
	deleted, err := DeleteClient(r.Context(), s.cfg.Clients, id, cascade)
	var inUse *store.ClientInUseError
	if errors.As(err, &inUse) {
		writeJSON(w, http.StatusConflict, clientInUseBody{Error: CodeClientHasTrustPolicies,
			ErrorDescription: fmt.Sprintf("trust policies name this client: delete them first, or give cascade=%s to delete them with it", CascadeTrustPolicies),
			TrustPolicies:    inUse.TrustPolicies})
		return nil
	}
	if err != nil {
		return err
	}
	s.clients.forget(id)
	names := []string{}
	for _, p := range deleted {
		names = append(names, p.Name)
		s.auditAdmin(r, AuditTrustPolicyDeleted, id, p.Name)
	}
	if len(deleted) > 0 {
		s.policiesChanged()
	}
	s.auditAdmin(r, AuditClientDeleted, id, "")
	writeJSON(w, http.StatusOK, ClientDeleted{ClientID: id, Deleted: true, TrustPoliciesDeleted: names})
	return nil
}

func (s *Server) adminSetDisabled(w http.ResponseWriter, r *http.Request, disabled bool) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	c, err := s.cfg.Clients.UpdateClient(r.Context(), id, func(c *store.Client) error {
		c.Disabled, c.UpdatedAt = disabled, s.now()
		return nil
	})
	if err != nil {
		return err
	}
	s.clients.forget(id)
	code := AuditClientEnabled
	if disabled {
		code = AuditClientDisabled
	}
	s.auditAdmin(r, code, id, "")
	writeJSON(w, http.StatusOK, NewClientInfo(c, "", s.now()))
	return nil
}

func (s *Server) adminRotate(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		GraceSeconds *int64 `json:"grace_seconds"`
	}
	if r.ContentLength != 0 {
		if err := decodeAdmin(r, &in); err != nil {
			return err
		}
	}
	grace := DefaultSecretGrace
	if in.GraceSeconds != nil {
		if *in.GraceSeconds < 0 || *in.GraceSeconds > int64(MaxSecretGrace/time.Second) {
			return &adminBadRequest{"grace_seconds out of range"}
		}
		grace = time.Duration(*in.GraceSeconds) * time.Second
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	secret, err := RotateSecret(r.Context(), s.cfg.Clients, id, grace, s.cfg.Now)
	if err != nil {
		return err
	}
	s.clients.forget(id)
	s.auditAdmin(r, AuditClientSecretRotated, id, "")
	c, err := s.cfg.Clients.GetClient(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, NewClientInfo(c, secret, s.now()))
	return nil
}

// adminRevokeKey is POST /admin/keys/{kid}/revoke: the emergency
// revocation of a signing key. It answers the JWKS without the key.
func (s *Server) adminRevokeKey(w http.ResponseWriter, r *http.Request) error {
	rev, ok := s.cfg.KeyRotator.(KeyRevoker)
	if !ok {
		writeJSON(w, http.StatusNotImplemented, errorBody("not_implemented", "this server cannot revoke keys"))
		return nil
	}
	kid := r.PathValue("kid")
	if err := rev.Revoke(r.Context(), kid); errors.Is(err, store.ErrNotFound) {
		writeJSON(w, http.StatusNotFound, errorBody("not_found", "no such key"))
		return nil
	} else if err != nil {
		return err
	}
	s.log.LogAttrs(r.Context(), slog.LevelWarn, "authserver: signing key revoked", logattr.String("kid", kid))
	s.auditAdmin(r, AuditKeyRevoked, "", kid)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(s.cfg.Signer.JWKS())
	return nil
}

func (s *Server) adminRotateKey(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.KeyRotator == nil {
		writeJSON(w, http.StatusNotImplemented, errorBody("not_implemented", "this server cannot rotate keys"))
		return nil
	}
	if err := s.cfg.KeyRotator.Rotate(r.Context()); err != nil {
		return err
	}
	s.auditAdmin(r, AuditKeyRotated, "", "")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(s.cfg.Signer.JWKS())
	return nil
}

// invalidClientBody is the 400 answer to a client the store refuses: the
// RFC 6749-style error and description, and each problem with the field
// it is about.
type invalidClientBody struct {
	Error            string         `json:"error"`
	ErrorDescription string         `json:"error_description"`
	Fields           []fieldProblem `json:"fields"`
}

type fieldProblem struct {
	Field   string `json:"field"`
	Problem string `json:"problem"`
}

func invalidBody(err error) invalidClientBody {
	b := invalidClientBody{Error: CodeInvalidRequest, Fields: []fieldProblem{}}
	var descs []string
	for _, fe := range store.FieldErrors(err) {
		b.Fields = append(b.Fields, fieldProblem{fe.Field, fe.Problem})
		descs = append(descs, fe.Field+": "+fe.Problem)
	}
	b.ErrorDescription = "invalid client: " + strings.Join(descs, "; ")
	return b
}
