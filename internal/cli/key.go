package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/m2mkit/m2m/authserver"
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
		Short: "List, rotate and revoke the token server's signing keys",
		Long: `List and rotate the token server's signing keys directly in its database (--data DIR or
--database URL). A rotation adds a "next" key: the running server publishes it in its JWKS
within its --key-refresh interval and signs with it after --pre-publish; the old key stays
published until every token it signed has expired.`,
	}
	root.AddCommand(keyList(env), keyRotate(env), keyRevoke(env))
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
			return printStoredKeys(ctx, env, st, asJSON)
		},
	}
	data.add(c.Flags(), false)
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON object")
	refuseZero(c, map[string]string{"data": "", "database": "leave it out to use --data"})
	return c
}

// printStoredKeys prints the signing keys in the database, oldest first.
func printStoredKeys(ctx context.Context, env *Env, st store.Keys, asJSON bool) error {
	keys, err := st.ListKeys(ctx)
	if err != nil {
		return Rejected(err)
	}
	out := []keyJSON{}
	for _, k := range keys {
		out = append(out, storedKeyJSON(k))
	}
	return printKeys(env.Stdout, asJSON, out)
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
			storeAdmin{st}.auditTarget(ctx, authserver.AuditKeyRotated, "")
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

// maxKIDBytes bounds a KID argument: the server's kids are 43 base64url
// characters.
const maxKIDBytes = 128

func keyRevoke(env *Env) *cobra.Command {
	var (
		data              dataFlags
		asJSON            bool
		server, tokenFile string
	)
	c := &cobra.Command{
		Use:   "revoke KID",
		Short: "Pull a signing key at once (its private key may be compromised)",
		Long: `Revoke the signing key KID in an emergency: in one database transaction it becomes
revoked, its sealed private key is erased and it leaves the JWKS; if it was signing, the
pending next key becomes active at once (or a new key is created active). The server's
introspection answers inactive for every token it signed. A replica that reads the database
stops using it within its --key-refresh (with --server, the server addressed does so at
once); APIs using jwk.RemoteKeySet drop it at their next JWKS fetch (the server's JWKS says
Cache-Control max-age=60).

The cost of skipping the next key's pre-publication: an API that has not fetched the new key
refuses tokens signed with it until it refetches, which jwk.RemoteKeySet does on the first
unknown kid. Revoking a revoked key changes nothing; an unknown KID exits 1.`,
		Example: "  m2m key list --data ./m2m-data\n  m2m key revoke KID --data ./m2m-data",
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			kid := args[0]
			if len(kid) > maxKIDBytes || strings.IndexFunc(kid, func(r rune) bool { return r < 0x21 || r > 0x7e || r == '/' }) >= 0 {
				return Usage("KID %.40q: not a key id (see m2m key list)", kid)
			}
			if err := envDefaults(env, c.Flags(), "data", "database", "master-secret-file", "server", "admin-token-file"); err != nil {
				return err
			}
			ctx := context.Background()
			if server != "" {
				a, err := newHTTPAdmin(env, server, tokenFile, data.data)
				if err != nil {
					return err
				}
				var set jwksKeys
				if err := a.do(ctx, "POST", "/admin/keys/"+url.PathEscape(kid)+"/revoke", nil, &set); err != nil {
					if errors.Is(err, store.ErrNotFound) {
						return Rejected(fmt.Errorf("key %q not found", kid))
					}
					return Rejected(err)
				}
				return printPublished(env, set, asJSON)
			}
			st, err := data.openExisting(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			master, err := data.masterExisting()
			if err != nil {
				return err
			}
			kr, err := keyring.New(ctx, keyring.Config{Store: st, Master: master})
			if err != nil {
				return Rejected(err)
			}
			if err := kr.Revoke(ctx, kid); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return Rejected(fmt.Errorf("key %q not found", kid))
				}
				return Rejected(err)
			}
			storeAdmin{st}.auditTarget(ctx, authserver.AuditKeyRevoked, kid)
			return printStoredKeys(ctx, env, st, asJSON)
		},
	}
	data.add(c.Flags(), true)
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON object")
	c.Flags().StringVar(&server, "server", "", "revoke through the admin API of the server at this URL: it stops using the key at once (env M2M_SERVER)")
	c.Flags().StringVar(&tokenFile, "admin-token-file", "", adminTokenFileUsage)
	refuseZero(c, map[string]string{"data": "", "database": "leave it out to use --data", "master-secret-file": "",
		"server": "leave it out to use the database", "admin-token-file": ""})
	return c
}

// jwksKeys is what the admin API's key operations answer: the JWKS.
type jwksKeys struct {
	Keys []struct {
		KID string `json:"kid"`
		Alg string `json:"alg"`
	} `json:"keys"`
}

// printPublished prints the keys a server publishes after a key
// operation through its admin API.
func printPublished(env *Env, set jwksKeys, asJSON bool) error {
	if asJSON {
		return PrintJSON(env.Stdout, set)
	}
	for _, k := range set.Keys {
		fmt.Fprintf(env.Stdout, "%s\t%s\tpublished\n", k.KID, k.Alg)
	}
	return nil
}

// rotateViaServer asks a running server to rotate and prints the key set
// it publishes afterwards.
func rotateViaServer(env *Env, server, tokenFile, data string, asJSON bool) error {
	a, err := newHTTPAdmin(env, server, tokenFile, data)
	if err != nil {
		return err
	}
	var set jwksKeys
	if err := a.do(context.Background(), "POST", "/admin/keys/rotate", nil, &set); err != nil {
		return Rejected(err)
	}
	return printPublished(env, set, asJSON)
}
