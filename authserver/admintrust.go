package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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
			errs = append(errs, &store.FieldError{Record: "trust policy", Field: "client_id", Problem: "no client has this id"})
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
