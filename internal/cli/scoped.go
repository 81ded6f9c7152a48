package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/scoped"
	"github.com/m2mkit/m2m/scoped/djangosign"
)

// scopedFlags are the signing options shared by the scoped commands.
type scopedFlags struct {
	secretFile string
	algorithm  string
	salt       string
	now        string
}

func (f *scopedFlags) add(c *cobra.Command) {
	c.Flags().StringVar(&f.secretFile, "secret-file", "", "read the Django SECRET_KEY from `PATH` (default: $M2M_SECRET)")
	c.Flags().StringVar(&f.algorithm, "algorithm", "sha256", "signature hash: sha256 (Django 3.1+) or sha1 (Django 3.0 and older)")
	c.Flags().StringVar(&f.salt, "salt", "", "signing salt (default \"django.core.signing\", as drf-tmp-scoped-token)")
	c.Flags().StringVar(&f.now, "now", "", "the current time, RFC 3339 or unix seconds (default: the clock)")
	refuseZero(c, map[string]string{"secret-file": "leave it out to use M2M_SECRET", "algorithm": "", "now": "leave it out for the clock",
		"salt": "leave it out for the default \"django.core.signing\", or give a salt"})
}

func (f *scopedFlags) resolve(env *Env) (secret []byte, alg djangosign.Algorithm, clock func() time.Time, err error) {
	switch f.algorithm {
	case "sha256", "sha1":
		alg = djangosign.Algorithm(f.algorithm)
	default:
		return nil, "", nil, Usage("--algorithm %q: want sha256 or sha1", f.algorithm)
	}
	if f.now != "" {
		now, err := ParseNow(f.now)
		if err != nil {
			return nil, "", nil, err
		}
		clock = func() time.Time { return now }
	}
	secret, err = ReadSecret(env, f.secretFile)
	if err != nil {
		return nil, "", nil, err
	}
	if len(secret) == 0 {
		return nil, "", nil, Usage("the secret is empty")
	}
	return secret, alg, clock, nil
}

// scopedReadToken returns --token, or standard input for "-".
func scopedReadToken(env *Env, token string) (string, error) {
	switch token {
	case "":
		return "", Usage("--token is required")
	case "-":
		b, err := io.ReadAll(io.LimitReader(env.Stdin, djangosign.DefaultMaxTokenBytes+2))
		if err != nil {
			return "", Rejected(err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return token, nil
}

func cmdScoped(env *Env) *cobra.Command {
	group := &cobra.Command{
		Use:   "scoped",
		Short: "Issue and check scoped temporary tokens (drf-tmp-scoped-token, Django signing)",
		Long: "Scoped tokens name a user, the methods and path prefixes they allow, a\n" +
			"lifetime and a recipient, signed with Django's signing.dumps. They are\n" +
			"signed, not encrypted: anyone holding one can read it (see inspect).",
	}
	group.AddCommand(scopedIssueCmd(env), scopedVerifyCmd(env), scopedInspectCmd(env))
	return group
}

func scopedIssueCmd(env *Env) *cobra.Command {
	var f scopedFlags
	var user, recipient string
	var allows []string
	var ttl time.Duration
	c := &cobra.Command{
		Use:   "issue",
		Short: "Print a new scoped token",
		Long: "Print a token drf-tmp-scoped-token accepts, signed with the Django SECRET_KEY\n" +
			"from --secret-file or $M2M_SECRET. --user is written as a JSON number when it\n" +
			"is an integer (a Django user id) and as a string otherwise; endpoints keep the\n" +
			"order of the --allow flags, grouped by method, and prefixes are normalised\n" +
			"with Django's iri_to_uri. The same inputs give the token drf gives.",
		Example: "  m2m scoped issue --secret-file django.key --user 42 --allow GET:/api/v1/projects/ --ttl 5m",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if user == "" {
				return Usage("--user is required")
			}
			if len(allows) == 0 {
				return Usage("at least one --allow METHOD:PREFIX is required")
			}
			t := scoped.Token{User: scoped.UserFromString(user), MaxAge: ttl}
			if ttl < time.Second || ttl > scoped.DefaultMaxMaxAge || ttl%time.Second != 0 {
				return Usage("--ttl %v: want whole seconds from 1s to %v", ttl, scoped.DefaultMaxMaxAge)
			}
			for _, a := range allows {
				e, err := scoped.ParseEndpoint(a)
				if err != nil {
					return Usage("--allow %q: want METHOD:PREFIX with a method of %s and a prefix beginning with /", a, strings.Join(scoped.Methods, " "))
				}
				t.Endpoints = append(t.Endpoints, e)
			}
			if cmd.Flags().Changed("recipient") {
				t.Recipient = &recipient
			}
			secret, alg, clock, err := f.resolve(env)
			if err != nil {
				return err
			}
			iss := &scoped.Issuer{Secret: secret, Algorithm: alg, Salt: f.salt, Now: clock}
			tok, err := iss.Issue(t)
			if err != nil {
				return Rejected(err)
			}
			fmt.Fprintln(env.Stdout, tok)
			return nil
		},
	}
	f.add(c)
	c.Flags().StringVar(&user, "user", "", "the user: a Django user id (written as a number) or a name")
	c.Flags().StringArrayVar(&allows, "allow", nil, "grant `METHOD:PREFIX` (repeatable)")
	durationVar(c.Flags(), &ttl, "ttl", scoped.DefaultMaxAge, wholeSeconds, "token lifetime (its max_age), whole seconds")
	hiddenAliases(c, map[string]string{"max-age": "ttl"}) // README: scoped issue --max-age 360
	c.Flags().StringVar(&recipient, "recipient", "", "who the token is for (free text; given empty, written as \"\")")
	refuseZero(c, map[string]string{"user": "", "allow": "", "ttl": "give a lifetime of 1s or more"})
	return c
}

func scopedVerifyCmd(env *Env) *cobra.Command {
	var f scopedFlags
	var token, method, path string
	var maxAgeFlag time.Duration
	var raw, legacy, asJSON bool
	c := &cobra.Command{
		Use:   "verify",
		Short: "Check a scoped token: exit 0 when valid (and allowed), 1 when not",
		Long: "Check a scoped token with the SECRET_KEY from --secret-file or $M2M_SECRET:\n" +
			"signature, lifetime (a token whose age equals max_age is still valid; one\n" +
			"dated more than 30 s in the future is not) and structure, and with --method\n" +
			"and --path that it allows that request (path-segment prefixes). --json prints\n" +
			"the payload, or {\"error\", \"reason\"}.\n\n" +
			"--raw checks any Django-signed value as signing.loads(token, key, salt,\n" +
			"max_age) does (no max_age check without --max-age; future timestamps pass)\n" +
			"and prints its JSON; --json wraps it as {\"value\": ...} or gives\n" +
			"{\"error\": <Django exception class>, \"message\": <its text>}.",
		Example: "  m2m scoped verify --secret-file django.key --token \"$T\" --method GET --path /api/v1/projects/7\n" +
			"  m2m scoped verify --raw --secret-file django.key --token \"$T\" --max-age 60 --legacy-sha1",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			tok, err := scopedReadToken(env, token)
			if err != nil {
				return err
			}
			if (method == "") != (path == "") {
				return Usage("--method and --path go together")
			}
			if raw && method != "" {
				return Usage("--method and --path do not apply to --raw")
			}
			if !raw && cmd.Flags().Changed("max-age") {
				return Usage("--max-age applies to --raw only (a scoped token carries its own)")
			}
			maxAge := djangosign.NoMaxAge
			if cmd.Flags().Changed("max-age") {
				// An explicit 0s means zero: only a token signed this second.
				if maxAgeFlag < 0 {
					return Usage("--max-age %v: want 0s or more", maxAgeFlag)
				}
				maxAge = maxAgeFlag.Seconds()
			}
			secret, alg, clock, err := f.resolve(env)
			if err != nil {
				return err
			}
			if raw {
				s := &djangosign.Signer{Key: secret, Salt: f.salt, Algorithm: alg, LegacySHA1: legacy, Now: clock}
				return scopedPrintRaw(env, s, tok, maxAge, asJSON)
			}
			v := &scoped.Verifier{Secret: secret, Salt: f.salt, Algorithm: alg, LegacySHA1: legacy, Now: clock}
			t, err := v.ParseToken(context.Background(), tok)
			if err == nil && method != "" && !v.Allows(t, strings.ToUpper(method), path) {
				err = m2m.Invalid(m2m.SchemeScoped, m2m.ReasonForbidden, scoped.MsgNotPermitted)
			}
			if err != nil {
				if asJSON {
					desc, reason := err.Error(), m2m.ReasonOf(err)
					var ce *m2m.CredentialError
					if errors.As(err, &ce) {
						desc = ce.Description
					}
					_ = PrintJSON(env.Stdout, map[string]string{"error": desc, "reason": string(reason)})
					return RejectedQuiet()
				}
				return Rejected(err)
			}
			if asJSON {
				b, err := t.MarshalJSON()
				if err != nil {
					return Rejected(err)
				}
				fmt.Fprintf(env.Stdout, "%s\n", b)
				return nil
			}
			eps := make([]string, len(t.Endpoints))
			for i, e := range t.Endpoints {
				eps[i] = e.String()
			}
			fmt.Fprintf(env.Stdout, "valid user=%v expires=%s endpoints=%s\n", t.User, t.ExpiresAt().UTC().Format(time.RFC3339), strings.Join(eps, ","))
			return nil
		},
	}
	f.add(c)
	c.Flags().StringVar(&token, "token", "", "the token (- reads standard input)")
	c.Flags().StringVar(&method, "method", "", "check that the token allows this HTTP `METHOD`...")
	c.Flags().StringVar(&path, "path", "", "...on this (decoded) request `PATH`")
	c.Flags().BoolVar(&raw, "raw", false, "verify any Django-signed value (signing.loads) and print its JSON")
	durationVar(c.Flags(), &maxAgeFlag, "max-age", 0, fractionSeconds, "--raw: maximum age (default: no limit)")
	c.Flags().BoolVar(&legacy, "legacy-sha1", false, "also accept SHA-1 signatures (as Django 3.1/3.2 do)")
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON object")
	refuseZero(c, map[string]string{"token": "", "method": "leave --method and --path out to check only the token", "path": "leave --method and --path out to check only the token"})
	return c
}

func scopedPrintRaw(env *Env, s *djangosign.Signer, tok string, maxAge float64, asJSON bool) error {
	out, err := s.Loads(tok, maxAge)
	if err != nil {
		var de *djangosign.Error
		if !errors.As(err, &de) {
			return Rejected(err)
		}
		if asJSON {
			msg := de.DjangoMessage()
			if msg == "" {
				msg = strings.TrimPrefix(de.Error(), "djangosign: ")
			}
			_ = PrintJSON(env.Stdout, map[string]string{"error": de.Class, "message": msg})
			return RejectedQuiet()
		}
		return Rejected(err)
	}
	if asJSON {
		fmt.Fprintf(env.Stdout, "{\"value\":%s}\n", out)
		return nil
	}
	fmt.Fprintf(env.Stdout, "%s\n", out)
	return nil
}

func scopedInspectCmd(env *Env) *cobra.Command {
	var token string
	c := &cobra.Command{
		Use:   "inspect",
		Short: "Decode a scoped (or any Django-signed) token WITHOUT verifying it",
		Long: "Decode a token without checking its signature and print\n" +
			"{\"verified\": false, \"payload\", \"issued_at\", \"timestamp\", \"compressed\",\n" +
			"\"algorithm\"}. The payload is signed, not encrypted: anyone who holds a token\n" +
			"can read it. Nothing printed here has been checked.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			tok, err := scopedReadToken(env, token)
			if err != nil {
				return err
			}
			in, err := djangosign.Inspect(tok)
			if err != nil {
				return Rejected(err)
			}
			out := struct {
				Verified   bool            `json:"verified"`
				Note       string          `json:"note"`
				Payload    json.RawMessage `json:"payload"`
				Timestamp  json.Number     `json:"timestamp"`
				IssuedAt   string          `json:"issued_at,omitempty"`
				Compressed bool            `json:"compressed"`
				Algorithm  string          `json:"algorithm,omitempty"`
			}{Note: "signature NOT verified", Timestamp: json.Number(in.Timestamp.String()), Compressed: in.Compressed, Algorithm: string(in.Algorithm)}
			if json.Valid(in.Payload) {
				out.Payload = in.Payload
			} else {
				b, _ := json.Marshal(string(in.Payload)) // NaN/Infinity: give the Python text as a string
				out.Payload = b
			}
			if in.Timestamp.IsInt64() && math.Abs(float64(in.Timestamp.Int64())) < 1e11 {
				out.IssuedAt = time.Unix(in.Timestamp.Int64(), 0).UTC().Format(time.RFC3339)
			}
			return PrintJSON(env.Stdout, out)
		},
	}
	c.Flags().StringVar(&token, "token", "", "the token (- reads standard input)")
	refuseZero(c, map[string]string{"token": ""})
	return c
}
