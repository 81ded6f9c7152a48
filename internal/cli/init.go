package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/m2mkit/m2m/keyring"
	"github.com/m2mkit/m2m/secretfile"
)

// adminTokenPath is where the server keeps its admin token: in the data
// directory, or beside --master-secret-file when the database is
// elsewhere (as m2m serve places it).
func (f *dataFlags) adminTokenPath() string {
	if f.database != "" && f.masterFile != "" {
		return filepath.Join(filepath.Dir(f.masterFile), dataAdminFile)
	}
	return filepath.Join(f.data, dataAdminFile)
}

// cmdInit creates a server's data before its first start: the one
// command besides m2m serve that creates a database. The admin commands
// (client, key, revoke) refuse a data directory or database that does
// not exist, so that one run in the wrong directory cannot create an
// empty one.
func cmdInit(env *Env) *cobra.Command {
	var (
		data      dataFlags
		algorithm string
	)
	c := &cobra.Command{
		Use:   "init",
		Short: "Create the token server's data (database, master secret, admin token, first key)",
		Long: `Create what "m2m serve" creates on its first start, without starting it: the data
directory (0700) with the SQLite database, or the tables in --database; the master secret
(0600, it seals the signing keys); the admin API token (admin.token, 0600); the first
signing key. Clients can then be registered before the server first runs. Existing data is
kept: init on an initialised server changes nothing. Flags not given are read from M2M_DATA,
M2M_DATABASE and M2M_MASTER_SECRET_FILE.`,
		Example: "  m2m init --data /var/lib/m2m\n  m2m client create --data /var/lib/m2m --name billing --audience https://api.example.com --credentials-file creds.json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := envDefaults(env, cmd.Flags(), "data", "database", "master-secret-file"); err != nil {
				return err
			}
			ctx := context.Background()
			_, statErr := os.Stat(data.data)
			st, _, err := data.open(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			for _, w := range st.Warnings() {
				fmt.Fprintln(env.Stderr, "m2m: warning:", w)
			}
			master, masterPath, err := data.master()
			if err != nil {
				return err
			}
			adminPath, err := filepath.Abs(data.adminTokenPath())
			if err != nil {
				return Rejected(err)
			}
			if err := os.MkdirAll(filepath.Dir(adminPath), 0o700); err != nil {
				return Rejected(err)
			}
			if _, err := secretfile.LoadOrCreate(adminPath, secretfile.DefaultSize); err != nil {
				return Rejected(err)
			}
			kr, err := keyring.New(ctx, keyring.Config{Store: st, Master: master, Algorithm: algorithm})
			if err != nil {
				return Rejected(err)
			}
			if data.database == "" && errors.Is(statErr, fs.ErrNotExist) {
				abs, _ := filepath.Abs(data.data)
				fmt.Fprintf(env.Stdout, "m2m: created data directory %s\n", abs)
			}
			fmt.Fprintf(env.Stdout, "m2m: master secret %s\n", masterPath)
			fmt.Fprintf(env.Stdout, "m2m: admin token %s\n", adminPath)
			for _, k := range kr.Keys() {
				fmt.Fprintf(env.Stdout, "m2m: signing key %s (%s, %s)\n", k.ID, k.Algorithm, k.State)
			}
			return nil
		},
	}
	data.add(c.Flags(), true)
	c.Flags().StringVar(&algorithm, "algorithm", keyring.DefaultAlgorithm, "algorithm of the first signing key: ES256, EdDSA or RS256")
	refuseZero(c, map[string]string{"data": "", "database": "leave it out to use --data", "master-secret-file": "", "algorithm": ""})
	return c
}
