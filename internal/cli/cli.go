// Package cli implements the m2m command. Each command group lives in its
// own file as a constructor; [Root] lists them all in one place, as cmd/go
// lists its commands.
//
// Conventions for every command: exit 0 on success or a valid credential,
// 1 when a credential is rejected or an operation fails, 2 on a usage
// error; --help everywhere; --json prints exactly one JSON object; secrets
// come from --secret-file PATH or the M2M_SECRET environment variable,
// never from flags; --now takes RFC 3339 (fractions allowed) or unix
// seconds (fractions allowed).
package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/m2mkit/m2m/internal/version"
)

// Env is what a command may touch of the outside world. Tests replace it.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// LookupEnv reads the environment (nil means os.LookupEnv).
	LookupEnv func(string) (string, bool)
	// Environ lists the environment as KEY=VALUE (nil means os.Environ).
	Environ func() []string
	// Signals, when not nil, replaces the process's signals for commands
	// that run until stopped (serve): os.Interrupt or SIGTERM stops them,
	// SIGHUP reloads their files. Nil means the signals the process
	// receives.
	Signals <-chan os.Signal
}

// Environment returns the environment as KEY=VALUE strings.
func (e *Env) Environment() []string {
	if e.Environ == nil {
		return os.Environ()
	}
	return e.Environ()
}

// Lookup reads the environment variable name.
func (e *Env) Lookup(name string) (string, bool) {
	if e.LookupEnv == nil {
		return os.LookupEnv(name)
	}
	return e.LookupEnv(name)
}

// ExitError carries an exit code out of a command.
type ExitError struct {
	Code int
	Err  error
	// Quiet means the command already printed what the user needs (for
	// example a --json rejection object), so Main prints nothing more.
	Quiet bool
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Usage returns an error that exits with status 2.
func Usage(format string, args ...any) error {
	return &ExitError{Code: 2, Err: fmt.Errorf(format, args...)}
}

// Rejected returns an error that exits with status 1 after printing err.
func Rejected(err error) error { return &ExitError{Code: 1, Err: err} }

// RejectedQuiet exits with status 1 without printing anything more.
func RejectedQuiet() error { return &ExitError{Code: 1, Quiet: true} }

// commands returns every top-level command of m2m (help lists them
// sorted). This list is the one place a command is added.
func commands(env *Env) []*cobra.Command {
	return []*cobra.Command{
		// The token server and its administration.
		cmdServe(env),
		cmdClient(env),
		cmdTrust(env),
		cmdKey(env),
		cmdRevoke(env),
		cmdIssuer(env),
		cmdAudit(env),
		// Clients of a token server.
		cmdToken(env),
		cmdRequest(env),
		// One group per credential scheme.
		cmdJWT(env),
		cmdDynamic(env),
		cmdRolling(env),
		cmdScoped(env),
		cmdBasic(env),
		cmdSecret(env),
		cmdInit(env),
		cmdVersion(env),
	}
}

// Root builds the root command for env.
func Root(env *Env) *cobra.Command {
	root := &cobra.Command{
		Use:           "m2m",
		Short:         "Machine-to-machine authentication: token server and credential tools",
		Version:       version.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("m2m {{.Version}}\n")
	// Defined here so that cobra adds no -v shorthand.
	root.Flags().Bool("version", false, "print the version and exit")
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(commands(env)...)
	setConventions(env, root)
	return root
}

// setConventions applies the rules every command of the tree follows: a
// flag error is a usage error (exit 2), and a command group run without a
// subcommand prints its usage on stderr and exits 2, as does a group given
// an unknown subcommand.
func setConventions(env *Env, c *cobra.Command) {
	c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &ExitError{Code: 2, Err: err} })
	if c.HasSubCommands() {
		if c.Args == nil {
			c.Args = func(cmd *cobra.Command, args []string) error {
				if len(args) > 0 {
					return Usage("unknown command %q for %q", args[0], cmd.CommandPath())
				}
				return nil
			}
		}
		if c.Run == nil && c.RunE == nil {
			c.RunE = func(cmd *cobra.Command, args []string) error {
				cmd.SetOut(env.Stderr)
				_ = cmd.Usage()
				return &ExitError{Code: 2, Quiet: true}
			}
		}
	}
	for _, sub := range c.Commands() {
		setConventions(env, sub)
	}
}

// Main runs the m2m command line with args and returns the exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return Run(&Env{Stdin: stdin, Stdout: stdout, Stderr: stderr}, args)
}

// Run runs the command line in env.
func Run(env *Env, args []string) int {
	root := Root(env)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *ExitError
	if !errors.As(err, &ee) {
		// Errors cobra itself returns (unknown command, wrong arg count) are
		// usage errors.
		if isCobraUsage(err) {
			ee = &ExitError{Code: 2, Err: err}
		} else {
			ee = &ExitError{Code: 1, Err: err}
		}
	}
	if !ee.Quiet && ee.Err != nil {
		fmt.Fprintln(env.Stderr, "m2m:", ee.Err)
	}
	return ee.Code
}

func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires at least", "requires at most", "required flag", "invalid argument", "flag needs an argument"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// MaxSecretBytes caps a secret read by [ReadSecret], from a file or from
// M2M_SECRET.
const MaxSecretBytes = 64 << 10

// ReadSecret returns the secret from the file at path, or from the
// M2M_SECRET environment variable (its UTF-8 bytes) when path is empty.
// The file's bytes are used exactly as stored. It is a usage error to give
// neither. A file (or variable) larger than [MaxSecretBytes] is refused,
// and so, except on Windows, is a regular file that its group or others
// may read or write (the error says to run chmod 600 PATH), both as
// rejected operations (exit 1). Errors never hold the secret.
func ReadSecret(env *Env, path string) ([]byte, error) {
	if path != "" {
		b, err := readSecretFile(path)
		if err != nil {
			return nil, Rejected(err)
		}
		return b, nil
	}
	if v, ok := env.Lookup("M2M_SECRET"); ok {
		if len(v) > MaxSecretBytes {
			return nil, Rejected(fmt.Errorf("M2M_SECRET holds %d bytes; want at most %d", len(v), MaxSecretBytes))
		}
		return []byte(v), nil
	}
	return nil, Usage("no secret: give --secret-file PATH or set M2M_SECRET")
}

// readSecretFile reads at most MaxSecretBytes of the file at path,
// refusing a regular file with group or other permissions. Other files
// (a pipe such as /dev/stdin or a process substitution) are only
// size-capped: their mode says nothing about who can read the secret
// stored elsewhere.
func readSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading secret file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading secret file: %w", err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("reading secret file: %s is a directory", path)
	}
	if fi.Mode().IsRegular() {
		if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("secret file %s is accessible by group or others (mode %04o); run: chmod 600 %s", path, fi.Mode().Perm(), path)
		}
		if fi.Size() > MaxSecretBytes {
			return nil, fmt.Errorf("secret file %s holds %d bytes; want at most %d", path, fi.Size(), MaxSecretBytes)
		}
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxSecretBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading secret file: %w", err)
	}
	if len(b) > MaxSecretBytes {
		return nil, fmt.Errorf("secret file %s holds more than %d bytes", path, MaxSecretBytes)
	}
	return b, nil
}

// ParseNow parses a --now value: RFC 3339 with optional fractional seconds,
// or unix seconds with an optional fraction. An empty value means the
// current time.
func ParseNow(s string) (time.Time, error) {
	if s == "" {
		return time.Now(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e12 {
		return time.Time{}, Usage("--now %q: want RFC 3339 or unix seconds", s)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), nil
}

// PrintJSON writes v as one JSON object followed by a newline.
func PrintJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func cmdVersion(env *Env) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "version",
		Short: "Print the m2m version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := version.String()
			if asJSON {
				return PrintJSON(env.Stdout, map[string]string{"version": v})
			}
			fmt.Fprintln(env.Stdout, "m2m", v)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON object")
	return c
}
