package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/store"
)

// cliActor is who the audit log says acted for a command run here:
// "cli:USER", the local user name.
func cliActor() string {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if name == "" {
		name = os.Getenv("USER")
	}
	if name == "" {
		name = "unknown"
	}
	if len(name) > authserver.MaxActorBytes-4 {
		name = name[:authserver.MaxActorBytes-4]
	}
	return "cli:" + name
}

// audit records an admin action done on the database directly. A store
// without an audit log, or a failure to write it, does not fail the
// action, which is done: the failure is reported on standard error by
// the caller's logger, here none, so it is ignored.
func (a storeAdmin) audit(ctx context.Context, code, clientID string) {
	if a.st == nil {
		return
	}
	_ = a.st.AppendAudit(ctx, []store.AuditEvent{{Time: time.Now(), Code: code, Actor: cliActor(), ClientID: clientID, Count: 1}})
}

// auditTarget records an admin action about something other than a
// client (a key), done on the database directly.
func (a storeAdmin) auditTarget(ctx context.Context, code, target string) {
	_ = a.st.AppendAudit(ctx, []store.AuditEvent{{Time: time.Now(), Code: code, Actor: cliActor(), Target: target, Count: 1}})
}

// usageAdmin is what client update and client usage need beyond
// clientAdmin; both admins implement it.
type usageAdmin interface {
	update(ctx context.Context, id string, u *authserver.ClientUpdate) (authserver.ClientInfo, error)
	usage(ctx context.Context, id string) (authserver.ClientUsage, error)
	auditList(ctx context.Context, q store.AuditQuery) (authserver.AuditList, error)
}

var (
	_ usageAdmin = storeAdmin{}
	_ usageAdmin = (*httpAdmin)(nil)
)

func (a storeAdmin) update(ctx context.Context, id string, u *authserver.ClientUpdate) (authserver.ClientInfo, error) {
	c, err := authserver.UpdateClient(ctx, a.st, id, u, authserver.DefaultMaxTokenTTL, nil)
	if err != nil {
		return authserver.ClientInfo{}, err
	}
	a.audit(ctx, authserver.AuditClientUpdated, id)
	return authserver.NewClientInfo(c, "", time.Now()), nil
}

func (a storeAdmin) usage(ctx context.Context, id string) (authserver.ClientUsage, error) {
	c, err := a.st.GetClient(ctx, id)
	if err != nil {
		return authserver.ClientUsage{}, err
	}
	now := time.Now()
	buckets, use, err := a.st.ClientUsage(ctx, id, now.Add(-store.UsageRetention))
	if err != nil {
		return authserver.ClientUsage{}, err
	}
	ttl := c.TokenTTL
	if ttl == 0 {
		ttl = authserver.DefaultTokenTTL // the server's may differ; --server asks it
	}
	return authserver.BuildClientUsage(c, buckets, use, ttl, now), nil
}

func (a storeAdmin) auditList(ctx context.Context, q store.AuditQuery) (authserver.AuditList, error) {
	events, err := a.st.ListAudit(ctx, q)
	if err != nil {
		return authserver.AuditList{}, err
	}
	out := authserver.AuditList{Events: []authserver.AuditEventInfo{}}
	for _, e := range events {
		out.Events = append(out.Events, authserver.NewAuditEventInfo(e))
	}
	if len(events) == store.AuditLimit(q.Limit) {
		out.NextBefore = events[len(events)-1].ID
	}
	return out, nil
}

func (a *httpAdmin) update(ctx context.Context, id string, u *authserver.ClientUpdate) (authserver.ClientInfo, error) {
	var out authserver.ClientInfo
	err := a.do(ctx, http.MethodPatch, "/admin/clients/"+url.PathEscape(id), u, &out)
	return out, err
}

func (a *httpAdmin) usage(ctx context.Context, id string) (authserver.ClientUsage, error) {
	var out authserver.ClientUsage
	err := a.do(ctx, http.MethodGet, "/admin/clients/"+url.PathEscape(id)+"/usage", nil, &out)
	return out, err
}

func (a *httpAdmin) auditList(ctx context.Context, q store.AuditQuery) (authserver.AuditList, error) {
	v := url.Values{}
	if q.ClientID != "" {
		v.Set("client", q.ClientID)
	}
	if q.Code != "" {
		v.Set("code", q.Code)
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339))
	}
	if q.BeforeID > 0 {
		v.Set("before", strconv.FormatInt(q.BeforeID, 10))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out authserver.AuditList
	err := a.do(ctx, http.MethodGet, "/admin/audit?"+v.Encode(), nil, &out)
	return out, err
}

// quotaFlags are the quota flags of client create and client update.
type quotaFlags struct {
	hourly, daily int64
	mode          string
}

func (q *quotaFlags) add(fs *pflag.FlagSet, update bool) {
	zero := "no quota"
	if update {
		zero = "remove the quota"
	}
	fs.Int64Var(&q.hourly, "quota-hourly", 0, "tokens the client may get in a clock hour, across replicas (0: "+zero+")")
	fs.Int64Var(&q.daily, "quota-daily", 0, "tokens the client may get in a UTC day, across replicas (0: "+zero+")")
	fs.StringVar(&q.mode, "quota-mode", store.QuotaEnforce, "past a quota: enforce (429 quota_exceeded until the window resets) or monitor (let through, report with the M2M-Quota-Exceeded header and an audit event)")
}

func clientUpdate(env *Env) *cobra.Command {
	cc := &clientCmd{env: env}
	var (
		name, profile       string
		audiences, scopes   []string
		ttl                 time.Duration
		rate                float64
		burst               int
		requireDPoP         bool
		quota               quotaFlags
		metadata            map[string]string
		clearMetadata       bool
		setMetadataFromFlag bool
	)
	c := &cobra.Command{
		Use:   "update CLIENT_ID [--name N] [--audience A ...] [--scope S ...] [--ttl D] [--rate-limit R] [--burst B] [--quota-hourly N] [--quota-daily N] [--quota-mode M]",
		Short: "Change a client's settings (only the flags given change)",
		Long: `Change a client's name, audiences, scopes, token lifetime, rate limit, profile, DPoP
requirement, quotas or metadata: only the flags given change, the rest is kept. --audience
and --scope replace the whole list. It does not change the id, the secret (rotate-secret)
or the authentication method. Servers honour it within ` + authserver.DefaultClientCacheTTL.String() + `, at once with --server.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkClientID(args[0]); err != nil {
				return err
			}
			fs := c.Flags()
			var u authserver.ClientUpdate
			if fs.Changed("name") {
				u.Name = &name
			}
			if fs.Changed("audience") {
				u.Audiences = &audiences
			}
			if fs.Changed("scope") {
				list, err := scopeFlag("scope", scopes)
				if err != nil {
					return err
				}
				if list == nil {
					list = []string{}
				}
				u.Scopes = &list
			}
			if fs.Changed("ttl") {
				n := int64(ttl / time.Second)
				if ttl < 0 || ttl%time.Second != 0 {
					return Usage("--ttl %v: want 0s (the server's default) or whole seconds", ttl)
				}
				u.TokenTTLSeconds = &n
			}
			if fs.Changed("rate-limit") {
				u.RateLimitPerSecond = &rate
			}
			if fs.Changed("burst") {
				u.RateLimitBurst = &burst
			}
			if fs.Changed("profile") {
				u.Profile = &profile
			}
			if fs.Changed("require-dpop") {
				u.DPoPBoundAccessTokens = &requireDPoP
			}
			if fs.Changed("quota-hourly") {
				u.QuotaHourly = &quota.hourly
			}
			if fs.Changed("quota-daily") {
				u.QuotaDaily = &quota.daily
			}
			if fs.Changed("quota-mode") {
				u.QuotaMode = &quota.mode
			}
			setMetadataFromFlag = fs.Changed("metadata")
			if setMetadataFromFlag && clearMetadata {
				return Usage("--metadata and --clear-metadata: give one")
			}
			if setMetadataFromFlag || clearMetadata {
				m := map[string]string{}
				for k, v := range metadata {
					m[k] = v
				}
				u.Metadata = &m
			}
			if u.Empty() {
				return Usage("nothing to update: give at least one flag (see m2m client update --help)")
			}
			// The store's checks, said with the flags, before any lookup.
			probe := &store.Client{ID: args[0], Name: "probe", Audiences: []string{"https://probe.invalid"}}
			u.Apply(probe)
			if err := authserver.ValidateClient(probe, authserver.DefaultMaxTokenTTL); err != nil {
				return Usage("%s", clientFieldErrors(err))
			}
			return cc.run(c, func(ctx context.Context, a clientAdmin) error {
				ua, ok := a.(usageAdmin)
				if !ok {
					return Rejected(errors.New("this client admin cannot update clients"))
				}
				info, err := ua.update(ctx, args[0], &u)
				if err != nil {
					if errors.Is(err, store.ErrInvalid) {
						return Rejected(errors.New(clientFieldErrors(err)))
					}
					return notFound(args[0], err)
				}
				return cc.show(info)
			})
		},
	}
	fs := c.Flags()
	fs.StringVar(&name, "name", "", "new client name")
	fs.StringArrayVar(&audiences, "audience", nil, "audience the client may request, the first its default (repeatable; replaces the list)")
	fs.StringArrayVar(&scopes, "scope", nil, "scope the client may request (repeatable, or space-separated; replaces the list; \"\" for none)")
	fs.DurationVar(&ttl, "ttl", 0, "token lifetime for this client (0s: the server's default)")
	fs.Float64Var(&rate, "rate-limit", 0, "tokens per second for this client (0: the server's default)")
	fs.IntVar(&burst, "burst", 0, "token bucket size with --rate-limit (0: the rate, at least 1)")
	fs.StringVar(&profile, "profile", "", "token profile for this client: rfc9068 or auth0 (\"\": the server's)")
	fs.BoolVar(&requireDPoP, "require-dpop", false, "refuse the client's token requests without a DPoP proof (--require-dpop=false: a proof is optional)")
	fs.StringToStringVar(&metadata, "metadata", nil, "replace the client's metadata with KEY=VALUE pairs (repeatable)")
	fs.BoolVar(&clearMetadata, "clear-metadata", false, "remove the client's metadata")
	quota.add(fs, true)
	cc.flags(c)
	refuseZero(c, map[string]string{
		"name":       "give the client a name",
		"audience":   "give an audience",
		"quota-mode": "give enforce or monitor",
	})
	return c
}

func clientUsage(env *Env) *cobra.Command {
	cc := &clientCmd{env: env}
	c := &cobra.Command{
		Use:   "usage CLIENT_ID [--json]",
		Short: "Show a client's usage: tokens issued, refusals, last use, secret age, quota, caching",
		Long: `Show a client's usage, summed over every replica: tokens issued and refusals by reason in
the last 24 hours, 7 and 30 days, hourly for the last 24 hours and daily for 30 days (with
--json), when it last got a token, the age of its secret, whether its previous secret is
still used after a rotation, its quota, and whether it caches its tokens (more than ` +
			strconv.Itoa(authserver.NotCachingThreshold) + ` tokens per token lifetime means it does not). Servers add their counts to the
database every second; with --server the server adds its own first.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkClientID(args[0]); err != nil {
				return err
			}
			return cc.run(c, func(ctx context.Context, a clientAdmin) error {
				ua, ok := a.(usageAdmin)
				if !ok {
					return Rejected(errors.New("this client admin cannot read usage"))
				}
				u, err := ua.usage(ctx, args[0])
				if err != nil {
					return notFound(args[0], err)
				}
				if cc.asJSON {
					return PrintJSON(env.Stdout, u)
				}
				printUsage(env, u)
				return nil
			})
		},
	}
	cc.flags(c)
	return c
}

func printUsage(env *Env, u authserver.ClientUsage) {
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	when := func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return t.Format(time.RFC3339)
	}
	fmt.Fprintf(tw, "client_id:\t%s\n", u.ClientID)
	fmt.Fprintf(tw, "last used:\t%s\n", when(u.LastUsedAt))
	if u.SecretAgeSeconds != nil {
		fmt.Fprintf(tw, "secret age:\t%s (since %s)\n", time.Duration(*u.SecretAgeSeconds)*time.Second, u.SecretCreatedAt.Format(time.RFC3339))
	}
	if u.PreviousSecretExpiresAt != nil {
		fmt.Fprintf(tw, "previous secret:\tvalid until %s, last used %s\n", u.PreviousSecretExpiresAt.Format(time.RFC3339), when(u.PreviousSecretLastUsedAt))
	}
	caching := "yes"
	if u.NotCaching {
		caching = "NO"
	}
	fmt.Fprintf(tw, "caches tokens:\t%s (%.1f tokens per %s lifetime; more than %d is not caching)\n", caching,
		u.TokensPerLifetime, time.Duration(u.TokenTTLSeconds)*time.Second, u.NotCachingThreshold)
	if q := u.Quota; q != nil {
		fmt.Fprintf(tw, "quota:\t%s; this hour %d of %s, today %d of %s\n", q.Mode, q.HourUsed, limitText(q.Hourly), q.DayUsed, limitText(q.Daily))
	}
	tw.Flush()
	tw = tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nPERIOD\tISSUED\tREFUSED\tRATE LIMITED\tQUOTA LIMITED\tREFUSALS")
	for _, p := range []string{"24h", "7d", "30d"} {
		t := u.Totals[p]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\n", p, t.Issued, t.Refused, t.RateLimited, t.QuotaLimited, refusalText(t.Refusals))
	}
	tw.Flush()
}

func limitText(n int64) string {
	if n <= 0 {
		return "unlimited"
	}
	return strconv.FormatInt(n, 10)
}

func refusalText(m map[string]int64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func cmdAudit(env *Env) *cobra.Command {
	root := &cobra.Command{
		Use:   "audit",
		Short: "Read the token server's audit log",
		Long: `Read the audit log: who created, changed, disabled, deleted or re-secreted clients, rotated
or revoked keys and revoked tokens, and the failed authentications and exceeded quotas at the
token endpoint (aggregated per client or address each minute). See docs/usage-and-audit.md.`,
	}
	root.AddCommand(auditList(env))
	return root
}

func auditList(env *Env) *cobra.Command {
	cc := &clientCmd{env: env}
	var (
		client, code, since string
		before              int64
		limit               int
	)
	c := &cobra.Command{
		Use:   "list [--client ID] [--code CODE] [--since 24h|RFC3339] [--limit N]",
		Short: "List audit events, newest first",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			q := store.AuditQuery{ClientID: client, Code: code, BeforeID: before, Limit: limit}
			if client != "" {
				if err := checkClientID(client); err != nil {
					return Usage("--client: %v", err)
				}
			}
			if since != "" {
				t, err := authserver.ParseSince(since, time.Now())
				if err != nil {
					return Usage("--since %q: want an RFC 3339 time or a duration such as 24h or 7d", since)
				}
				q.Since = t
			}
			if limit < 0 || limit > store.MaxAuditLimit {
				return Usage("--limit %d: want 1 to %d", limit, store.MaxAuditLimit)
			}
			if before < 0 {
				return Usage("--before %d: want an event id", before)
			}
			return cc.run(c, func(ctx context.Context, a clientAdmin) error {
				ua, ok := a.(usageAdmin)
				if !ok {
					return Rejected(errors.New("this admin cannot read the audit log"))
				}
				list, err := ua.auditList(ctx, q)
				if err != nil {
					return Rejected(err)
				}
				if cc.asJSON {
					return PrintJSON(env.Stdout, list)
				}
				tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tTIME\tCODE\tACTOR\tCLIENT\tTARGET\tREASON\tADDRESS\tCOUNT")
				for _, e := range list.Events {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", e.ID, e.Time.Format(time.RFC3339), e.Code,
						dash(e.Actor), dash(e.ClientID), dash(e.Target), dash(e.Reason), dash(e.RemoteAddr), e.Count)
				}
				if list.NextBefore > 0 {
					fmt.Fprintf(tw, "(older events: --before %d)\n", list.NextBefore)
				}
				return tw.Flush()
			})
		},
	}
	fs := c.Flags()
	fs.StringVar(&client, "client", "", "only the events of this client id")
	fs.StringVar(&code, "code", "", "only events with this code (client.created, auth.failed, ...)")
	fs.StringVar(&since, "since", "", "only events since this time: RFC 3339, or a duration back from now (24h, 7d)")
	fs.Int64Var(&before, "before", 0, "only events older than this event id (the next page)")
	fs.IntVar(&limit, "limit", store.DefaultAuditLimit, fmt.Sprintf("at most this many events (1 to %d)", store.MaxAuditLimit))
	cc.flags(c)
	refuseZero(c, map[string]string{
		"client": "leave it out for every client",
		"code":   "leave it out for every code",
		"since":  "leave it out for every event kept",
		"before": "leave it out for the newest events",
		"limit":  fmt.Sprintf("give 1 to %d", store.MaxAuditLimit),
	})
	return c
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
