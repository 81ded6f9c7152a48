package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/dynamic"
)

// dynamicFlags are the options shared by dynamic encode and decode.
type dynamicFlags struct {
	secretFile string
	mode       string
	randChars  string
	now        string
}

func (f *dynamicFlags) add(c *cobra.Command) {
	c.Flags().StringVar(&f.secretFile, "secret-file", "", "read the key from `PATH` (default: $M2M_SECRET)")
	c.Flags().StringVar(&f.mode, "mode", "sealed", "token format: sealed (single-use, the key stays secret) or compat (dynamic-token 0.1.7)")
	c.Flags().StringVar(&f.randChars, "rand-chars", "", "compat: separator characters (default \"%.,\"; no letters, digits or '_')")
	c.Flags().StringVar(&f.now, "now", "", "the current time, RFC 3339 or unix seconds (default: the clock)")
	refuseZero(c, map[string]string{"secret-file": "leave it out to use M2M_SECRET", "mode": "", "now": "leave it out for the clock",
		"rand-chars": "leave it out for the default \"%.,\", or give separator characters"})
}

// codec resolves the flags to a Sealed or a Compat codec.
func (f *dynamicFlags) codec(env *Env, cmd *cobra.Command) (*dynamic.Sealed, *dynamic.Compat, error) {
	now, err := ParseNow(f.now)
	if err != nil {
		return nil, nil, err
	}
	clock := func() time.Time { return now }
	if f.now == "" {
		clock = nil
	}
	switch f.mode {
	case "sealed":
		for _, name := range []string{"rand-chars", "quirks"} {
			if fl := cmd.Flags().Lookup(name); fl != nil && fl.Changed {
				return nil, nil, Usage("--%s applies to --mode compat only", name)
			}
		}
	case "compat":
		quirks := cmd.Flags().Lookup("quirks")
		if f.randChars != "" && dynamic.CrateRandChars(f.randChars) != f.randChars && (quirks == nil || quirks.Value.String() != "true") {
			return nil, nil, Usage("--rand-chars %q: want separator characters without letters, digits or '_'", f.randChars)
		}
	default:
		return nil, nil, Usage("--mode %q: want sealed or compat", f.mode)
	}
	secret, err := ReadSecret(env, f.secretFile)
	if err != nil {
		return nil, nil, err
	}
	if f.mode == "sealed" {
		if len(secret) < dynamic.MinKeyBytes {
			return nil, nil, Rejected(secretTooShort(f.secretFile, len(secret), dynamic.MinKeyBytes))
		}
		return &dynamic.Sealed{Keys: []dynamic.Key{{Secret: m2m.Secret(secret)}}, Now: clock}, nil, nil
	}
	if !utf8.Valid(secret) {
		return nil, nil, Rejected(fmt.Errorf("compat API key is not UTF-8"))
	}
	return nil, &dynamic.Compat{APIKey: m2m.Secret(secret), RandChars: f.randChars, Now: clock}, nil
}

func cmdDynamic(env *Env) *cobra.Command {
	group := &cobra.Command{
		Use:   "dynamic",
		Short: "Make and check dynamic tokens (sealed, or dynamic-token 0.1.7 compatible)",
	}

	var ef dynamicFlags
	var uuid string
	encode := &cobra.Command{
		Use:   "encode",
		Short: "Print a new dynamic token",
		Long: "Print a new dynamic token made with the key from --secret-file or $M2M_SECRET.\n" +
			"Sealed tokens (the default) carry an HMAC and are accepted once; compat tokens\n" +
			"are those of the Rust crate dynamic-token 0.1.7 and contain the key itself.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, c, err := ef.codec(env, cmd)
			if err != nil {
				return err
			}
			var tok string
			if s != nil {
				tok, err = s.Encode(uuid)
			} else {
				tok, err = c.Encode(uuid)
			}
			if err != nil {
				return Rejected(err)
			}
			fmt.Fprintln(env.Stdout, tok)
			return nil
		},
	}
	ef.add(encode)
	encode.Flags().StringVar(&uuid, "uuid", "", "user id to carry, in hex (hyphens allowed; at least 24 digits)")

	var df dynamicFlags
	var token string
	var tolerance time.Duration
	var checkUUID, quirks, asJSON bool
	decode := &cobra.Command{
		Use:   "decode",
		Short: "Check a dynamic token: exit 0 when valid, 1 when not",
		Long: "Check a dynamic token with the key from --secret-file or $M2M_SECRET and exit 0\n" +
			"when it is valid, 1 when not. --token - reads the token from standard input.\n" +
			"Sealed tokens are checked but not recorded: a one-shot command cannot see a\n" +
			"replay, which the Go verifier refuses. --json prints\n" +
			"{\"valid\", \"uuid\", \"age_ms\", \"status\"} with the crate's status keys.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if token == "" {
				return Usage("--token is required")
			}
			if token == "-" {
				b, err := io.ReadAll(io.LimitReader(env.Stdin, dynamic.MaxCompatTokenBytes+2))
				if err != nil {
					return Rejected(err)
				}
				token = strings.TrimSpace(string(b))
			}
			if tolerance < 0 {
				return Usage("--max-age %v: want 0s or more", tolerance)
			}
			if tolerance.Milliseconds() > 1<<32-1 {
				return Usage("--max-age %v: want at most 2^32-1 ms (about 49 days)", tolerance)
			}
			if cmd.Flags().Changed("max-age") && tolerance == 0 {
				// An explicit 0s means zero, not the library's default.
				tolerance = dynamic.NoTolerance
			}
			s, c, err := df.codec(env, cmd)
			if err != nil {
				return err
			}
			var r dynamic.Result
			if s != nil {
				s.Tolerance, s.RequireUUID = tolerance, checkUUID
				r = s.Decode(token)
			} else {
				c.Tolerance, c.CheckUUID, c.Quirks = tolerance, checkUUID, quirks
				// Accept is Decode that also reports a bad configuration
				// (such as --rand-chars with a letter) instead of a refusal.
				if r, err = c.Accept(context.Background(), token); err != nil {
					return Rejected(err)
				}
			}
			if asJSON {
				out := struct {
					Valid  bool           `json:"valid"`
					UUID   string         `json:"uuid"`
					AgeMS  *int64         `json:"age_ms"`
					Status dynamic.Status `json:"status"`
				}{Valid: r.Valid, UUID: r.UUID, Status: r.Status}
				if r.AgeKnown {
					out.AgeMS = &r.AgeMS
				}
				if err := PrintJSON(env.Stdout, out); err != nil {
					return err
				}
				if !r.Valid {
					return RejectedQuiet()
				}
				return nil
			}
			if !r.Valid {
				return Rejected(fmt.Errorf("dynamic token refused: %s", r.Status))
			}
			line := "valid"
			if r.UUID != "" {
				line += " uuid=" + r.UUID
			}
			if r.AgeKnown {
				line += fmt.Sprintf(" age_ms=%d", r.AgeMS)
			}
			fmt.Fprintln(env.Stdout, line)
			return nil
		},
	}
	df.add(decode)
	decode.Flags().StringVar(&token, "token", "", "the token to check (- reads standard input)")
	decode.Flags().DurationVar(&tolerance, "max-age", dynamic.DefaultTolerance, "how old (compat: or how far ahead) a token may be; 0s: only one stamped this millisecond")
	hiddenAliases(decode, map[string]string{"tolerance": "max-age"}) // README: dynamic decode --tolerance 15s
	decode.Flags().BoolVar(&checkUUID, "check-uuid", false, "require a user id in the token")
	decode.Flags().BoolVar(&quirks, "quirks", false, "compat: reproduce the crate's release build exactly, bypasses included")
	decode.Flags().BoolVar(&asJSON, "json", false, "print a JSON object")
	refuseZero(decode, map[string]string{"token": ""})

	group.AddCommand(encode, decode)
	return group
}
