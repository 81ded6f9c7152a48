package cli

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/spf13/cobra"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/rolling"
)

// rollingFlags are the options shared by rolling generate and verify.
type rollingFlags struct {
	secretFile string
	mode       string
	ttl        time.Duration
	alphabet   string
	length     int
	algorithm  string
	utcOffset  time.Duration
	now        string
}

func (f *rollingFlags) add(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVar(&f.secretFile, "secret-file", "", "read the seed from `PATH` (default: $M2M_SECRET)")
	fl.StringVar(&f.mode, "mode", "hmac", "code algorithm: hmac (secure default), totp (RFC 6238) or m2m_token (m2m-token 0.0.2)")
	durationVar(fl, &f.ttl, "ttl", 0, wholeSeconds, "step length, whole seconds (hmac, totp: default 30s; m2m_token: required)")
	fl.StringVar(&f.alphabet, "alphabet", "", "code characters (default: hmac and m2m_token ascii letters + digits; totp digits)")
	fl.IntVar(&f.length, "length", 0, "code length in characters (default: hmac 12, totp 6, m2m_token 6)")
	fl.StringVar(&f.algorithm, "algorithm", "", "hmac, totp: sha1, sha256 or sha512 (default: hmac sha256, totp sha1)")
	durationVar(fl, &f.utcOffset, "utc-offset", 0, wholeSeconds, "m2m_token: the generating host's UTC offset east, whole seconds (-4h, 5h30m; default 0s)")
	fl.StringVar(&f.now, "now", "", "the current time, RFC 3339 or unix seconds (default: the clock)")
	refuseZero(c, map[string]string{"secret-file": "leave it out to use M2M_SECRET", "mode": "", "now": "leave it out for the clock",
		"algorithm": ""})
}

// codec resolves the flags to a rolling.Codec. Flags that do not apply to
// the mode are usage errors; invalid parameters are rejections (exit 1),
// as the original m2m_token refuses them with ConfigError.
func (f *rollingFlags) codec(env *Env, cmd *cobra.Command) (rolling.Codec, time.Time, error) {
	changed := func(name string) bool { return cmd.Flags().Changed(name) }
	now, err := ParseNow(f.now)
	if err != nil {
		return nil, time.Time{}, err
	}
	switch f.mode {
	case "hmac", "totp":
		if changed("utc-offset") {
			return nil, now, Usage("--utc-offset applies to --mode m2m_token only")
		}
	case "m2m_token":
		if changed("algorithm") {
			return nil, now, Usage("--algorithm applies to --mode hmac and totp only")
		}
	default:
		return nil, now, Usage("--mode %q: want hmac, totp or m2m_token", f.mode)
	}
	secret, err := ReadSecret(env, f.secretFile)
	if err != nil {
		return nil, now, err
	}
	if f.mode == "m2m_token" {
		if f.utcOffset%time.Second != 0 {
			return nil, now, Rejected(&rolling.ConfigError{Name: "utc_offset", Reason: "not a whole number of seconds"})
		}
		ttl := int(min(f.ttl/time.Second, math.MaxInt32))
		if f.ttl%time.Second != 0 {
			ttl = -1 // not a whole number of seconds: refused as ttl, in the original's order
		}
		m := &rolling.M2MToken{
			Seed: string(secret), TTL: ttl, UTCOffset: int(f.utcOffset / time.Second), Explicit: true,
			Sequence: rolling.DefaultSequence, TokenLen: rolling.DefaultTokenLen,
		}
		if changed("alphabet") {
			m.Sequence = f.alphabet
		}
		if changed("length") {
			m.TokenLen = f.length
		}
		if err := m.Validate(); err != nil {
			return nil, now, Rejected(err)
		}
		return m, now, nil
	}
	cfg := rolling.Config{Algorithm: rolling.Algorithm(f.algorithm), Alphabet: f.alphabet, Length: f.length}
	if f.mode == "totp" {
		cfg = rolling.TOTP()
		if changed("algorithm") {
			cfg.Algorithm = rolling.Algorithm(f.algorithm)
		}
		if changed("alphabet") {
			cfg.Alphabet = f.alphabet
		}
		if changed("length") {
			cfg.Length = f.length
		}
	}
	if changed("ttl") {
		if f.ttl < time.Second || f.ttl%time.Second != 0 {
			return nil, now, Rejected(&rolling.ConfigError{Name: "ttl", Reason: "must be a positive whole number of seconds"})
		}
		cfg.Period = f.ttl
	}
	// The library reads zero values as defaults; on the command line an
	// explicit empty alphabet or zero length is an error.
	if changed("alphabet") && f.alphabet == "" {
		return nil, now, Rejected(&rolling.ConfigError{Name: "alphabet", Reason: "empty"})
	}
	if changed("length") && f.length == 0 {
		return nil, now, Rejected(&rolling.ConfigError{Name: "length", Reason: "0 out of range 1..64"})
	}
	h, err := rolling.NewHMAC(secret, cfg)
	if err != nil {
		return nil, now, Rejected(err)
	}
	return h, now, nil
}

// rollingResult is the --json output of rolling verify.
type rollingResult struct {
	Valid     bool    `json:"valid"`
	Step      *int64  `json:"step"`
	Offset    *int    `json:"offset,omitempty"`
	Reason    *string `json:"reason"`
	Parameter string  `json:"parameter,omitempty"`
}

func cmdRolling(env *Env) *cobra.Command {
	group := &cobra.Command{
		Use:   "rolling",
		Short: "Make and check rolling codes (HMAC, RFC 6238 TOTP, or m2m-token 0.0.2 compatible)",
	}

	var gf rollingFlags
	generate := &cobra.Command{
		Use:   "generate",
		Short: "Print the current rolling code",
		Long: "Print the rolling code valid now (or at --now) for the seed in --secret-file or\n" +
			"$M2M_SECRET (its bytes; for m2m_token the seed string's UTF-8 bytes).\n" +
			"--mode hmac (default) is an HMAC-SHA-256 code of 12 letters and digits; totp is\n" +
			"RFC 6238 (SHA-1, 6 digits); m2m_token is the Python m2m-token 0.0.2 code.\n" +
			"Invalid parameters exit 1 naming the parameter.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, now, err := gf.codec(env, cmd)
			if err != nil {
				return err
			}
			code, err := c.Generate(now)
			if err != nil {
				return Rejected(err)
			}
			fmt.Fprintln(env.Stdout, code)
			return nil
		},
	}
	gf.add(generate)

	var vf rollingFlags
	var code string
	var window int
	var asJSON bool
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check a rolling code: exit 0 when valid, 1 when not",
		Long: "Check --code against the codes valid now (or at --now), --window steps either\n" +
			"side (m2m_token: both half-second phases of the bucket, and the previous bucket\n" +
			"when --window is at least 1). The comparison takes constant time. A one-shot\n" +
			"command cannot see a replay, which the Go Verifier refuses. --json prints\n" +
			"{\"valid\", \"step\", \"reason\"} (with \"parameter\" for an invalid parameter).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if window < 0 {
				return Usage("--window must not be negative")
			}
			reject := func(reason m2m.Reason, param string, err error) error {
				if !asJSON {
					return Rejected(err)
				}
				r := string(reason)
				if err := PrintJSON(env.Stdout, rollingResult{Reason: &r, Parameter: param}); err != nil {
					return err
				}
				return RejectedQuiet()
			}
			c, now, err := vf.codec(env, cmd)
			if err != nil {
				var ee *ExitError
				var ce *rolling.ConfigError
				if errors.As(err, &ee) && ee.Code == 1 && errors.As(err, &ce) {
					return reject("invalid_parameter", ce.Name, err)
				}
				return err
			}
			if window > rolling.MaxWindow {
				return reject("invalid_parameter", "window", &rolling.ConfigError{Name: "window",
					Reason: fmt.Sprintf("%d above %d", window, rolling.MaxWindow)})
			}
			if c.Entropy() < rolling.WeakBits {
				fmt.Fprintf(env.Stderr, "m2m: warning: codes of %.0f bits can be guessed without the replay protection and throttling of the Go Verifier\n", c.Entropy())
			}
			m, err := c.Match(code, now, window)
			switch {
			case errors.Is(err, rolling.ErrNoMatch):
				return reject(m2m.ReasonBadCredentials, "", errors.New("rolling: invalid or expired code"))
			case err != nil:
				return Rejected(err)
			}
			if asJSON {
				return PrintJSON(env.Stdout, rollingResult{Valid: true, Step: &m.Step, Offset: &m.Offset})
			}
			fmt.Fprintf(env.Stdout, "valid step=%d offset=%d\n", m.Step, m.Offset)
			return nil
		},
	}
	vf.add(verify)
	verify.Flags().StringVar(&code, "code", "", "the code to check")
	verify.Flags().IntVar(&window, "window", rolling.DefaultWindow, "steps accepted either side of the current one")
	verify.Flags().BoolVar(&asJSON, "json", false, "print a JSON object")
	refuseZero(verify, map[string]string{"code": ""})

	group.AddCommand(generate, verify)
	return group
}
