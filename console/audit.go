package console

import (
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// auditEvent decodes one event of GET /admin/audit.
type auditEvent struct {
	ID         int64     `json:"id"`
	Time       time.Time `json:"time"`
	Code       string    `json:"code"`
	Actor      string    `json:"actor"`
	ClientID   string    `json:"client_id"`
	Target     string    `json:"target"`
	RemoteAddr string    `json:"remote_addr"`
	Reason     string    `json:"reason"`
	Count      int64     `json:"count"`
}

// auditCodes are the event codes the filter offers (docs/usage-and-audit.md
// lists them); any other code can still be given in the URL.
var auditCodes = []string{
	"client.created", "client.updated", "client.disabled", "client.enabled", "client.deleted", "client.secret_rotated",
	"key.rotated", "key.revoked", "trust_policy.created", "trust_policy.updated", "trust_policy.deleted",
	"token.revoked", "tokens.revoked_for_client", "auth.failed", "quota.exceeded",
}

// auditSince are the periods the filter offers.
var auditSince = []struct{ Value, Label string }{{"", "any time"}, {"1h", "the last hour"}, {"24h", "the last 24 hours"}, {"7d", "the last 7 days"}, {"30d", "the last 30 days"}}

// auditPageSize is how many events one audit page shows.
const auditPageSize = 50

type auditView struct {
	Client, Code, Since string
	Codes               []string
	SinceOptions        []struct{ Value, Label string }
	Events              []auditEvent
	Older               string // the URL of the next (older) page, or ""
	Unavailable         bool
}

func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	av := &auditView{Client: q.Get("client"), Code: q.Get("code"), Since: q.Get("since"), Codes: auditCodes, SinceOptions: auditSince}
	api := url.Values{"limit": {strconv.Itoa(auditPageSize)}}
	for _, k := range []string{"client", "code", "since", "before"} {
		if v := q.Get(k); v != "" {
			api.Set(k, v)
		}
	}
	var list struct {
		Events     []auditEvent `json:"events"`
		NextBefore int64        `json:"next_before"`
	}
	err := c.call(r, "GET", "/admin/audit?"+api.Encode(), nil, &list)
	switch {
	case notAvailable(err):
		av.Unavailable = true
	case err != nil:
		return err
	default:
		av.Events = list.Events
		if list.NextBefore > 0 {
			older := url.Values{}
			for _, k := range []string{"client", "code", "since"} {
				if v := q.Get(k); v != "" {
					older.Set(k, v)
				}
			}
			older.Set("before", strconv.FormatInt(list.NextBefore, 10))
			av.Older = Prefix + "audit?" + older.Encode()
		}
	}
	c.render(w, r, http.StatusOK, "audit.html", c.view(s, "Audit trail", "audit", av))
	return nil
}
