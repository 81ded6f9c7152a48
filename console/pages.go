package console

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/m2mkit/m2m/authserver"
)

// pageFiles are the page templates; each is parsed with layout.html.
var pageFiles = []string{"signin.html", "error.html", "clients.html", "newclient.html", "secret.html",
	"client.html", "delete.html", "keys.html", "trust.html", "deletetrust.html", "audit.html"}

var funcs = template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"ptime": func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"iso":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"join":   strings.Join,
	"path":   url.PathEscape,
	"age":    age,
	"plural": plural,
}

// duration is d as a form shows it: 24h, 30m, 1h30m.
func duration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// age is a duration as an operator reads it: "3 days", "5 hours", "12 minutes".
func age(d time.Duration) string {
	switch {
	case d < 0:
		return "—"
	case d < time.Minute:
		return "under a minute"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour")
	default:
		return plural(int(d/(24*time.Hour)), "day")
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func parsePages() (map[string]*template.Template, error) {
	pages := make(map[string]*template.Template, len(pageFiles))
	for _, name := range pageFiles {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name)
		if err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
		pages[name] = t
	}
	return pages, nil
}

// clientPath is the admin API path of client id's resource.
func clientPath(id, rest string) string { return "/admin/clients/" + url.PathEscape(id) + rest }

// clientRow is one row of the clients table; Usage is nil when the
// server records none.
type clientRow struct {
	authserver.ClientInfo
	Usage *clientUsage
}

// maxUsageRows bounds the clients whose usage the clients table reads
// (one admin API call each); the rest show their name and status only.
const maxUsageRows = 200

func (c *Console) clientsPage(w http.ResponseWriter, r *http.Request, s *session) error {
	var list struct {
		Clients []authserver.ClientInfo `json:"clients"`
	}
	if err := c.call(r, "GET", "/admin/clients", nil, &list); err != nil {
		return err
	}
	cv := &clientsView{Rows: make([]clientRow, 0, len(list.Clients)), Usage: true}
	for i, ci := range list.Clients {
		row := clientRow{ClientInfo: ci}
		if cv.Usage && i < maxUsageRows {
			u, err := c.usage(r, ci.ClientID)
			if err != nil && !isNotFound(err) { // a client deleted meanwhile has no usage
				return err
			}
			cv.Usage = u != nil || err != nil
			row.Usage = u
		}
		cv.Rows = append(cv.Rows, row)
	}
	c.render(w, r, http.StatusOK, "clients.html", c.view(s, "Clients", "clients", cv))
	return nil
}

// clientsView is the clients table; Usage is false when the server
// records no usage.
type clientsView struct {
	Rows  []clientRow
	Usage bool
}

func isNotFound(err error) bool {
	ae, ok := err.(*apiError)
	return ok && ae.Status == http.StatusNotFound
}

// clientForm is the New client form's values and problems.
type clientForm struct {
	Name, Audience, Scopes string
	Problems               []fieldProblem
}

func (c *Console) newClientPage(w http.ResponseWriter, r *http.Request, s *session) error {
	c.render(w, r, http.StatusOK, "newclient.html", c.view(s, "New client", "new", &clientForm{}))
	return nil
}

// fields splits a form value on spaces, commas and new lines.
func fields(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// secretView is the page that shows a new secret, once.
type secretView struct {
	Client  authserver.ClientInfo
	Rotated bool
}

func (c *Console) createClient(w http.ResponseWriter, r *http.Request, s *session) error {
	f := &clientForm{Name: strings.TrimSpace(r.PostForm.Get("name")), Audience: r.PostForm.Get("audience"), Scopes: r.PostForm.Get("scopes")}
	in := map[string]any{"name": f.Name, "audiences": nonNil(fields(f.Audience)), "scopes": nonNil(fields(f.Scopes))}
	var created authserver.ClientInfo
	err := c.call(r, "POST", "/admin/clients", in, &created)
	if ae, ok := err.(*apiError); ok && ae.Status == http.StatusBadRequest {
		f.Problems = ae.Fields
		if len(f.Problems) == 0 {
			f.Problems = []fieldProblem{{Problem: ae.Message()}}
		}
		v := c.view(s, "New client", "new", f)
		v.Error = "The client was not created: " + ae.Message()
		c.render(w, r, http.StatusBadRequest, "newclient.html", v)
		return nil
	}
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusCreated, "secret.html", c.view(s, "Client created", "new", &secretView{Client: created}))
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// clientView is a client's page.
type clientView struct {
	Client authserver.ClientInfo
	Now    time.Time
	Grace  string
	Usage  *clientUsage // nil: the server records no usage
	Charts []chart
	Quota  quotaForm
}

func (c *Console) clientPage(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	var ci authserver.ClientInfo
	if err := c.call(r, "GET", clientPath(id, ""), nil, &ci); err != nil {
		return err
	}
	cv := &clientView{Client: ci, Now: c.now(), Grace: duration(authserver.DefaultSecretGrace)}
	u, err := c.usage(r, id)
	if err != nil {
		return err
	}
	if u != nil {
		cv.Usage, cv.Charts, cv.Quota = u, usageCharts(u), newQuotaForm(u.Quota)
	}
	c.render(w, r, http.StatusOK, "client.html", c.view(s, "Client "+ci.Name, "clients", cv))
	return nil
}

func (c *Console) setDisabled(disabled bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, s *session) error {
		id := r.PathValue("id")
		op, msg := "/enable", "Client enabled: it can get tokens again."
		if disabled {
			op, msg = "/disable", "Client disabled: the token endpoint refuses it."
		}
		if err := c.call(r, "POST", clientPath(id, op), nil, nil); err != nil {
			return err
		}
		c.redirect(w, r, s, Prefix+"clients/"+url.PathEscape(id), msg)
		return nil
	}
}

func (c *Console) rotateSecret(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	grace, err := time.ParseDuration(strings.TrimSpace(r.PostForm.Get("grace")))
	if err != nil || grace < 0 || grace > authserver.MaxSecretGrace || grace%time.Second != 0 {
		return &apiError{Status: http.StatusBadRequest, Code: "invalid_request",
			Description: fmt.Sprintf("Grace period: give a duration from 0s to %s in whole seconds, such as 24h or 30m.", authserver.MaxSecretGrace)}
	}
	var rotated authserver.ClientInfo
	if err := c.call(r, "POST", clientPath(id, "/rotate-secret"), map[string]int64{"grace_seconds": int64(grace / time.Second)}, &rotated); err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "secret.html", c.view(s, "Secret rotated", "clients", &secretView{Client: rotated, Rotated: true}))
	return nil
}

// deleteView is the client delete confirmation: the client and the
// trust policies that name it, which go with it.
type deleteView struct {
	Client   authserver.ClientInfo
	Policies []trustPolicy
}

// clientPolicies returns the trust policies that name client id (none
// when the server keeps no trust policies).
func (c *Console) clientPolicies(r *http.Request, id string) ([]trustPolicy, error) {
	var list struct {
		Policies []trustPolicy `json:"trust_policies"`
	}
	err := c.call(r, "GET", "/admin/trust-policies", nil, &list)
	if notAvailable(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []trustPolicy
	for _, p := range list.Policies {
		if p.ClientID == id {
			out = append(out, p)
		}
	}
	return out, nil
}

func (c *Console) renderDelete(w http.ResponseWriter, r *http.Request, s *session, status int, problem string) error {
	var dv deleteView
	if err := c.call(r, "GET", clientPath(r.PathValue("id"), ""), nil, &dv.Client); err != nil {
		return err
	}
	var err error
	if dv.Policies, err = c.clientPolicies(r, dv.Client.ClientID); err != nil {
		return err
	}
	v := c.view(s, "Delete client "+dv.Client.Name, "clients", &dv)
	v.Error = problem
	c.render(w, r, status, "delete.html", v)
	return nil
}

func (c *Console) deletePage(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.renderDelete(w, r, s, http.StatusOK, "")
}

// policiesChanged is the problem shown when the policies that name a
// client are not those its confirmation page listed.
const policiesChanged = "The trust policies that name this client changed since this page was shown; they are listed below. Confirm again to delete them with the client."

// deleteClient deletes the client, and the trust policies that name it
// when the confirmation page listed them: its form then says
// cascade=trust-policies and names them in policies. When the policies
// are not those the page listed (one made or deleted since), nothing is
// deleted and the page is shown again; a policy made since a page that
// listed none is refused by the admin API in the delete's transaction.
func (c *Console) deleteClient(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	path := clientPath(id, "")
	if r.PostForm.Get("cascade") == authserver.CascadeTrustPolicies {
		now, err := c.clientPolicies(r, id)
		if err != nil {
			return err
		}
		names := make([]string, len(now))
		for i, p := range now {
			names[i] = p.Name
		}
		if strings.Join(names, " ") != r.PostForm.Get("policies") {
			return c.renderDelete(w, r, s, http.StatusConflict, policiesChanged)
		}
		path += "?cascade=" + authserver.CascadeTrustPolicies
	}
	var out authserver.ClientDeleted
	err := c.call(r, "DELETE", path, nil, &out)
	if ae, ok := err.(*apiError); ok && ae.Status == http.StatusConflict && ae.Code == authserver.CodeClientHasTrustPolicies {
		return c.renderDelete(w, r, s, http.StatusConflict, policiesChanged)
	}
	if err != nil {
		return err
	}
	msg := "Client " + id + " deleted."
	if len(out.TrustPoliciesDeleted) > 0 {
		msg = fmt.Sprintf("Client %s deleted, with its trust policies %s.", id, strings.Join(out.TrustPoliciesDeleted, ", "))
	}
	c.redirect(w, r, s, Prefix+"clients", msg)
	return nil
}

// keysView is the keys page: the keys, newest first, as a timeline.
type keysView struct {
	Keys []authserver.KeyInfo
	Now  time.Time
}

func (c *Console) keysPage(w http.ResponseWriter, r *http.Request, s *session) error {
	var list struct {
		Keys []authserver.KeyInfo `json:"keys"`
	}
	if err := c.call(r, "GET", "/admin/keys", nil, &list); err != nil {
		return err
	}
	keys := make([]authserver.KeyInfo, 0, len(list.Keys))
	for i := len(list.Keys) - 1; i >= 0; i-- {
		keys = append(keys, list.Keys[i])
	}
	c.render(w, r, http.StatusOK, "keys.html", c.view(s, "Signing keys", "keys", &keysView{Keys: keys, Now: c.now()}))
	return nil
}

func (c *Console) rotateKey(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := c.call(r, "POST", "/admin/keys/rotate", nil, nil); err != nil {
		return err
	}
	c.redirect(w, r, s, Prefix+"keys", "A next key was added; it signs once its pre-publication time has passed.")
	return nil
}
