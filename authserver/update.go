package authserver

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/m2mkit/m2m/store"
)

// ClientUpdate is the body of PATCH /admin/clients/{id}: the fields to
// change; an absent (null) field is left as it is. The client's id,
// secret and authentication method are not changed here (see
// rotate-secret).
type ClientUpdate struct {
	Name               *string   `json:"name,omitempty"`
	Audiences          *[]string `json:"audiences,omitempty"`
	Scopes             *[]string `json:"scopes,omitempty"`
	TokenTTLSeconds    *int64    `json:"token_ttl_seconds,omitempty"`
	RateLimitPerSecond *float64  `json:"rate_limit_per_second,omitempty"`
	RateLimitBurst     *int      `json:"rate_limit_burst,omitempty"`
	Profile            *string   `json:"profile,omitempty"`
	QuotaHourly        *int64    `json:"quota_hourly,omitempty"`
	QuotaDaily         *int64    `json:"quota_daily,omitempty"`
	QuotaMode          *string   `json:"quota_mode,omitempty"`
	// DPoPBoundAccessTokens sets whether the client must use DPoP.
	DPoPBoundAccessTokens *bool              `json:"dpop_bound_access_tokens,omitempty"`
	Metadata              *map[string]string `json:"metadata,omitempty"`
}

// Empty reports whether u changes nothing.
func (u *ClientUpdate) Empty() bool { return *u == ClientUpdate{} }

// Apply sets the fields of u on c. A token lifetime beyond what a
// Duration holds is left for validation to refuse.
func (u *ClientUpdate) Apply(c *store.Client) {
	if u.Name != nil {
		c.Name = *u.Name
	}
	if u.Audiences != nil {
		c.Audiences = slices.Clone(*u.Audiences)
	}
	if u.Scopes != nil {
		c.Scopes = slices.Clone(*u.Scopes)
	}
	if u.TokenTTLSeconds != nil {
		if n := *u.TokenTTLSeconds; n < 0 || n > int64(store.MaxClientTokenTTL/time.Second) {
			c.TokenTTL = -1
		} else {
			c.TokenTTL = time.Duration(n) * time.Second
		}
	}
	if u.RateLimitPerSecond != nil {
		c.RateLimitPerSecond = *u.RateLimitPerSecond
	}
	if u.RateLimitBurst != nil {
		c.RateLimitBurst = *u.RateLimitBurst
	}
	if u.Profile != nil {
		c.Profile = *u.Profile
	}
	if u.QuotaHourly != nil {
		c.QuotaHourly = *u.QuotaHourly
	}
	if u.QuotaDaily != nil {
		c.QuotaDaily = *u.QuotaDaily
	}
	if u.QuotaMode != nil {
		c.QuotaMode = *u.QuotaMode
	}
	if u.DPoPBoundAccessTokens != nil {
		c.RequireDPoP = *u.DPoPBoundAccessTokens
	}
	if u.Metadata != nil {
		c.Metadata = nil
		if len(*u.Metadata) > 0 {
			c.Metadata = make(map[string]string, len(*u.Metadata))
			for k, v := range *u.Metadata {
				c.Metadata[k] = v
			}
		}
	}
}

// UpdateClient applies u to client id in the store, checking the result
// as [ValidateClient] does (maxTokenTTL 0: only the store's bound), and
// returns the updated client. now nil means time.Now.
func UpdateClient(ctx context.Context, clients store.Clients, id string, u *ClientUpdate, maxTokenTTL time.Duration, now func() time.Time) (*store.Client, error) {
	c, err := clients.UpdateClient(ctx, id, func(c *store.Client) error {
		u.Apply(c)
		if err := ValidateClient(c, maxTokenTTL); err != nil {
			return err
		}
		c.UpdatedAt = nowOf(now)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("authserver: updating client: %w", err)
	}
	return c, nil
}

// adminUpdate is PATCH /admin/clients/{id}.
func (s *Server) adminUpdate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var u ClientUpdate
	if err := decodeAdmin(r, &u); err != nil {
		return err
	}
	if u.Empty() {
		return &adminBadRequest{"nothing to update"}
	}
	c, err := UpdateClient(r.Context(), s.cfg.Clients, id, &u, s.maxTokenTTL, s.cfg.Now)
	if err != nil {
		return err
	}
	s.clients.forget(id)
	s.auditAdmin(r, AuditClientUpdated, id, "")
	writeJSON(w, http.StatusOK, NewClientInfo(c, "", s.now()))
	return nil
}
