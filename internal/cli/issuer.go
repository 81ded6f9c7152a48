package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/store"
)

// The issuer a database serves is recorded in it by the first m2m serve
// (authserver.CheckIssuer); a replica started with another --issuer is
// refused, and "m2m issuer set" is the explicit way to change it.

func cmdIssuer(env *Env) *cobra.Command {
	c := &cobra.Command{
		Use:   "issuer",
		Short: "Show or change the issuer the token server's database serves",
		Long: `The first "m2m serve" on a database records its issuer (--issuer) in it. A server
started later on the same database (a replica, a restart) with another issuer is refused:
tokens name their issuer, and resource servers accept only the one they know, so replicas
with different issuers behind one address would issue tokens that fail at random.

"m2m issuer show" prints the recorded issuer; "m2m issuer set URL" changes it, the explicit
admin action: then restart every replica with --issuer URL (until then, a replica that
restarts with the old issuer is refused). Tokens issued under the old issuer stop
verifying wherever resource servers expect the new one.`,
	}
	c.AddCommand(issuerShow(env), issuerSet(env))
	return c
}

// issuerReport is the --json output of the issuer commands.
type issuerReport struct {
	Issuer   string `json:"issuer"`
	Previous string `json:"previous,omitempty"`
	Changed  bool   `json:"changed"`
}

func issuerShow(env *Env) *cobra.Command {
	var (
		data   dataFlags
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "show",
		Short: "Print the issuer the database serves",
		Long: "Print the issuer recorded in the database (--data DIR or --database URL). A database\n" +
			"no server has started on has none: exit 1.\n" +
			"--json prints {\"issuer\"}.",
		Example: "  m2m issuer show --database postgres://m2m@db.example/m2m",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if err := envDefaults(env, c.Flags(), "data", "database"); err != nil {
				return err
			}
			ctx := context.Background()
			st, err := data.openExisting(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			v, err := st.GetSetting(ctx, authserver.IssuerSetting)
			if errors.Is(err, store.ErrNotFound) {
				return Rejected(errors.New("m2m: no issuer recorded in this database yet (the first m2m serve records its --issuer; m2m issuer set records one)"))
			}
			if err != nil {
				return Rejected(err)
			}
			if asJSON {
				return PrintJSON(env.Stdout, issuerReport{Issuer: v})
			}
			fmt.Fprintln(env.Stdout, v)
			return nil
		},
	}
	data.add(c.Flags(), false)
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON object")
	refuseZero(c, map[string]string{"data": "", "database": "leave it out to use --data"})
	return c
}

func issuerSet(env *Env) *cobra.Command {
	var (
		data   dataFlags
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "set URL",
		Short: "Change the issuer the database serves (then restart every replica with --issuer URL)",
		Long: "Record URL as the issuer the database (--data DIR or --database URL) serves. Servers\n" +
			"started afterwards with another --issuer are refused, so restart every replica with\n" +
			"--issuer URL. URL must be an absolute http(s) URL without query or fragment, spelled\n" +
			"exactly as in tokens (a trailing slash makes another issuer).\n" +
			"--json prints {\"issuer\", \"previous\", \"changed\"}.",
		Example: "  m2m issuer set --data /var/lib/m2m https://auth.example.com",
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := envDefaults(env, c.Flags(), "data", "database"); err != nil {
				return err
			}
			issuer := args[0]
			ctx := context.Background()
			st, err := data.openExisting(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			prev, err := authserver.CheckIssuer(ctx, st, issuer, true)
			if err != nil {
				return Rejected(err)
			}
			r := issuerReport{Issuer: issuer, Previous: prev, Changed: prev != issuer}
			if asJSON {
				return PrintJSON(env.Stdout, r)
			}
			switch {
			case !r.Changed:
				fmt.Fprintf(env.Stdout, "m2m: the database already serves issuer %s\n", issuer)
			case prev == "":
				fmt.Fprintf(env.Stdout, "m2m: issuer %s recorded; start every server with --issuer %s\n", issuer, issuer)
			default:
				fmt.Fprintf(env.Stdout, "m2m: issuer changed from %s to %s; restart every replica with --issuer %s\n", prev, issuer, issuer)
			}
			return nil
		},
	}
	data.add(c.Flags(), false)
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON object")
	refuseZero(c, map[string]string{"data": "", "database": "leave it out to use --data"})
	return c
}

// checkServeIssuer is m2m serve's issuer check, run once the database is
// open and before anything else is created: the first start records
// issuer; a start with another issuer than the database serves is
// refused (exit 1) with the two ways out.
func checkServeIssuer(ctx context.Context, st store.Settings, issuer string, logger *slog.Logger) error {
	prev, err := authserver.CheckIssuer(ctx, st, issuer, false)
	var m *authserver.IssuerMismatchError
	switch {
	case errors.As(err, &m):
		return Rejected(fmt.Errorf("m2m: this database serves issuer %s, but this server was started with --issuer %s.\n"+
			"Servers sharing a database must have one issuer. Start this one with --issuer %s,\n"+
			"or change the issuer of the database on purpose with\n"+
			"  m2m issuer set %s\n"+
			"(with this server's --data or --database) and restart every replica with --issuer %s",
			m.Stored, m.Configured, m.Stored, m.Configured, m.Configured))
	case err != nil:
		return Rejected(err)
	case prev == "":
		logger.Info("m2m: issuer recorded in the database; servers sharing it must use the same --issuer", "issuer", issuer)
	}
	return nil
}
