package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/m2mkit/m2m/secretfile"
)

func cmdSecret(env *Env) *cobra.Command {
	c := &cobra.Command{
		Use:   "secret",
		Short: "Create and rotate secret files (signing secrets kept on disk)",
		Long: "Create and rotate secret files: random bytes in a 0600 file, created once\n" +
			"(safe when several processes start at the same time). Rotation keeps the\n" +
			"previous secrets in FILE.prev so that tokens signed before still verify.\n" +
			"Deleting FILE and running init again invalidates every old token.\n" +
			"Secrets are never printed; commands print a SHA-256 fingerprint.",
	}
	c.AddCommand(secretInitCmd(env), secretRotateCmd(env))
	return c
}

// secretReport is the --json output of the secret commands.
type secretReport struct {
	Path        string `json:"path"`
	Fingerprint string `json:"fingerprint"`
	Bytes       int    `json:"bytes"`
	Created     *bool  `json:"created,omitempty"`
	Fallbacks   int    `json:"fallbacks"`
}

func printSecretReport(env *Env, asJSON bool, r secretReport) error {
	if asJSON {
		return PrintJSON(env.Stdout, r)
	}
	fmt.Fprintf(env.Stdout, "%s sha256:%s\n", r.Path, r.Fingerprint)
	return nil
}

func secretInitCmd(env *Env) *cobra.Command {
	var (
		file   string
		size   int
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "init",
		Short: "Create a secret file unless it exists; print its path and fingerprint",
		Long: "Create the --secret-file with --bytes random bytes (mode 0600) unless it exists, and print\n" +
			"its path and the SHA-256 fingerprint of the secret (never the secret). An\n" +
			"existing file is checked (size, permissions) and left alone.\n" +
			"--json prints {\"path\", \"fingerprint\", \"bytes\", \"created\", \"fallbacks\"}.",
		Example: "  m2m secret init --secret-file /var/lib/camera/secret.bin",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return Usage("--secret-file is required")
			}
			if size < secretfile.MinSize || size > secretfile.MaxSize {
				return Usage("--bytes %d: want %d to %d", size, secretfile.MinSize, secretfile.MaxSize)
			}
			_, statErr := os.Lstat(file)
			keys, err := secretfile.LoadOrCreate(file, size)
			if err != nil {
				return Rejected(err)
			}
			created := errors.Is(statErr, fs.ErrNotExist)
			return printSecretReport(env, asJSON, secretReport{Path: file, Fingerprint: secretfile.Fingerprint(keys.Current),
				Bytes: len(keys.Current), Created: &created, Fallbacks: len(keys.Fallbacks)})
		},
	}
	c.Flags().StringVar(&file, "secret-file", "", "the secret file `PATH`")
	hiddenAliases(c, map[string]string{"file": "secret-file"}) // README: secret init|rotate --file
	c.Flags().IntVar(&size, "bytes", secretfile.DefaultSize, "secret size in bytes")
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON object")
	refuseZero(c, map[string]string{"secret-file": "", "bytes": ""})
	return c
}

func secretRotateCmd(env *Env) *cobra.Command {
	var (
		file   string
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "rotate",
		Short: "Replace the secret, keeping the old one as a fallback",
		Long: fmt.Sprintf("Replace the secret in FILE with new random bytes of the same size and keep the\n"+
			"old secret in FILE.prev (newest first, at most %d), so tokens signed before the\n"+
			"rotation verify until they expire. Restart (or reload) the services that use\n"+
			"it. Prints the path and the new fingerprint.", secretfile.MaxFallbacks),
		Example: "  m2m secret rotate --secret-file /var/lib/camera/secret.bin",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return Usage("--secret-file is required")
			}
			keys, err := secretfile.Rotate(file)
			if err != nil {
				return Rejected(err)
			}
			return printSecretReport(env, asJSON, secretReport{Path: file, Fingerprint: secretfile.Fingerprint(keys.Current),
				Bytes: len(keys.Current), Fallbacks: len(keys.Fallbacks)})
		},
	}
	c.Flags().StringVar(&file, "secret-file", "", "the secret file `PATH`")
	hiddenAliases(c, map[string]string{"file": "secret-file"}) // README: secret init|rotate --file
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON object")
	refuseZero(c, map[string]string{"secret-file": ""})
	return c
}
