package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/store"
)

// clientJSON is how the client commands print a client. The secret is set
// only by create and rotate-secret, the one time it is shown.
type clientJSON struct {
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
	CreatedAt               time.Time         `json:"created_at"`
	UpdatedAt               time.Time         `json:"updated_at"`
}

func toClientJSON(c *store.Client, secret string, now time.Time) clientJSON {
	j := clientJSON{
		ClientID: c.ID, ClientSecret: secret, Name: c.Name,
		Audiences: c.Audiences, Scopes: c.Scopes,
		TokenTTLSeconds:    int64(c.TokenTTL / time.Second),
		RateLimitPerSecond: c.RateLimitPerSecond, RateLimitBurst: c.RateLimitBurst,
		Profile: c.Profile, Disabled: c.Disabled, Metadata: c.Metadata,
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

func printClient(w io.Writer, j clientJSON) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "client_id:\t%s\n", j.ClientID)
	if j.ClientSecret != "" {
		fmt.Fprintf(tw, "client_secret:\t%s\t(shown once: store it now)\n", j.ClientSecret)
	}
	fmt.Fprintf(tw, "name:\t%s\n", j.Name)
	fmt.Fprintf(tw, "audiences:\t%s\n", strings.Join(j.Audiences, " "))
	fmt.Fprintf(tw, "scopes:\t%s\n", strings.Join(j.Scopes, " "))
	if j.TokenTTLSeconds > 0 {
		fmt.Fprintf(tw, "token_ttl:\t%v\n", time.Duration(j.TokenTTLSeconds)*time.Second)
	}
	if j.RateLimitPerSecond > 0 {
		fmt.Fprintf(tw, "rate_limit:\t%g/s burst %d\n", j.RateLimitPerSecond, j.RateLimitBurst)
	}
	if j.Profile != "" {
		fmt.Fprintf(tw, "profile:\t%s\n", j.Profile)
	}
	fmt.Fprintf(tw, "disabled:\t%v\n", j.Disabled)
	if j.PreviousSecretExpiresAt != nil {
		fmt.Fprintf(tw, "previous secret valid until:\t%s\n", j.PreviousSecretExpiresAt.Format(time.RFC3339))
	}
	tw.Flush()
}

// clientCmd is the shared plumbing of the client subcommands.
type clientCmd struct {
	env    *Env
	data   dataFlags
	asJSON bool
}

func (cc *clientCmd) flags(c *cobra.Command) {
	cc.data.add(c.Flags(), false)
	c.Flags().BoolVar(&cc.asJSON, "json", false, "print a JSON object")
}

// run opens the store and calls f with it.
func (cc *clientCmd) run(c *cobra.Command, f func(ctx context.Context, st store.Store) error) error {
	if err := envDefaults(cc.env, c.Flags(), "data", "database"); err != nil {
		return err
	}
	ctx := context.Background()
	st, _, err := cc.data.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	return f(ctx, st)
}

func (cc *clientCmd) show(c *store.Client, secret string) error {
	j := toClientJSON(c, secret, time.Now())
	if cc.asJSON {
		return PrintJSON(cc.env.Stdout, j)
	}
	printClient(cc.env.Stdout, j)
	return nil
}

func notFound(id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return Rejected(fmt.Errorf("client %q not found", id))
	}
	return Rejected(err)
}

func init() {
	register(func(env *Env) *cobra.Command {
		root := &cobra.Command{
			Use:   "client",
			Short: "Manage the token server's OAuth 2.0 clients",
			Long: `Manage the token server's clients directly in its database (--data DIR or --database URL).
It is safe while "m2m serve" runs: the server honours a disabled, deleted or re-secreted
client within ` + authserver.DefaultClientCacheTTL.String() + ` (its client cache bound).`,
		}
		root.RunE = groupUsage(env)
		root.AddCommand(clientCreate(env), clientList(env), clientShow(env), clientRotate(env),
			clientSetDisabled(env, "disable", true), clientSetDisabled(env, "enable", false), clientDelete(env))
		return root
	})
}

func clientCreate(env *Env) *cobra.Command {
	cc := &clientCmd{env: env}
	var (
		name, scope, profile, id string
		audiences                []string
		ttl                      time.Duration
		rate                     float64
		burst                    int
	)
	c := &cobra.Command{
		Use:   "create --name N --audience A [--audience ...] [--scope \"a b\"] [--ttl 1h]",
		Short: "Register a client and print its id and secret (the secret is shown once)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if name == "" {
				return Usage("--name is required")
			}
			if len(audiences) == 0 {
				return Usage("at least one --audience is required")
			}
			if ttl < 0 || ttl > authserver.DefaultMaxTokenTTL {
				return Usage("--ttl %v: want at most %v", ttl, authserver.DefaultMaxTokenTTL)
			}
			if rate < 0 || burst < 0 {
				return Usage("--rate-limit and --burst must not be negative")
			}
			if profile != "" && profile != authserver.ProfileRFC9068 && profile != authserver.ProfileAuth0 {
				return Usage("--profile %q: want rfc9068 or auth0", profile)
			}
			cl := &store.Client{
				ID: id, Name: name, Audiences: audiences, Scopes: strings.Fields(scope),
				TokenTTL: ttl, RateLimitPerSecond: rate, RateLimitBurst: burst, Profile: profile,
			}
			return cc.run(c, func(ctx context.Context, st store.Store) error {
				secret, err := authserver.CreateClient(ctx, st, cl, nil)
				if err != nil {
					if errors.Is(err, store.ErrConflict) {
						return Rejected(fmt.Errorf("client %q already exists", id))
					}
					return Rejected(err)
				}
				return cc.show(cl, secret)
			})
		},
	}
	fs := c.Flags()
	fs.StringVar(&name, "name", "", "client name (required)")
	fs.StringArrayVar(&audiences, "audience", nil, "audience the client may request; the first is its default (repeatable, required)")
	fs.StringVar(&scope, "scope", "", "space-separated scopes the client may request")
	fs.DurationVar(&ttl, "ttl", 0, "token lifetime for this client (0: the server's default)")
	fs.Float64Var(&rate, "rate-limit", 0, "tokens per second for this client (0: the server's default)")
	fs.IntVar(&burst, "burst", 0, "token bucket size with --rate-limit (0: the rate, at least 1)")
	fs.StringVar(&profile, "profile", "", "token profile for this client: rfc9068 or auth0 (default: the server's)")
	fs.StringVar(&id, "id", "", "client id (default: 128 random bits)")
	cc.flags(c)
	return c
}

func clientList(env *Env) *cobra.Command {
	cc := &clientCmd{env: env}
	c := &cobra.Command{
		Use:   "list",
		Short: "List clients",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return cc.run(c, func(ctx context.Context, st store.Store) error {
				list, err := st.ListClients(ctx)
				if err != nil {
					return Rejected(err)
				}
				now := time.Now()
				if cc.asJSON {
					out := struct {
						Clients []clientJSON `json:"clients"`
					}{Clients: []clientJSON{}}
					for _, cl := range list {
						out.Clients = append(out.Clients, toClientJSON(cl, "", now))
					}
					return PrintJSON(env.Stdout, out)
				}
				tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "CLIENT ID\tNAME\tAUDIENCES\tSCOPES\tSTATUS")
				for _, cl := range list {
					status := "enabled"
					if cl.Disabled {
						status = "disabled"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cl.ID, cl.Name, strings.Join(cl.Audiences, ","), strings.Join(cl.Scopes, " "), status)
				}
				return tw.Flush()
			})
		},
	}
	cc.flags(c)
	return c
}

func clientShow(env *Env) *cobra.Command {
	cc := &clientCmd{env: env}
	c := &cobra.Command{
		Use:   "show CLIENT_ID",
		Short: "Show a client (never its secret)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return cc.run(c, func(ctx context.Context, st store.Store) error {
				cl, err := st.GetClient(ctx, args[0])
				if err != nil {
					return notFound(args[0], err)
				}
				return cc.show(cl, "")
			})
		},
	}
	cc.flags(c)
	return c
}

func clientRotate(env *Env) *cobra.Command {
	cc := &clientCmd{env: env}
	var grace time.Duration
	c := &cobra.Command{
		Use:   "rotate-secret CLIENT_ID [--grace 24h]",
		Short: "Give a client a new secret; the old one keeps working for the grace period",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if grace < 0 {
				return Usage("--grace must not be negative")
			}
			return cc.run(c, func(ctx context.Context, st store.Store) error {
				secret, err := authserver.RotateSecret(ctx, st, args[0], grace, nil)
				if err != nil {
					return notFound(args[0], err)
				}
				cl, err := st.GetClient(ctx, args[0])
				if err != nil {
					return notFound(args[0], err)
				}
				return cc.show(cl, secret)
			})
		},
	}
	c.Flags().DurationVar(&grace, "grace", authserver.DefaultSecretGrace, "how long the old secret keeps working (0: revoke it now)")
	cc.flags(c)
	return c
}

func clientSetDisabled(env *Env, verb string, disabled bool) *cobra.Command {
	cc := &clientCmd{env: env}
	short := "Enable a disabled client"
	if disabled {
		short = "Disable a client: it gets no more tokens (tokens already issued stay valid until they expire)"
	}
	c := &cobra.Command{
		Use:   verb + " CLIENT_ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return cc.run(c, func(ctx context.Context, st store.Store) error {
				cl, err := st.UpdateClient(ctx, args[0], func(cl *store.Client) error {
					cl.Disabled = disabled
					cl.UpdatedAt = time.Now()
					return nil
				})
				if err != nil {
					return notFound(args[0], err)
				}
				return cc.show(cl, "")
			})
		},
	}
	cc.flags(c)
	return c
}

func clientDelete(env *Env) *cobra.Command {
	cc := &clientCmd{env: env}
	c := &cobra.Command{
		Use:   "delete CLIENT_ID",
		Short: "Delete a client",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return cc.run(c, func(ctx context.Context, st store.Store) error {
				if err := st.DeleteClient(ctx, args[0]); err != nil {
					return notFound(args[0], err)
				}
				if cc.asJSON {
					return PrintJSON(env.Stdout, map[string]any{"client_id": args[0], "deleted": true})
				}
				fmt.Fprintf(env.Stdout, "deleted client %s\n", args[0])
				return nil
			})
		},
	}
	cc.flags(c)
	return c
}
