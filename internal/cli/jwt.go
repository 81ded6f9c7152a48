package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/internal/redact"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/secretfile"
)

func cmdJWT(env *Env) *cobra.Command {
	c := &cobra.Command{
		Use:   "jwt",
		Short: "Issue and verify JWTs (HS256 device tokens)",
		Long: "Issue and verify JSON Web Tokens signed with a shared secret (HS256, HS384,\n" +
			"HS512), PyJWT-compatible. The secret comes from --secret-file PATH (a secret\n" +
			"file as made by \"m2m secret init\"; its fallbacks in PATH.prev also verify) or\n" +
			"from $M2M_SECRET (its UTF-8 bytes), never from a flag.",
	}
	c.AddCommand(jwtIssueCmd(env), jwtVerifyCmd(env))
	return c
}

// jwtSecrets returns the HMAC secrets, current first: a secret file's
// secret and fallbacks, or $M2M_SECRET.
func jwtSecrets(env *Env, path string) ([]m2m.Secret, error) {
	if path != "" {
		keys, err := secretfile.Load(path, 0)
		if err != nil {
			return nil, Rejected(err)
		}
		return keys.All(), nil
	}
	if v, ok := env.Lookup("M2M_SECRET"); ok && v != "" {
		return []m2m.Secret{m2m.Secret(v)}, nil
	}
	return nil, Usage("no secret: give --secret-file PATH or set M2M_SECRET")
}

func clockFlag(s string) (func() time.Time, error) {
	if s == "" {
		return nil, nil
	}
	now, err := ParseNow(s)
	if err != nil {
		return nil, err
	}
	return func() time.Time { return now }, nil
}

func jwtIssueCmd(env *Env) *cobra.Command {
	var (
		secretFile, sub, alg, iss, aud, now string
		ttl                                 time.Duration
		noIat, asJSON                       bool
	)
	c := &cobra.Command{
		Use:   "issue",
		Short: "Print a device token {sub, exp, iat} signed with the secret",
		Long: "Print a token {\"sub\", \"exp\", \"iat\"} (plus \"iss\"/\"aud\" when given) valid for\n" +
			"--ttl, signed with the current secret of --secret-file or with $M2M_SECRET (at\n" +
			"least 32 bytes). --json prints {\"token\", \"expires_at\"}.",
		Example: "  m2m jwt issue --secret-file secret.bin --subject phone-app --ttl 15m",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if sub == "" {
				return Usage("--subject is required")
			}
			if ttl < time.Second {
				return Usage("--ttl %v: want at least 1s", ttl)
			}
			if alg != "HS256" && alg != "HS384" && alg != "HS512" {
				return Usage("--algorithm %q: want HS256, HS384 or HS512", alg)
			}
			clock, err := clockFlag(now)
			if err != nil {
				return err
			}
			secrets, err := jwtSecrets(env, secretFile)
			if err != nil {
				return err
			}
			if len(secrets[0]) < jwtauth.MinKeyBytes {
				return Rejected(secretTooShort(secretFile, len(secrets[0]), jwtauth.MinKeyBytes))
			}
			d := &jwtauth.DeviceTokens{Keys: secrets[:1], Algorithm: alg, TTL: ttl, Issuer: iss, Audience: aud,
				OmitIssuedAt: noIat, Now: clock}
			tok, err := d.Issue(sub)
			if err != nil {
				return Rejected(err)
			}
			if asJSON {
				start := time.Now()
				if clock != nil {
					start = clock()
				}
				exp := time.Unix(start.Unix(), 0).Add(ttl.Truncate(time.Second)).UTC()
				return PrintJSON(env.Stdout, map[string]string{"token": tok, "expires_at": exp.Format(time.RFC3339)})
			}
			fmt.Fprintln(env.Stdout, tok)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&secretFile, "secret-file", "", "read the secret from the secret file `PATH` (default: $M2M_SECRET)")
	f.StringVar(&sub, "subject", "", "the subject claim sub (user or device name)")
	f.DurationVar(&ttl, "ttl", jwtauth.DefaultTTL, "token lifetime")
	f.StringVar(&alg, "algorithm", "HS256", "HS256, HS384 or HS512")
	f.StringVar(&iss, "issuer", "", "issuer claim iss to include")
	f.StringVar(&aud, "audience", "", "audience claim aud to include")
	f.BoolVar(&noIat, "no-iat", false, "leave out iat ({sub, exp} exactly as the microdot recipe)")
	f.StringVar(&now, "now", "", "the current time, RFC 3339 or unix seconds (default: the clock)")
	f.BoolVar(&asJSON, "json", false, "print a JSON object")
	// docs/device.md, docs/cli.md: jwt issue --sub, --alg, --iss, --aud.
	hiddenAliases(c, map[string]string{"sub": "subject", "alg": "algorithm", "iss": "issuer", "aud": "audience"})
	refuseZero(c, map[string]string{"secret-file": "leave it out to use M2M_SECRET", "algorithm": "", "now": "leave it out for the clock",
		"ttl": "give a lifetime of 1s or more", "subject": ""})
	return c
}

// jwtVerifyFlags are the options of "jwt verify".
type jwtVerifyFlags struct {
	token, secretFile, iss, now string
	jwks, profile               string
	algs, aud, scopes, clients  []string
	leeway                      time.Duration
	allowNoExp, asJSON          bool
	allowHighS                  bool
}

// config builds the verification policy and key source from the flags.
// It is the one place that decides how tokens are verified, so that new
// key sources (a JWKS for asymmetric tokens) plug in here.
func (f *jwtVerifyFlags) config(env *Env, cmd *cobra.Command) (*jwtauth.Validator, jwtauth.KeySource, error) {
	if f.leeway < 0 {
		return nil, nil, Usage("--leeway %v: want 0 or more", f.leeway)
	}
	clock, err := clockFlag(f.now)
	if err != nil {
		return nil, nil, err
	}
	v := &jwtauth.Validator{
		Algorithms:                 f.algs,
		Issuer:                     f.iss,
		SkipIssuerCheck:            f.iss == "",
		Audience:                   f.aud,
		SkipAudienceCheck:          len(f.aud) == 0,
		InsecureAllowMissingExpiry: f.allowNoExp,
		Leeway:                     f.leeway,
		Now:                        clock,
	}
	if f.leeway == 0 {
		v.Leeway = jwtauth.NoLeeway
	}
	for _, a := range f.algs {
		if a != "HS256" && a != "HS384" && a != "HS512" {
			return nil, nil, Usage("--algorithm %q: want HS256, HS384 or HS512", a)
		}
	}
	secrets, err := jwtSecrets(env, f.secretFile)
	if err != nil {
		return nil, nil, err
	}
	return v, jwtauth.Secrets(secrets...), nil
}

func jwtVerifyCmd(env *Env) *cobra.Command {
	var f jwtVerifyFlags
	c := &cobra.Command{
		Use:   "verify",
		Short: "Check a token: exit 0 and print its claims when valid, 1 when not",
		Long: "Check a token's algorithm, signature (current secret and fallbacks) and claims:\n" +
			"exp is required, nbf/iat must not be in the future (both with --leeway), iss\n" +
			"and aud must match --issuer and --audience when given; without --audience a\n" +
			"token that names an audience is refused. Exit 0 when valid, 1 when not. --token - reads standard input.\n" +
			"--json prints the claims, or {\"error\": reason, \"error_description\": ...}.\n\n" +
			"With --jwks the token is checked by jwtauth.AccessTokens, the verifier of the API\n" +
			"middleware, so the answer and its reason code are the API's: --issuer and\n" +
			"--audience are required, --profile rfc9068 requires typ at+jwt and the claims\n" +
			"sub, client_id, iat and jti, --require-scope and --allow-client refuse a token\n" +
			"as RequiredScopes (insufficient_scope) and AllowedClients (forbidden) do.",
		Example: "  m2m jwt verify --secret-file secret.bin --token \"$TOKEN\" --json\n" +
			"  m2m jwt verify --jwks https://auth.example.com/.well-known/jwks.json --issuer https://auth.example.com \\\n" +
			"      --audience https://api.example.com --profile rfc9068 --require-scope invoices:read --token - --json",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			tok, err := readToken(env, f.token)
			if err != nil {
				return err
			}
			var (
				claims    *jwtauth.Claims
				extra     string
				verifyErr error
			)
			if f.jwks != "" {
				v, err := f.jwksVerifier(cmd)
				if err != nil {
					return err
				}
				var vt *jwtauth.VerifiedToken
				if vt, verifyErr = v.VerifyToken(context.Background(), tok); verifyErr == nil {
					claims = vt.Claims
					extra = fmt.Sprintf(" client_id=%q scope=%q", vt.ClientID, strings.Join(vt.Scopes, " "))
				}
			} else {
				for _, name := range []string{"profile", "require-scope", "allow-client", "allow-high-s"} {
					if cmd.Flags().Changed(name) {
						return Usage("--%s applies to --jwks only", name)
					}
				}
				v, keys, err := f.config(env, cmd)
				if err != nil {
					return err
				}
				claims, verifyErr = v.Verify(context.Background(), tok, keys)
			}
			if err := verifyErr; err != nil {
				var ce *m2m.CredentialError
				if !errors.As(err, &ce) {
					return Rejected(err)
				}
				if f.asJSON {
					if err := PrintJSON(env.Stdout, map[string]string{"error": string(ce.Reason), "error_description": ce.Description}); err != nil {
						return err
					}
					return RejectedQuiet()
				}
				return Rejected(fmt.Errorf("refused: %s: %s", ce.Reason, ce.Description))
			}
			if f.asJSON {
				return PrintJSON(env.Stdout, claims.Raw)
			}
			exp := "none"
			if !claims.ExpiresAt.IsZero() {
				exp = claims.ExpiresAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(env.Stdout, "valid sub=%q exp=%s%s\n", claims.Subject, exp, extra)
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.token, "token", "", "the token, or - to read it from standard input")
	fl.StringVar(&f.jwks, "jwks", "", "verify with the public keys of a JWKS, JWK or PEM `FILE_OR_URL` (asymmetric tokens; --algorithm then defaults to ES256,EdDSA,RS256)")
	fl.StringVar(&f.secretFile, "secret-file", "", "read the secret from the secret file `PATH` (default: $M2M_SECRET)")
	fl.StringSliceVar(&f.algs, "algorithm", []string{"HS256"}, "allowed algorithms, comma-separated or repeated (HS256, HS384, HS512)")
	fl.StringVar(&f.iss, "issuer", "", "required issuer iss (default: any)")
	fl.StringArrayVar(&f.aud, "audience", nil, "accepted audience aud (repeatable; default: tokens without aud)")
	fl.DurationVar(&f.leeway, "leeway", jwtauth.DefaultLeeway, "allowed clock skew for exp, nbf and iat")
	fl.BoolVar(&f.allowNoExp, "allow-no-exp", false, "accept tokens without exp (insecure; PyJWT's default)")
	fl.StringVar(&f.now, "now", "", "the current time, RFC 3339 or unix seconds (default: the clock)")
	fl.StringVar(&f.profile, "profile", "generic", "--jwks: the token profile the API requires: rfc9068 (typ at+jwt; sub, client_id, iat and jti required), auth0 or generic")
	fl.StringArrayVar(&f.scopes, "require-scope", nil, "--jwks: a scope the token must grant, as the API's RequiredScopes (repeatable, or space-separated)")
	fl.BoolVar(&f.allowHighS, "allow-high-s", false, "--jwks: accept high-S ECDSA signatures, as the API's AllowHighS (for an issuer whose signer does not normalize s; m2m's signer always does)")
	fl.StringArrayVar(&f.clients, "allow-client", nil, "--jwks: a client id whose tokens are accepted, as the API's AllowedClients (repeatable; default: any)")
	// docs/verifying.md, docs/cli.md: jwt verify --iss, --aud, --alg.
	hiddenAliases(c, map[string]string{"iss": "issuer", "aud": "audience", "alg": "algorithm"})
	fl.BoolVar(&f.asJSON, "json", false, "print a JSON object")
	refuseZero(c, map[string]string{"token": "", "jwks": "", "secret-file": "leave it out to use M2M_SECRET", "algorithm": "",
		"issuer": "leave it out to accept any issuer", "audience": "leave it out to accept only tokens without aud", "now": "leave it out for the clock",
		"profile": "", "require-scope": "leave it out to require no scope", "allow-client": "leave it out to accept any client"})
	return c
}

// readToken returns --token, or one line of stdin for "-".
func readToken(env *Env, flag string) (string, error) {
	switch flag {
	case "":
		return "", Usage("--token is required")
	case "-":
		b, err := io.ReadAll(io.LimitReader(env.Stdin, jwtauth.DefaultMaxTokenBytes+2))
		if err != nil {
			return "", Rejected(fmt.Errorf("reading the token: %w", err))
		}
		return strings.TrimSpace(string(b)), nil
	}
	return flag, nil
}

// jwksVerifier is the verifier of --jwks: jwtauth.AccessTokens, the very
// verifier the API middleware uses, on public keys from a file or URL,
// so that the command answers a token as the API it stands for does
// (same checks, same reason codes). Like the middleware it needs the
// issuer and the audience.
func (f *jwtVerifyFlags) jwksVerifier(cmd *cobra.Command) (*jwtauth.AccessTokens, error) {
	var problems []string
	if f.secretFile != "" {
		problems = append(problems, "give --jwks or --secret-file, not both")
	}
	if f.iss == "" {
		problems = append(problems, "--jwks needs --issuer (the API requires it)")
	}
	if len(f.aud) == 0 {
		problems = append(problems, "--jwks needs --audience (the API requires it)")
	}
	if f.allowNoExp {
		problems = append(problems, "--allow-no-exp does not apply to --jwks (the API requires exp)")
	}
	if f.leeway < 0 {
		problems = append(problems, fmt.Sprintf("--leeway %v: want 0s or more", f.leeway))
	}
	algs := f.algs
	if !cmd.Flags().Changed("algorithm") {
		algs = []string{"ES256", "EdDSA", "RS256"}
	}
	for _, a := range algs {
		if strings.HasPrefix(a, "HS") || strings.EqualFold(a, "none") {
			problems = append(problems, fmt.Sprintf("--algorithm %q: with --jwks, want ES256, ES384, ES512, EdDSA, RS256, RS384, RS512, PS256, PS384 or PS512", a))
		}
	}
	profile, ok := jwksProfiles[f.profile]
	if !ok {
		problems = append(problems, fmt.Sprintf("--profile %q: want rfc9068, auth0 or generic", f.profile))
	}
	scopes, err := scopeFlag("require-scope", f.scopes)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return nil, Usage("%s", strings.Join(problems, "; "))
	}
	clock, err := clockFlag(f.now)
	if err != nil {
		return nil, err
	}
	ks, err := jwk.Open(f.jwks)
	if err != nil {
		return nil, Rejected(redact.Error(err, f.jwks))
	}
	leeway := f.leeway
	if leeway == 0 {
		leeway = jwtauth.NoLeeway // an explicit 0s is none, not the default
	}
	v, err := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer: f.iss, Audiences: f.aud, Algorithms: algs, Keys: ks, Leeway: leeway,
		RequiredScopes: scopes, AllowedClients: f.clients, Profile: profile,
		CacheSize: -1, Now: clock, AllowHighS: f.allowHighS,
	})
	if err != nil {
		return nil, Rejected(err)
	}
	return v, nil
}

// jwksProfiles are the --profile values of jwt verify --jwks.
var jwksProfiles = map[string]jwtauth.Profile{
	"generic": jwtauth.ProfileGeneric,
	"rfc9068": jwtauth.ProfileRFC9068,
	"auth0":   jwtauth.ProfileAuth0,
}
