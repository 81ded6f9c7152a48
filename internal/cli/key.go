package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/m2mkit/m2m/keyring"
	"github.com/m2mkit/m2m/store"
)

// keyJSON is how the key commands print a signing key (never its private
// part).
type keyJSON struct {
	KID          string     `json:"kid"`
	Algorithm    string     `json:"alg"`
	State        string     `json:"state"`
	CreatedAt    time.Time  `json:"created_at"`
	ActivatedAt  *time.Time `json:"activated_at,omitempty"`
	RetiredAt    *time.Time `json:"retired_at,omitempty"`
	PublishUntil *time.Time `json:"publish_until,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func printKeys(w io.Writer, asJSON bool, keys []keyJSON) error {
	if asJSON {
		return PrintJSON(w, struct {
			Keys []keyJSON `json:"keys"`
		}{keys})
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tACTIVATED\tRETIRED\tPUBLISHED UNTIL")
	f := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.Format(time.RFC3339)
	}
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.KID, k.Algorithm, k.State, k.CreatedAt.Format(time.RFC3339),
			f(k.ActivatedAt), f(k.RetiredAt), f(k.PublishUntil))
	}
	return tw.Flush()
}

func cmdKey(env *Env) *cobra.Command {
	root := &cobra.Command{
		Use:   "key",
		Short: "List and rotate the token server's signing keys",
		Long: `List and rotate the token server's signing keys directly in its database (--data DIR or
--database URL). A rotation adds a "next" key: the running server publishes it in its JWKS
within its --key-refresh interval and signs with it after --pre-publish; the old key stays
published until every token it signed has expired.`,
	}
	root.AddCommand(keyList(env), keyRotate(env))
	return root
}

func keyList(env *Env) *cobra.Command {
	var (
		data   dataFlags
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "list",
		Short: "List signing keys, oldest first",
		Args:  cobra.NoArgs,
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
			keys, err := st.ListKeys(ctx)
			if err != nil {
				return Rejected(err)
			}
			out := []keyJSON{}
			for _, k := range keys {
				out = append(out, storedKeyJSON(k))
			}
			return printKeys(env.Stdout, asJSON, out)
		},
	}
	data.add(c.Flags(), false)
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON object")
	refuseZero(c, map[string]string{"data": "", "database": "leave it out to use --data"})
	return c
}

func storedKeyJSON(k *store.SigningKey) keyJSON {
	return keyJSON{KID: k.ID, Algorithm: k.Algorithm, State: string(k.State), CreatedAt: k.CreatedAt.UTC(),
		ActivatedAt: optTime(k.ActivatedAt), RetiredAt: optTime(k.RetiredAt), PublishUntil: optTime(k.PublishUntil)}
}

func keyRotate(env *Env) *cobra.Command {
	var (
		data       dataFlags
		asJSON     bool
		algorithm  string
		prePublish time.Duration
	)
	var server, tokenFile string
	c := &cobra.Command{
		Use:   "rotate",
		Short: "Add a next signing key (published now, signing after --pre-publish)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if err := envDefaults(env, c.Flags(), "data", "database", "master-secret-file", "algorithm", "server", "admin-token-file"); err != nil {
				return err
			}
			if server != "" {
				return rotateViaServer(env, server, tokenFile, data.data, asJSON)
			}
			if prePublish <= 0 {
				return Usage("--pre-publish must be positive")
			}
			ctx := context.Background()
			st, err := data.openExisting(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			master, err := data.masterExisting()
			if err != nil {
				return err
			}
			kr, err := keyring.New(ctx, keyring.Config{Store: st, Master: master, Algorithm: algorithm,
				PrePublish: prePublish, RefreshEvery: min(keyring.DefaultRefreshEvery, prePublish/2)})
			if err != nil {
				return Rejected(err)
			}
			if err := kr.Rotate(ctx); err != nil {
				return Rejected(err)
			}
			out := []keyJSON{}
			for _, k := range kr.Keys() {
				out = append(out, keyJSON{KID: k.ID, Algorithm: k.Algorithm, State: string(k.State), CreatedAt: k.CreatedAt.UTC(),
					ActivatedAt: optTime(k.ActivatedAt), RetiredAt: optTime(k.RetiredAt), PublishUntil: optTime(k.PublishUntil)})
			}
			return printKeys(env.Stdout, asJSON, out)
		},
	}
	data.add(c.Flags(), true)
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON object")
	c.Flags().StringVar(&algorithm, "algorithm", keyring.DefaultAlgorithm, "algorithm of the new key: ES256, EdDSA or RS256")
	c.Flags().DurationVar(&prePublish, "pre-publish", keyring.DefaultPrePublish, "how long the new key is published before it signs")
	c.Flags().StringVar(&server, "server", "", "rotate through the admin API of the server at this URL, with its own --algorithm and --pre-publish (env M2M_SERVER)")
	c.Flags().StringVar(&tokenFile, "admin-token-file", "", adminTokenFileUsage)
	refuseZero(c, map[string]string{"data": "", "database": "leave it out to use --data", "master-secret-file": "",
		"algorithm": "", "pre-publish": "give a positive duration", "server": "leave it out to use the database", "admin-token-file": ""})
	return c
}

// rotateViaServer asks a running server to rotate and prints the key set
// it publishes afterwards.
func rotateViaServer(env *Env, server, tokenFile, data string, asJSON bool) error {
	a, err := newHTTPAdmin(env, server, tokenFile, data)
	if err != nil {
		return err
	}
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
			Alg string `json:"alg"`
		} `json:"keys"`
	}
	if err := a.do(context.Background(), "POST", "/admin/keys/rotate", nil, &set); err != nil {
		return Rejected(err)
	}
	if asJSON {
		return PrintJSON(env.Stdout, set)
	}
	for _, k := range set.Keys {
		fmt.Fprintf(env.Stdout, "%s\t%s\tpublished\n", k.KID, k.Alg)
	}
	return nil
}
