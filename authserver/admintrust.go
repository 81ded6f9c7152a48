package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/m2mkit/m2m/store"
)

// TrustPolicyInfo is a trust policy as the admin API shows and takes it
// (GET, POST and PUT /admin/trust-policies...). On POST and PUT,
// created_at and updated_at are ignored: the server sets them.
type TrustPolicyInfo struct {
	Name   string `json:"name"`
	Issuer string `json:"issuer"`
	// JWKSURI and JWKS are where the issuer's keys come from: a URL, or
	// a JWK Set document given by value; neither means OIDC discovery at
	// the issuer.
	JWKSURI   string            `json:"jwks_uri,omitempty"`
	JWKS      json.RawMessage   `json:"jwks,omitempty"`
	Audiences []string          `json:"audiences"`
	Subject   string            `json:"subject"`
	Claims    map[string]string `json:"claims,omitempty"`
	ClientID  string            `json:"client_id"`
	// Scopes the issued token may carry; empty: the client's scopes.
	Scopes []string `json:"scopes"`
	// MaxTTLSeconds bounds the issued token's lifetime (0: the client's
	// or the server's).
	MaxTTLSeconds int64     `json:"max_ttl_seconds,omitempty"`
	SingleUse     bool      `json:"single_use"`
	Preset        string    `json:"preset,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// NewTrustPolicyInfo describes p. MaxTTL is shown in whole seconds.
func NewTrustPolicyInfo(p *store.TrustPolicy) TrustPolicyInfo {
	j := TrustPolicyInfo{
		Name: p.Name, Issuer: p.Issuer, JWKSURI: p.JWKSURI, JWKS: json.RawMessage(p.JWKS),
		Audiences: p.Audiences, Subject: p.Subject, Claims: p.Claims, ClientID: p.ClientID, Scopes: p.Scopes,
		MaxTTLSeconds: int64(p.MaxTTL / time.Second), SingleUse: p.SingleUse, Preset: p.Preset,
		CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC(),
	}
	if j.Audiences == nil {
		j.Audiences = []string{}
	}
	if j.Scopes == nil {
		j.Scopes = []string{}
	}
	return j
}

// TrustPolicy returns the store record for a create or replace request.
// A max_ttl_seconds beyond [store.MaxTrustPolicyTTL] is kept out of range
// (not wrapped around), for Validate to refuse.
func (j *TrustPolicyInfo) TrustPolicy() *store.TrustPolicy {
	ttl := time.Duration(j.MaxTTLSeconds) * time.Second
	if j.MaxTTLSeconds > int64(store.MaxTrustPolicyTTL/time.Second) {
		ttl = store.MaxTrustPolicyTTL + time.Second
	} else if j.MaxTTLSeconds < 0 {
		ttl = -time.Second
	}
	return &store.TrustPolicy{
		Name: j.Name, Issuer: j.Issuer, JWKSURI: j.JWKSURI, JWKS: jwksBytes(j.JWKS),
		Audiences: j.Audiences, Subject: j.Subject, Claims: j.Claims, ClientID: j.ClientID, Scopes: j.Scopes,
		MaxTTL: ttl, SingleUse: j.SingleUse, Preset: j.Preset,
	}
}

// checkPolicy validates p and checks that its client exists in clients,
// reporting every problem at once.
func checkPolicy(ctx context.Context, clients store.Clients, p *store.TrustPolicy) error {
	errs := []error{p.Validate()}
	if store.ValidClientID(p.ClientID) {
		_, err := clients.GetClient(ctx, p.ClientID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			errs = append(errs, store.NoSuchClient())
		case err != nil:
			return fmt.Errorf("authserver: looking up the policy's client: %w", err)
		}
	}
	return errors.Join(errs...)
}

// CreateTrustPolicy stores p after checking it (every problem at once, as
// *store.FieldError values wrapping store.ErrInvalid) and checking that
// the client it maps to exists in clients (else a client_id field
// error). It sets CreatedAt and UpdatedAt to now
// (nil: time.Now). The admin API and the CLI create policies with it.
func CreateTrustPolicy(ctx context.Context, policies store.TrustPolicies, clients store.Clients, p *store.TrustPolicy, now func() time.Time) error {
	if err := checkPolicy(ctx, clients, p); err != nil {
		return err
	}
	t := nowOf(now)
	p.CreatedAt, p.UpdatedAt = t, t
	if err := policies.CreateTrustPolicy(ctx, p); err != nil {
		return fmt.Errorf("authserver: creating trust policy: %w", err)
	}
	return nil
}

// ReplaceTrustPolicy replaces every field of the stored policy named
// p.Name with those of p, keeping its CreatedAt and setting UpdatedAt to
// now (nil: time.Now), with the checks of [CreateTrustPolicy]. A policy
// that does not exist is an error wrapping store.ErrNotFound.
func ReplaceTrustPolicy(ctx context.Context, policies store.TrustPolicies, clients store.Clients, p *store.TrustPolicy, now func() time.Time) (*store.TrustPolicy, error) {
	if err := checkPolicy(ctx, clients, p); err != nil {
		return nil, err
	}
	t := nowOf(now)
	out, err := policies.UpdateTrustPolicy(ctx, p.Name, func(old *store.TrustPolicy) error {
		created := old.CreatedAt
		*old = *p.Clone()
		old.CreatedAt, old.UpdatedAt = created, t
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("authserver: replacing trust policy: %w", err)
	}
	return out, nil
}

// TrustPolicyUpdate is the body of PATCH /admin/trust-policies/{name}:
// the fields to change; an absent (null) field is left as it is. A list
// or the claims given replace the whole list or set. The key source is
// one setting: giving jwks_uri or jwks replaces both (jwks_uri "" alone:
// OIDC discovery at the issuer). The name cannot be changed.
type TrustPolicyUpdate struct {
	Issuer        *string            `json:"issuer,omitempty"`
	JWKSURI       *string            `json:"jwks_uri,omitempty"`
	JWKS          json.RawMessage    `json:"jwks,omitempty"`
	Audiences     *[]string          `json:"audiences,omitempty"`
	Subject       *string            `json:"subject,omitempty"`
	Claims        *map[string]string `json:"claims,omitempty"`
	ClientID      *string            `json:"client_id,omitempty"`
	Scopes        *[]string          `json:"scopes,omitempty"`
	MaxTTLSeconds *int64             `json:"max_ttl_seconds,omitempty"`
	SingleUse     *bool              `json:"single_use,omitempty"`
	Preset        *string            `json:"preset,omitempty"`
}

// Empty reports whether u changes nothing.
func (u *TrustPolicyUpdate) Empty() bool {
	return u.Issuer == nil && u.JWKSURI == nil && jwksBytes(u.JWKS) == nil && u.Audiences == nil && u.Subject == nil &&
		u.Claims == nil && u.ClientID == nil && u.Scopes == nil && u.MaxTTLSeconds == nil && u.SingleUse == nil && u.Preset == nil
}

// Apply sets the fields of u on p. A max_ttl_seconds out of range is
// kept out of range, for Validate to refuse.
func (u *TrustPolicyUpdate) Apply(p *store.TrustPolicy) {
	if u.Issuer != nil {
		p.Issuer = *u.Issuer
	}
	if u.JWKSURI != nil || jwksBytes(u.JWKS) != nil {
		p.JWKSURI, p.JWKS = "", jwksBytes(u.JWKS)
		if u.JWKSURI != nil {
			p.JWKSURI = *u.JWKSURI
		}
	}
	if u.Audiences != nil {
		p.Audiences = slices.Clone(*u.Audiences)
	}
	if u.Subject != nil {
		p.Subject = *u.Subject
	}
	if u.Claims != nil {
		p.Claims = nil
		if len(*u.Claims) > 0 {
			p.Claims = maps.Clone(*u.Claims)
		}
	}
	if u.ClientID != nil {
		p.ClientID = *u.ClientID
	}
	if u.Scopes != nil {
		p.Scopes = nil
		if len(*u.Scopes) > 0 {
			p.Scopes = slices.Clone(*u.Scopes)
		}
	}
	if u.MaxTTLSeconds != nil {
		p.MaxTTL = (&TrustPolicyInfo{MaxTTLSeconds: *u.MaxTTLSeconds}).TrustPolicy().MaxTTL
	}
	if u.SingleUse != nil {
		p.SingleUse = *u.SingleUse
	}
	if u.Preset != nil {
		p.Preset = *u.Preset
	}
}

// UpdateTrustPolicy applies u to the stored policy named name, in the
// store's update transaction, with the checks of [CreateTrustPolicy]
// (every problem at once; a client_id that names no client is a field
// error), and sets UpdatedAt to now (nil: time.Now). A policy that does
// not exist is an error wrapping store.ErrNotFound.
func UpdateTrustPolicy(ctx context.Context, policies store.TrustPolicies, clients store.Clients, name string, u *TrustPolicyUpdate, now func() time.Time) (*store.TrustPolicy, error) {
	// The client is looked up before the update, not in the updater: a
	// store may hold its lock while the updater runs. A store that keeps
	// clients checks again in its transaction.
	var noClient error
	if u.ClientID != nil && store.ValidClientID(*u.ClientID) {
		_, err := clients.GetClient(ctx, *u.ClientID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			noClient = store.NoSuchClient()
		case err != nil:
			return nil, fmt.Errorf("authserver: looking up the policy's client: %w", err)
		}
	}
	out, err := policies.UpdateTrustPolicy(ctx, name, func(p *store.TrustPolicy) error {
		u.Apply(p)
		p.Name = name
		if err := errors.Join(p.Validate(), noClient); err != nil {
			return err
		}
		p.UpdatedAt = nowOf(now)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("authserver: updating trust policy: %w", err)
	}
	return out, nil
}

// CascadeTrustPolicies is the value of the cascade query parameter of
// DELETE /admin/clients/{id} that deletes the client's trust policies
// with it.
const CascadeTrustPolicies = "trust-policies"

// CodeClientHasTrustPolicies is the error code of the 409 answer to
// DELETE /admin/clients/{id} for a client that trust policies name; the
// body's trust_policies lists them.
const CodeClientHasTrustPolicies = "client_has_trust_policies"

// clientInUseBody is the 409 answer for a client that policies name.
type clientInUseBody struct {
	Error            string   `json:"error"`
	ErrorDescription string   `json:"error_description"`
	TrustPolicies    []string `json:"trust_policies"`
}

// ClientDeleted is the answer of DELETE /admin/clients/{id}:
// TrustPoliciesDeleted names the policies deleted with the client (with
// cascade=trust-policies), ordered by name.
type ClientDeleted struct {
	ClientID             string   `json:"client_id"`
	Deleted              bool     `json:"deleted"`
	TrustPoliciesDeleted []string `json:"trust_policies_deleted"`
}

// DeleteClient deletes client id from clients. Without
// withTrustPolicies a client that trust policies name is refused with a
// *store.ClientInUseError (wrapping store.ErrInUse) and stays; with it,
// when clients is a [store.ClientsAndTrustPolicies], the policies are
// deleted with the client in one transaction and returned, ordered by
// name. A store that keeps no trust policies deletes the client alone.
// The admin API and the CLI delete clients with it.
func DeleteClient(ctx context.Context, clients store.Clients, id string, withTrustPolicies bool) ([]*store.TrustPolicy, error) {
	if ct, ok := clients.(store.ClientsAndTrustPolicies); ok && withTrustPolicies {
		deleted, err := ct.DeleteClientAndTrustPolicies(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("authserver: deleting client: %w", err)
		}
		return deleted, nil
	}
	if err := clients.DeleteClient(ctx, id); err != nil {
		return nil, fmt.Errorf("authserver: deleting client: %w", err)
	}
	return nil, nil
}

// policiesChanged makes this server's federation verifier read the trust
// policies afresh at its next token request, after a change made through
// its admin API: the change takes effect on this replica at once, and on
// others within their policy cache TTL.
func (s *Server) policiesChanged() {
	if s.cfg.Federation != nil {
		s.cfg.Federation.Invalidate()
	}
}

// trustPolicyRoutes adds /admin/trust-policies, behind the admin handler
// wrapper h of adminRoutes.
func (s *Server) trustPolicyRoutes(mux *http.ServeMux, h func(func(http.ResponseWriter, *http.Request) error) http.Handler) {
	t := func(f func(http.ResponseWriter, *http.Request, store.TrustPolicies) error) http.Handler {
		return h(func(w http.ResponseWriter, r *http.Request) error {
			policies, ok := s.cfg.Clients.(store.TrustPolicies)
			if !ok {
				writeJSON(w, http.StatusNotImplemented, errorBody("not_implemented", "this server's store keeps no trust policies"))
				return nil
			}
			err := f(w, r, policies)
			switch {
			case err == nil:
			case errors.Is(err, store.ErrInvalid):
				writeJSON(w, http.StatusBadRequest, invalidPolicyBody(err))
			case errors.Is(err, store.ErrNotFound):
				writeJSON(w, http.StatusNotFound, errorBody("not_found", "no such trust policy"))
			case errors.Is(err, store.ErrConflict):
				writeJSON(w, http.StatusConflict, errorBody("conflict", "a trust policy with this name already exists"))
			default:
				return err
			}
			return nil
		})
	}
	mux.Handle("GET /admin/trust-policies", t(s.adminListPolicies))
	mux.Handle("POST /admin/trust-policies", t(s.adminCreatePolicy))
	mux.Handle("GET /admin/trust-policies/{name}", t(s.adminGetPolicy))
	mux.Handle("PUT /admin/trust-policies/{name}", t(s.adminReplacePolicy))
	mux.Handle("PATCH /admin/trust-policies/{name}", t(s.adminUpdatePolicy))
	mux.Handle("DELETE /admin/trust-policies/{name}", t(s.adminDeletePolicy))
}

// pathPolicyName is the {name} of an admin path; a name no policy can
// have is answered 404 before the store is asked.
func pathPolicyName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	if !store.ValidClientID(name) || len(name) > store.MaxTrustPolicyNameBytes {
		return "", store.ErrNotFound
	}
	return name, nil
}

func (s *Server) adminListPolicies(w http.ResponseWriter, r *http.Request, policies store.TrustPolicies) error {
	list, err := policies.ListTrustPolicies(r.Context())
	if err != nil {
		return err
	}
	out := struct {
		TrustPolicies []TrustPolicyInfo `json:"trust_policies"`
	}{TrustPolicies: []TrustPolicyInfo{}}
	for _, p := range list {
		out.TrustPolicies = append(out.TrustPolicies, NewTrustPolicyInfo(p))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) adminCreatePolicy(w http.ResponseWriter, r *http.Request, policies store.TrustPolicies) error {
	var in TrustPolicyInfo
	if err := decodeAdmin(r, &in); err != nil {
		return err
	}
	p := in.TrustPolicy()
	if err := CreateTrustPolicy(r.Context(), policies, s.cfg.Clients, p, s.cfg.Now); err != nil {
		return err
	}
	s.policiesChanged()
	s.auditAdmin(r, AuditTrustPolicyCreated, p.ClientID, p.Name)
	writeJSON(w, http.StatusCreated, NewTrustPolicyInfo(p))
	return nil
}

func (s *Server) adminGetPolicy(w http.ResponseWriter, r *http.Request, policies store.TrustPolicies) error {
	name, err := pathPolicyName(r)
	if err != nil {
		return err
	}
	p, err := policies.GetTrustPolicy(r.Context(), name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, NewTrustPolicyInfo(p))
	return nil
}

// adminReplacePolicy is PUT /admin/trust-policies/{name}: the body is the
// whole policy (a field left out takes its zero value); its name, if
// given, must be the path's.
func (s *Server) adminReplacePolicy(w http.ResponseWriter, r *http.Request, policies store.TrustPolicies) error {
	name, err := pathPolicyName(r)
	if err != nil {
		return err
	}
	var in TrustPolicyInfo
	if err := decodeAdmin(r, &in); err != nil {
		return err
	}
	if in.Name != "" && in.Name != name {
		return &store.FieldError{Record: "trust policy", Field: "name", Problem: "differs from the name in the path (a policy cannot be renamed)"}
	}
	in.Name = name
	p, err := ReplaceTrustPolicy(r.Context(), policies, s.cfg.Clients, in.TrustPolicy(), s.cfg.Now)
	if err != nil {
		return err
	}
	s.policiesChanged()
	s.auditAdmin(r, AuditTrustPolicyUpdated, p.ClientID, p.Name)
	writeJSON(w, http.StatusOK, NewTrustPolicyInfo(p))
	return nil
}

// adminUpdatePolicy is PATCH /admin/trust-policies/{name}: the body is a
// [TrustPolicyUpdate], the fields to change; the rest is kept. The
// change is applied in the store's update transaction, so two operators
// who change different fields at once both keep theirs.
func (s *Server) adminUpdatePolicy(w http.ResponseWriter, r *http.Request, policies store.TrustPolicies) error {
	name, err := pathPolicyName(r)
	if err != nil {
		return err
	}
	var u TrustPolicyUpdate
	if err := decodeAdmin(r, &u); err != nil {
		return err
	}
	if u.Empty() {
		return &adminBadRequest{"nothing to update"}
	}
	p, err := UpdateTrustPolicy(r.Context(), policies, s.cfg.Clients, name, &u, s.cfg.Now)
	if err != nil {
		return err
	}
	s.policiesChanged()
	s.auditAdmin(r, AuditTrustPolicyUpdated, p.ClientID, p.Name)
	writeJSON(w, http.StatusOK, NewTrustPolicyInfo(p))
	return nil
}

func (s *Server) adminDeletePolicy(w http.ResponseWriter, r *http.Request, policies store.TrustPolicies) error {
	name, err := pathPolicyName(r)
	if err != nil {
		return err
	}
	// Read first, for the audit event's client.
	p, err := policies.GetTrustPolicy(r.Context(), name)
	if err != nil {
		return err
	}
	if err := policies.DeleteTrustPolicy(r.Context(), name); err != nil {
		return err
	}
	s.policiesChanged()
	s.auditAdmin(r, AuditTrustPolicyDeleted, p.ClientID, name)
	writeJSON(w, http.StatusOK, map[string]any{"name": name, "deleted": true})
	return nil
}

// invalidPolicyBody is the 400 answer to a policy the checks refuse, in
// the shape of the client one: the error, a description and each problem
// with its field.
func invalidPolicyBody(err error) invalidClientBody {
	b := invalidBody(err)
	b.ErrorDescription = "invalid trust policy: " + strings.TrimPrefix(b.ErrorDescription, "invalid client: ")
	return b
}
