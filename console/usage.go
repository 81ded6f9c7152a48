package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/m2mkit/m2m/authserver"
)

// clientUsage is the admin API's answer to GET /admin/clients/{id}/usage,
// with the helpers the templates use.
type clientUsage struct {
	authserver.ClientUsage
}

// Day24 and Week are the totals of the last 24 hours and 7 days.
func (u *clientUsage) Day24() authserver.UsageCounts { return u.Totals["24h"] }
func (u *clientUsage) Week() authserver.UsageCounts  { return u.Totals["7d"] }

// SecretAge is the current secret's age, or -1 when unknown.
func (u *clientUsage) SecretAge() time.Duration {
	if u.SecretAgeSeconds == nil {
		return -1
	}
	return time.Duration(*u.SecretAgeSeconds) * time.Second
}

// Since is how long ago t was, for "last used 5 minutes ago".
func (u *clientUsage) Since(t *time.Time) time.Duration {
	if t == nil {
		return -1
	}
	return u.GeneratedAt.Sub(*t)
}

// notAvailable reports whether err says the admin API has no such
// feature: a route it does not know (404 without a JSON error) or 501.
func notAvailable(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && (ae.Status == http.StatusNotImplemented || ae.Status == http.StatusNotFound && ae.Code == "")
}

// usage reads client id's usage; nil without error when the server
// records none.
func (c *Console) usage(r *http.Request, id string) (*clientUsage, error) {
	var u clientUsage
	err := c.call(r, "GET", clientPath(id, "/usage"), nil, &u)
	if notAvailable(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// usageCharts are a client's two charts: tokens per hour over the last
// 24 hours and per day over the last 7 days.
func usageCharts(u *clientUsage) []chart {
	hours := make([]point, 0, len(u.Hourly))
	for i, b := range u.Hourly {
		p := point{Label: b.Start.UTC().Format("Jan 2 15:00"), Count: b.Issued}
		if i%6 == 0 || i == len(u.Hourly)-1 {
			p.Tick = b.Start.UTC().Format("15:00")
		}
		hours = append(hours, p)
	}
	days := u.Daily
	if len(days) > 7 {
		days = days[len(days)-7:]
	}
	dpoints := make([]point, 0, len(days))
	for _, b := range days {
		dpoints = append(dpoints, point{Label: b.Start.UTC().Format("Mon Jan 2"), Tick: b.Start.UTC().Format("Jan 2"), Count: b.Issued})
	}
	return []chart{
		newChart("hourly", "Tokens issued per hour, last 24 hours (UTC)", "tokens", hours),
		newChart("daily", "Tokens issued per day, last 7 days (UTC)", "tokens", dpoints),
	}
}

// quotaForm is the quota form's values.
type quotaForm struct {
	Hourly, Daily, Mode string
}

func newQuotaForm(q *authserver.QuotaUsage) quotaForm {
	f := quotaForm{Hourly: "0", Daily: "0", Mode: "enforce"}
	if q != nil {
		f.Hourly, f.Daily, f.Mode = strconv.FormatInt(q.Hourly, 10), strconv.FormatInt(q.Daily, 10), q.Mode
	}
	return f
}

// updateQuotas is the quota form: PATCH /admin/clients/{id} with the
// hourly and daily quotas and the mode.
func (c *Console) updateQuotas(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	var problems []string
	quota := func(field, label string) int64 {
		v := strings.TrimSpace(r.PostForm.Get(field))
		if v == "" {
			return 0
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			problems = append(problems, label+": give a whole number of tokens, 0 for none")
		}
		return n
	}
	in := map[string]any{"quota_hourly": quota("quota_hourly", "Hourly quota"), "quota_daily": quota("quota_daily", "Daily quota")}
	switch mode := r.PostForm.Get("quota_mode"); mode {
	case "enforce", "monitor":
		in["quota_mode"] = mode
	default:
		problems = append(problems, "Mode: choose enforce or monitor")
	}
	if len(problems) > 0 {
		return &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Description: strings.Join(problems, "; ")}
	}
	if err := c.call(r, "PATCH", clientPath(id, ""), in, nil); err != nil {
		return err
	}
	c.redirect(w, r, s, Prefix+"clients/"+url.PathEscape(id), fmt.Sprintf("Quotas saved: %d per hour, %d per day (0: none), %s.",
		in["quota_hourly"], in["quota_daily"], in["quota_mode"]))
	return nil
}
