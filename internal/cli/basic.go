package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/bcrypt"

	"github.com/m2mkit/m2m/basic"
)

// maxPasswordLine bounds the password line read from stdin.
const maxPasswordLine = 4096

func cmdBasic(env *Env) *cobra.Command {
	c := &cobra.Command{
		Use:   "basic",
		Short: "HTTP Basic auth: password hashes for htpasswd files",
		Long: "HTTP Basic auth (RFC 7617). Passwords are read from standard input, one line,\n" +
			"never from flags. Hashes are bcrypt ($2a$, as \"htpasswd -B\" makes) or argon2id\n" +
			"PHC strings; both work in the files that basic.LoadHtpasswd reads.",
	}
	c.AddCommand(basicHashCmd(env), basicVerifyCmd(env))
	return c
}

func basicHashCmd(env *Env) *cobra.Command {
	var (
		useArgon bool
		user     string
		cost     int
		asJSON   bool
	)
	c := &cobra.Command{
		Use:   "hash",
		Short: "Hash a password read from stdin for an htpasswd file",
		Long: "Hash a password read from standard input (the first line, without its line end)\n" +
			"and print the hash, or \"USER:hash\" with --user, ready for an htpasswd file.\n" +
			"bcrypt (cost 10) by default; --argon2id for argon2id (m=19456 KiB, t=2, p=1).",
		Example: "  printf '%s\\n' \"$PASSWORD\" | m2m basic hash --user admin >> htpasswd\n" +
			"  m2m basic hash --argon2id < password.txt",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if user != "" {
				if err := basic.CheckUserName(user); err != nil {
					return Usage("--user: %v", err)
				}
			}
			if useArgon && cmd.Flags().Changed("cost") {
				return Usage("--cost applies to bcrypt, not --argon2id")
			}
			if !useArgon && (cost < bcrypt.MinCost || cost > basic.MaxBcryptCost) {
				return Usage("--cost %d: want %d to %d", cost, bcrypt.MinCost, basic.MaxBcryptCost)
			}
			pw, err := readPassword(env.Stdin)
			if err != nil {
				return err
			}
			var hash, alg string
			if useArgon {
				hash, err = basic.HashArgon2id(pw, nil)
				alg = "argon2id"
			} else {
				hash, err = basic.HashBcrypt(pw, cost)
				alg = "bcrypt"
			}
			if err != nil {
				return Rejected(err)
			}
			if asJSON {
				out := map[string]string{"algorithm": alg, "hash": hash}
				if user != "" {
					out["user"] = user
					out["line"] = user + ":" + hash
				}
				return PrintJSON(env.Stdout, out)
			}
			if user != "" {
				hash = user + ":" + hash
			}
			fmt.Fprintln(env.Stdout, hash)
			return nil
		},
	}
	f := c.Flags()
	f.BoolVar(&useArgon, "argon2id", false, "make an argon2id PHC hash instead of bcrypt")
	f.StringVar(&user, "user", "", "print \"USER:hash\", an htpasswd line")
	f.IntVar(&cost, "cost", basic.DefaultBcryptCost, fmt.Sprintf("bcrypt cost (4 to %d)", basic.MaxBcryptCost))
	f.BoolVar(&asJSON, "json", false, "print a JSON object")
	refuseZero(c, map[string]string{"cost": fmt.Sprintf("give a bcrypt cost from 4 to %d", basic.MaxBcryptCost)})
	return c
}

func basicVerifyCmd(env *Env) *cobra.Command {
	var (
		file, user string
		asJSON     bool
	)
	c := &cobra.Command{
		Use:   "verify",
		Short: "Check a password read from stdin against an htpasswd file",
		Long: "Check the password on standard input (the first line) for --user against the\n" +
			"htpasswd file --htpasswd-file. Exit 0 when it matches, 1 when it does not.",
		Example: "  m2m basic verify --htpasswd-file htpasswd --user admin < password.txt",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" || user == "" {
				return Usage("give --htpasswd-file and --user")
			}
			users, err := basic.LoadHtpasswd(file)
			if err != nil {
				return Rejected(err)
			}
			pw, err := readPassword(env.Stdin)
			if err != nil {
				return err
			}
			ok, err := users.Authenticate(context.Background(), user, pw)
			if err != nil {
				return Rejected(err)
			}
			if asJSON {
				out := map[string]any{"valid": ok, "user": user}
				if !ok {
					out["error"] = "bad_credentials"
				}
				if err := PrintJSON(env.Stdout, out); err != nil {
					return err
				}
				if !ok {
					return RejectedQuiet()
				}
				return nil
			}
			if !ok {
				return Rejected(errors.New("bad_credentials: wrong user name or password"))
			}
			fmt.Fprintln(env.Stdout, "ok")
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&file, "htpasswd-file", "", "htpasswd file `PATH` (user:hash lines)")
	hiddenAliases(c, map[string]string{"file": "htpasswd-file"}) // README: basic verify --file
	f.StringVar(&user, "user", "", "user name")
	f.BoolVar(&asJSON, "json", false, "print a JSON object")
	refuseZero(c, map[string]string{"htpasswd-file": "", "user": ""})
	return c
}

// readPassword reads the first line of r, without its line end. A missing
// or empty password is a usage error; so is one that no Basic client could
// send (not UTF-8, or with control characters, which RFC 7617 forbids).
func readPassword(r io.Reader) (string, error) {
	if r == nil {
		return "", Usage("no password: write it to standard input")
	}
	br := bufio.NewReaderSize(io.LimitReader(r, maxPasswordLine+2), maxPasswordLine+2)
	line, err := br.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", Rejected(fmt.Errorf("reading the password: %w", err))
	}
	if len(line) > maxPasswordLine && !strings.HasSuffix(line, "\n") {
		return "", Usage("password line longer than %d bytes", maxPasswordLine)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	switch {
	case pw == "":
		return "", Usage("no password: write it to standard input, one line")
	case !utf8.ValidString(pw):
		return "", Usage("the password is not UTF-8")
	case strings.ContainsFunc(pw, unicode.IsControl):
		return "", Usage("the password contains control characters, which Basic auth cannot carry")
	}
	return pw, nil
}
