package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// trustPolicy decodes a trust policy of the admin API
// (/admin/trust-policies).
type trustPolicy struct {
	Name          string            `json:"name"`
	Issuer        string            `json:"issuer"`
	JWKSURI       string            `json:"jwks_uri,omitempty"`
	Audiences     []string          `json:"audiences"`
	Subject       string            `json:"subject"`
	Claims        map[string]string `json:"claims,omitempty"`
	ClientID      string            `json:"client_id"`
	Scopes        []string          `json:"scopes"`
	MaxTTLSeconds int64             `json:"max_ttl_seconds,omitempty"`
	SingleUse     bool              `json:"single_use"`
	Preset        string            `json:"preset,omitempty"`
	CreatedAt     time.Time         `json:"created_at"`
}

// MaxTTL is the policy's token lifetime bound, or "".
func (p trustPolicy) MaxTTL() string {
	if p.MaxTTLSeconds == 0 {
		return ""
	}
	return duration(time.Duration(p.MaxTTLSeconds) * time.Second)
}

// trustForm is the new trust policy form's values and problems.
type trustForm struct {
	Name, Issuer, JWKSURI, Audience, Subject, ClientID, Scopes, MaxTTL string
	SingleUse                                                          bool
	Problems                                                           []fieldProblem
}

type trustView struct {
	Policies    []trustPolicy
	Clients     []clientOption
	Form        *trustForm
	Unavailable bool
}

type clientOption struct{ ID, Name string }

func trustPath(name string) string { return "/admin/trust-policies/" + url.PathEscape(name) }

// trustView reads the policies and the clients the form offers.
func (c *Console) trustView(r *http.Request, f *trustForm) (*trustView, error) {
	tv := &trustView{Form: f}
	var list struct {
		Policies []trustPolicy `json:"trust_policies"`
	}
	err := c.call(r, "GET", "/admin/trust-policies", nil, &list)
	if notAvailable(err) {
		tv.Unavailable = true
		return tv, nil
	}
	if err != nil {
		return nil, err
	}
	tv.Policies = list.Policies
	var clients struct {
		Clients []struct {
			ClientID string `json:"client_id"`
			Name     string `json:"name"`
		} `json:"clients"`
	}
	if err := c.call(r, "GET", "/admin/clients", nil, &clients); err != nil {
		return nil, err
	}
	for _, ci := range clients.Clients {
		tv.Clients = append(tv.Clients, clientOption{ci.ClientID, ci.Name})
	}
	return tv, nil
}

func (c *Console) trustPage(w http.ResponseWriter, r *http.Request, s *session) error {
	tv, err := c.trustView(r, &trustForm{})
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "trust.html", c.view(s, "Trust policies", "trust", tv))
	return nil
}

func (c *Console) createTrustPolicy(w http.ResponseWriter, r *http.Request, s *session) error {
	v := r.PostForm
	f := &trustForm{Name: strings.TrimSpace(v.Get("name")), Issuer: strings.TrimSpace(v.Get("issuer")), JWKSURI: strings.TrimSpace(v.Get("jwks_uri")),
		Audience: v.Get("audience"), Subject: strings.TrimSpace(v.Get("subject")), ClientID: v.Get("client_id"),
		Scopes: v.Get("scopes"), MaxTTL: strings.TrimSpace(v.Get("max_ttl")), SingleUse: v.Get("single_use") == "on"}
	in := map[string]any{"name": f.Name, "issuer": f.Issuer, "audiences": nonNil(fields(f.Audience)), "subject": f.Subject,
		"client_id": f.ClientID, "scopes": nonNil(fields(f.Scopes)), "single_use": f.SingleUse}
	if f.JWKSURI != "" {
		in["jwks_uri"] = f.JWKSURI
	}
	if f.MaxTTL != "" {
		d, err := time.ParseDuration(f.MaxTTL)
		if err != nil || d < 0 || d%time.Second != 0 {
			f.Problems = append(f.Problems, fieldProblem{Field: "max_ttl", Problem: "give a duration in whole seconds such as 15m, or leave it empty"})
		}
		in["max_ttl_seconds"] = int64(d / time.Second)
	}
	var err error
	if len(f.Problems) == 0 {
		err = c.call(r, "POST", "/admin/trust-policies", in, nil)
	}
	if ae, ok := err.(*apiError); ok && ae.Status == http.StatusBadRequest {
		f.Problems = ae.Fields
		if len(f.Problems) == 0 {
			f.Problems = []fieldProblem{{Problem: ae.Message()}}
		}
	} else if ok && ae.Status == http.StatusConflict {
		f.Problems = []fieldProblem{{Field: "name", Problem: "a policy with this name exists"}}
	} else if err != nil {
		return err
	}
	if len(f.Problems) > 0 {
		tv, err := c.trustView(r, f)
		if err != nil {
			return err
		}
		view := c.view(s, "Trust policies", "trust", tv)
		view.Error = "The trust policy was not created."
		c.render(w, r, http.StatusBadRequest, "trust.html", view)
		return nil
	}
	c.redirect(w, r, s, Prefix+"trust", fmt.Sprintf("Trust policy %s created.", f.Name))
	return nil
}

func (c *Console) deleteTrustPage(w http.ResponseWriter, r *http.Request, s *session) error {
	var p trustPolicy
	if err := c.call(r, "GET", trustPath(r.PathValue("name")), nil, &p); err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "deletetrust.html", c.view(s, "Delete trust policy "+p.Name, "trust", p))
	return nil
}

func (c *Console) deleteTrustPolicy(w http.ResponseWriter, r *http.Request, s *session) error {
	name := r.PathValue("name")
	if err := c.call(r, "DELETE", trustPath(name), nil, nil); err != nil {
		return err
	}
	c.redirect(w, r, s, Prefix+"trust", "Trust policy "+name+" deleted.")
	return nil
}
