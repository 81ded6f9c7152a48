package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/m2mkit/m2m/clientcred"
	"github.com/m2mkit/m2m/internal/redact"
)

// clientCredFlags are the options shared by "m2m token" and "m2m
// request": where to get a token and for what. The client id and secret
// come from $M2M_CLIENT_ID and $M2M_CLIENT_SECRET or from
// --credentials-file, never from flags.
type clientCredFlags struct {
	tokenURL, issuer, domain, audience string
	scopes                             []string
	credsFile, auth                    string
	dpopKey                            string
	clientCert, clientKey, serverCA    string
	// clientID is --client-id of "m2m request" ("m2m token" has it
	// among its assertion flags).
	clientID string
	retries  int
	timeout  time.Duration
	// assertion, when set ("m2m token"), may replace the secret with a
	// signed JWT.
	assertion *assertionFlags

	// Set by config: the transport that trusts --server-ca (nil: the
	// system's roots), and the --client-cert pair.
	base *http.Transport
	cert *clientcred.ClientCertificate
}

func (f *clientCredFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.tokenURL, "token-url", "", "token endpoint URL (default $M2M_TOKEN_URL)")
	fs.StringVar(&f.issuer, "issuer", "", "issuer URL; the token endpoint is discovered (RFC 8414 / OpenID Connect) (default $M2M_ISSUER)")
	fs.StringVar(&f.domain, "domain", "", "Auth0 domain; the token endpoint is https://DOMAIN/oauth/token (default $M2M_DOMAIN)")
	fs.StringVar(&f.audience, "audience", "", "the API the token is for (default $M2M_AUDIENCE)")
	fs.StringArrayVar(&f.scopes, "scope", nil, "scope to request (repeatable, or space-separated)")
	fs.StringVar(&f.credsFile, "credentials-file", "", "read client_id and client_secret from the JSON file `PATH` (as printed by \"m2m client create --json\")")
	fs.StringVar(&f.auth, "auth", "post", "client authentication: post (form body), basic (HTTP Basic) or json (JSON body)")
	fs.IntVar(&f.retries, "retries", 3, "retries of a token request after 429, 5xx or a connection error")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "overall time limit")
	fs.StringVar(&f.clientCert, "client-cert", "", "mutual TLS (RFC 8705): present the PEM certificate chain in `FILE` (with --client-key; read again when it changes). With no secret, the client authenticates with it (tls_client_auth, self_signed_tls_client_auth)")
	fs.StringVar(&f.clientKey, "client-key", "", "the PEM private key of --client-cert in `FILE` (mode 0600)")
	fs.StringVar(&f.serverCA, "server-ca", "", "trust only the CA certificates in the PEM `FILE` for the token endpoint's and the API's TLS certificates (default: the system's roots; SSL_CERT_FILE works)")
	if f.assertion == nil {
		fs.StringVar(&f.clientID, "client-id", "", "the client `ID` (default $M2M_CLIENT_ID), for a client without a secret (--client-cert)")
	}
	fs.StringVar(&f.dpopKey, "dpop-key", "", "bind the token to the DPoP key (RFC 9449) in `FILE`, a private JWK or PKCS#8 PEM key; an ES256 key is created there (mode 0600) when it does not exist")
}

// maxCredentialsFile caps --credentials-file.
const maxCredentialsFile = 64 << 10

// config resolves the flags, the credentials file and the environment
// into a client configuration. Configuration problems are usage errors
// (exit 2), reported all at once.
func (f *clientCredFlags) config(env *Env) (clientcred.Config, error) {
	c := clientcred.Config{
		TokenURL: f.tokenURL, Issuer: f.issuer, Domain: f.domain, Audience: f.audience,
		LookupEnv: env.Lookup,
	}
	scopes, err := scopeFlag("scope", f.scopes)
	if err != nil {
		return c, err
	}
	c.Scopes = scopes
	switch f.auth {
	case "post":
		c.AuthStyle = clientcred.AuthStyleInParams
	case "basic":
		c.AuthStyle = clientcred.AuthStyleInHeader
	case "json":
		c.AuthStyle = clientcred.AuthStyleJSON
	default:
		return c, Usage("--auth %q: want post, basic or json", f.auth)
	}
	if f.retries < 0 || f.retries > 20 {
		return c, Usage("--retries %d: want 0 to 20", f.retries)
	}
	if f.timeout <= 0 {
		return c, Usage("--timeout %v: want more than 0", f.timeout)
	}
	c.Retry = clientcred.RetryPolicy{MaxAttempts: f.retries + 1, MaxElapsed: f.timeout}
	c.FetchTimeout = f.timeout
	if f.assertion != nil {
		if err := f.assertion.apply(&c, f.credsFile); err != nil {
			return c, err
		}
	}
	if f.clientID != "" {
		if f.credsFile != "" {
			return c, Usage("give --client-id or --credentials-file, not both")
		}
		c.ClientID = f.clientID
	}
	if err := f.tls(&c); err != nil {
		return c, err
	}
	if f.credsFile != "" {
		// It holds a secret: checked as a secret file (private, size
		// capped), with the fix in the error.
		b, err := readSecretFile(f.credsFile)
		if err != nil {
			return c, Rejected(fmt.Errorf("--credentials-file: %w", err))
		}
		var creds struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		}
		if len(b) > maxCredentialsFile || json.Unmarshal(b, &creds) != nil {
			return c, Usage("--credentials-file %s: want a JSON object with client_id and client_secret", f.credsFile)
		}
		c.ClientID, c.ClientSecret = creds.ClientID, creds.ClientSecret
	}
	if _, err := c.Resolve(); err != nil {
		if c.Assertion != nil {
			return c, Usage("%s", cliAssertionConfigErrors(err, f.tokenURL, f.issuer))
		}
		return c, Usage("%s", cliConfigErrors(err, f.credsFile, f.tokenURL, f.issuer))
	}
	if f.dpopKey != "" {
		key, err := clientcred.LoadDPoPKey(f.dpopKey)
		if err != nil {
			return c, Rejected(fmt.Errorf("--dpop-key: %w", err))
		}
		c.DPoP = key
	}
	return c, nil
}

// cliConfigErrors says the problems clientcred.Config.Resolve found in
// the words of the command line: the flags and environment variables the
// user sets, never the Go fields they fill (ClientID, SkipAudience, ...).
func cliConfigErrors(err error, credsFile, tokenURL, issuer string) string {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	from := "set " + clientcred.EnvClientID + " and " + clientcred.EnvClientSecret + ", or give --credentials-file PATH"
	if credsFile != "" {
		from = "--credentials-file " + credsFile + " has none (want a JSON object with client_id and client_secret)"
	}
	var msgs []string
	for _, e := range errs {
		var msg string
		switch {
		case errors.Is(e, clientcred.ErrMissingClientID):
			msg = "no client id: " + from
		case errors.Is(e, clientcred.ErrMissingClientSecret):
			msg = "no client secret: " + from + " (a mutual-TLS client gives --client-cert and --client-key instead)"
		case errors.Is(e, clientcred.ErrMissingAudience):
			msg = "no audience: give --audience or set " + clientcred.EnvAudience
		case errors.Is(e, clientcred.ErrMissingEndpoint):
			msg = "no token endpoint: give --token-url, --issuer or --domain (or set " + clientcred.EnvTokenURL + ", " + clientcred.EnvIssuer + " or " + clientcred.EnvDomain + ")"
		case errors.Is(e, clientcred.ErrConflictingEndpoint):
			msg = "give only one of --token-url, --issuer and --domain"
		default:
			// The URL and domain checks name the value: say which flag.
			msg = strings.TrimPrefix(e.Error(), "clientcred: ")
			for _, u := range []string{tokenURL, issuer} {
				if u != "" {
					msg = redact.Text(msg, u)
				}
			}
			for _, r := range [][2]string{{"token URL ", "--token-url "}, {"issuer ", "--issuer "}, {"domain ", "--domain "}} {
				if rest, ok := strings.CutPrefix(msg, r[0]); ok {
					msg = r[1] + rest
				}
			}
		}
		msgs = append(msgs, msg)
	}
	return strings.Join(msgs, "; ")
}

// cliAssertionConfigErrors is cliConfigErrors for a configuration with an
// assertion instead of a secret: the client id comes from --client-id.
func cliAssertionConfigErrors(err error, tokenURL, issuer string) string {
	msg := cliConfigErrors(err, "", tokenURL, issuer)
	return strings.ReplaceAll(msg, "no client id: set "+clientcred.EnvClientID+" and "+clientcred.EnvClientSecret+", or give --credentials-file PATH",
		"no client id: give --client-id or set "+clientcred.EnvClientID)
}

// tokenFailure reports a failed token request: a message, or with --json
// {"error", "error_description", "status", "retry_after"}; exit 1.
func tokenFailure(env *Env, err error, asJSON bool) error {
	if !asJSON {
		return Rejected(err)
	}
	out := map[string]any{"error": "request_failed", "error_description": err.Error()}
	var re *clientcred.RetrieveError
	if errors.As(err, &re) {
		out["status"] = re.StatusCode
		if re.ErrorCode != "" {
			out["error"] = re.ErrorCode
		}
		out["error_description"] = re.Description
	}
	var rl *clientcred.RateLimitError
	if errors.As(err, &rl) {
		out["retry_after"] = int64(rl.RetryAfter.Round(time.Second) / time.Second)
	}
	if err := PrintJSON(env.Stdout, out); err != nil {
		return err
	}
	return RejectedQuiet()
}

func cmdToken(env *Env) *cobra.Command {
	var (
		f      clientCredFlags
		a      assertionFlags
		asJSON bool
	)
	f.assertion = &a
	c := &cobra.Command{
		Use:   "token",
		Short: "Get an access token with the client credentials grant and print it",
		Long: "Get an access token from a token endpoint (m2m serve, Auth0 or any OAuth 2.0\n" +
			"server) with the client credentials grant, and print it. The endpoint is\n" +
			"--token-url, or discovered from --issuer, or an Auth0 --domain (or\n" +
			"$M2M_TOKEN_URL, $M2M_ISSUER, $M2M_DOMAIN); the client id and secret come from\n" +
			"$M2M_CLIENT_ID and $M2M_CLIENT_SECRET or --credentials-file, never from flags.\n" +
			"With no secret at all: --private-key FILE signs a private_key_jwt client\n" +
			"assertion for --client-id; --assertion-file FILE or --assertion-from\n" +
			"github-actions presents an external identity token that a trust policy maps\n" +
			"to a client, as a client assertion or with --grant jwt-bearer|token-exchange.\n" +
			"429, 5xx and connection errors are retried with backoff (Retry-After and\n" +
			"X-RateLimit-Reset are honoured). --json prints {\"access_token\", \"token_type\",\n" +
			"\"expires_in\", \"scope\"}. With --dpop-key the token is bound to that key\n" +
			"(token_type DPoP). With --client-cert and --client-key the request presents\n" +
			"that certificate (mutual TLS, RFC 8705): with no secret, --client-id and the\n" +
			"certificate authenticate the client (tls_client_auth), and the token is bound\n" +
			"to the certificate. Exit 1 when the server refuses, 2 on a usage error.",
		Example: "  M2M_CLIENT_ID=... M2M_CLIENT_SECRET=... m2m token --domain tenant.us.auth0.com --audience https://api.example.com\n" +
			"  m2m token --credentials-file creds.json --issuer http://127.0.0.1:8080 --audience https://api.example.com --scope read --json\n" +
			"  m2m token --credentials-file creds.json --issuer https://auth.example.com --audience https://api.example.com --dpop-key dpop-key.pem\n" +
			"  m2m token --client-id cl_... --private-key worker.pem --issuer https://auth.example.com --audience https://api.example.com\n" +
			"  m2m token --client-id worker --client-cert worker.crt --client-key worker.key --issuer https://auth.example.com --audience https://api.example.com\n" +
			"  m2m token --assertion-from github-actions --assertion-audience https://auth.example.com --issuer https://auth.example.com --audience https://api.example.com",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.printJWKS {
				if a.privateKey == "" {
					return Usage("--print-jwks needs --private-key")
				}
				k, err := a.key()
				if err != nil {
					return err
				}
				b, err := k.PublicJWKS()
				if err != nil {
					return Rejected(err)
				}
				fmt.Fprintln(env.Stdout, string(b))
				return nil
			}
			cfg, err := f.config(env)
			if err != nil {
				return err
			}
			src, err := clientcred.NewTokenSource(cfg)
			if err != nil {
				return Usage("%v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
			defer cancel()
			tok, err := src.Token(ctx)
			if err != nil {
				return tokenFailure(env, err, asJSON)
			}
			if asJSON {
				out := map[string]any{
					"access_token": tok.AccessToken,
					"token_type":   tok.TokenType,
					"expires_in":   int64(time.Until(tok.Expiry).Round(time.Second) / time.Second),
				}
				if tok.Scope != "" {
					out["scope"] = tok.Scope
				}
				return PrintJSON(env.Stdout, out)
			}
			fmt.Fprintln(env.Stdout, tok.AccessToken)
			return nil
		},
	}
	f.add(c.Flags())
	a.add(c.Flags())
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON object")
	zero := map[string]string{"token-url": "", "issuer": "", "domain": "", "audience": "", "credentials-file": "",
		"auth": "", "timeout": "give a positive duration", "dpop-key": "", "client-cert": "", "client-key": "", "server-ca": ""}
	for k, v := range a.zeroReasons() {
		zero[k] = v
	}
	refuseZero(c, zero)
	return c
}
