package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/store"
)

func printClient(w io.Writer, j authserver.ClientInfo) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "client_id:\t%s\n", j.ClientID)
	if j.ClientSecret != "" {
		fmt.Fprintf(tw, "client_secret:\t%s\t(shown once: store it now)\n", j.ClientSecret)
	}
	if j.TokenEndpointAuthMethod != "" {
		fmt.Fprintf(tw, "auth_method:\t%s\n", j.TokenEndpointAuthMethod)
	}
	if j.JWKSURI != "" {
		fmt.Fprintf(tw, "jwks_uri:\t%s\n", j.JWKSURI)
	}
	if j.DPoPBoundAccessTokens {
		fmt.Fprintf(tw, "require_dpop:\ttrue\n")
	}
	for _, f := range []struct{ name, value string }{
		{"tls_subject", j.TLSClientAuthSubjectDN}, {"tls_san_dns", j.TLSClientAuthSANDNS}, {"tls_san_uri", j.TLSClientAuthSANURI},
		{"tls_san_ip", j.TLSClientAuthSANIP}, {"tls_san_email", j.TLSClientAuthSANEmail},
	} {
		if f.value != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", f.name, f.value)
		}
	}
	if j.TLSClientCertificateBoundAccessTokens {
		fmt.Fprintf(tw, "require_certificate:\ttrue\n")
	}
	fmt.Fprintf(tw, "name:\t%s\n", j.Name)
	fmt.Fprintf(tw, "audiences:\t%s\n", strings.Join(j.Audiences, " "))
	fmt.Fprintf(tw, "scopes:\t%s\n", strings.Join(j.Scopes, " "))
	if j.TokenTTLSeconds > 0 {
		fmt.Fprintf(tw, "token_ttl:\t%v\n", time.Duration(j.TokenTTLSeconds)*time.Second)
	}
	if j.RateLimitPerSecond > 0 {
		fmt.Fprintf(tw, "rate_limit:\t%g/s burst %d\n", j.RateLimitPerSecond, j.RateLimitBurst)
	}
	if j.Profile != "" {
		fmt.Fprintf(tw, "profile:\t%s\n", j.Profile)
	}
	fmt.Fprintf(tw, "disabled:\t%v\n", j.Disabled)
	if j.PreviousSecretExpiresAt != nil {
		fmt.Fprintf(tw, "previous secret valid until:\t%s\n", j.PreviousSecretExpiresAt.Format(time.RFC3339))
	}
	if j.QuotaHourly > 0 || j.QuotaDaily > 0 {
		mode := j.QuotaMode
		if mode == "" {
			mode = store.QuotaEnforce
		}
		fmt.Fprintf(tw, "quota:\t%s per hour, %s per day (%s)\n", limitText(j.QuotaHourly), limitText(j.QuotaDaily), mode)
	}
	tw.Flush()
}

// clientCmd is the shared plumbing of the client subcommands: they work
// on the database directly, or with --server on a running server's admin
// API.
type clientCmd struct {
	env       *Env
	data      dataFlags
	server    string
	tokenFile string
	asJSON    bool
}

func (cc *clientCmd) flags(c *cobra.Command) {
	cc.data.add(c.Flags(), false)
	c.Flags().StringVar(&cc.server, "server", "", "use the admin API of the server at this URL instead of the database (env M2M_SERVER)")
	c.Flags().StringVar(&cc.tokenFile, "admin-token-file", "", adminTokenFileUsage)
	c.Flags().BoolVar(&cc.asJSON, "json", false, "print a JSON object")
	refuseZero(c, map[string]string{"data": "", "database": "leave it out to use --data",
		"server": "leave it out to use the database", "admin-token-file": ""})
}

// run opens the database or the admin API and calls f with it.
func (cc *clientCmd) run(c *cobra.Command, f func(ctx context.Context, a clientAdmin) error) error {
	if err := envDefaults(cc.env, c.Flags(), "data", "database", "server", "admin-token-file"); err != nil {
		return err
	}
	ctx := context.Background()
	if cc.server != "" {
		a, err := newHTTPAdmin(cc.env, cc.server, cc.tokenFile, cc.data.data)
		if err != nil {
			return err
		}
		return f(ctx, a)
	}
	st, err := cc.data.openExisting(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	return f(ctx, storeAdmin{st})
}

// showSecret prints a client with its new secret, or, with
// --credentials-file, writes the id and secret there (0600, atomically)
// and prints the client without it.
func (cc *clientCmd) showSecret(j authserver.ClientInfo, credsFile string, replace bool) error {
	if credsFile != "" {
		if err := writeCredentials(credsFile, j, replace); err != nil {
			return Rejected(fmt.Errorf("client %s: %w (its secret was not saved: run m2m client rotate-secret %s --credentials-file PATH)", j.ClientID, err, j.ClientID))
		}
		j.ClientSecret = ""
		if !cc.asJSON {
			fmt.Fprintf(cc.env.Stdout, "client_secret:\twritten to %s (mode 0600)\n", credsFile)
		}
	}
	return cc.show(j)
}

func (cc *clientCmd) show(j authserver.ClientInfo) error {
	if cc.asJSON {
		return PrintJSON(cc.env.Stdout, j)
	}
	printClient(cc.env.Stdout, j)
	return nil
}

// clientFlags names the flag that sets each client field of the admin
// API (store.FieldError.Field).
var clientFlags = map[string]string{
	"quota_hourly": "--quota-hourly", "quota_daily": "--quota-daily", "quota_mode": "--quota-mode",
	"client_id": "--id", "name": "--name", "audiences": "--audience", "scopes": "--scope",
	"token_ttl_seconds": "--ttl", "rate_limit_per_second": "--rate-limit", "rate_limit_burst": "--burst",
	"profile": "--profile", "token_endpoint_auth_method": "--auth-method", "jwks": "--jwks", "jwks_uri": "--jwks-uri",
	"dpop_bound_access_tokens":   "--require-dpop",
	"tls_client_auth_subject_dn": "--tls-subject", "tls_client_auth_san_dns": "--tls-san-dns", "tls_client_auth_san_uri": "--tls-san-uri",
	"tls_client_auth_san_ip": "--tls-san-ip", "tls_client_auth_san_email": "--tls-san-email",
	"tls_client_certificate_bound_access_tokens": "--require-certificate",
}

// clientFieldErrors says every problem authserver.ValidateClient found
// with the flag that sets the field.
func clientFieldErrors(err error) string { return fieldErrors(err, clientFlags) }

// fieldErrors says every problem of err (store.FieldError values) with
// the flag that sets the field, as flags names it.
func fieldErrors(err error, flags map[string]string) string {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var msgs []string
	for _, e := range errs {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			msgs = append(msgs, fieldErrors(errors.Join(j.Unwrap()...), flags))
			continue
		}
		var fe *store.FieldError
		if errors.As(e, &fe) {
			name := flags[fe.Field]
			if name == "" {
				name = fe.Field
			}
			msgs = append(msgs, name+": "+fe.Problem)
			continue
		}
		msgs = append(msgs, e.Error())
	}
	return strings.Join(msgs, "; ")
}

// checkClientID refuses, as a usage error, a CLIENT_ID argument that no
// client can have (store.ValidClientID), before any lookup; the admin API
// answers such ids 404 the same way.
func checkClientID(id string) error {
	if !store.ValidClientID(id) {
		return Usage("CLIENT_ID %.40q: not a client id (1 to %d characters of A-Z a-z 0-9 - . _ ~)", id, store.MaxClientIDBytes)
	}
	return nil
}

func notFound(id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return Rejected(fmt.Errorf("client %q not found", id))
	}
	return Rejected(err)
}

func cmdClient(env *Env) *cobra.Command {
	root := &cobra.Command{
		Use:   "client",
		Short: "Manage the token server's OAuth 2.0 clients",
		Long: `Manage the token server's clients directly in its database (--data DIR or --database URL).
It is safe while "m2m serve" runs: the server honours a disabled, deleted or re-secreted
client within ` + authserver.DefaultClientCacheTTL.String() + ` (its client cache bound).`,
	}
	root.AddCommand(clientCreate(env), clientList(env), clientShow(env), clientRotate(env),
		clientSetDisabled(env, "disable", true), clientSetDisabled(env, "enable", false), clientDelete(env),
		clientRevokeTokens(env), clientUpdate(env), clientUsage(env))
	return root
}

func clientCreate(env *Env) *cobra.Command {
	cc := &clientCmd{env: env}
	var (
		name, profile, id, credsFile  string
		authMethod, jwksFile, jwksURI string
		audiences, scopes             []string
		ttl                           time.Duration
		rate                          float64
		burst                         int
		requireDPoP                   bool
		tlsSubject, tlsDNS, tlsURI    string
		tlsIP, tlsEmail               string
		requireCert                   bool
		quota                         quotaFlags
	)
	c := &cobra.Command{
		Use:   "create --name N --audience A [--audience ...] [--scope \"a b\"] [--ttl 1h]",
		Short: "Register a client and print its id and secret (the secret is shown once)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if name == "" {
				return Usage("--name is required")
			}
			if len(audiences) == 0 {
				return Usage("at least one --audience is required")
			}
			scopeList, err := scopeFlag("scope", scopes)
			if err != nil {
				return err
			}
			cl := &store.Client{
				ID: id, Name: name, Audiences: audiences, Scopes: scopeList,
				TokenTTL: ttl, RateLimitPerSecond: rate, RateLimitBurst: burst, Profile: profile,
				AuthMethod: authMethod, JWKSURI: jwksURI, RequireDPoP: requireDPoP,
				TLSSubject: tlsSubject, TLSSANDNS: tlsDNS, TLSSANURI: tlsURI, TLSSANIP: tlsIP, TLSSANEmail: tlsEmail,
				TLSClientCertificateBoundAccessTokens: requireCert,
				QuotaHourly:                           quota.hourly, QuotaDaily: quota.daily,
			}
			if quota.hourly > 0 || quota.daily > 0 || c.Flags().Changed("quota-mode") {
				cl.QuotaMode = quota.mode
			}
			if jwksFile != "" {
				if cl.JWKS, err = readJWKSFile(jwksFile, store.MaxClientJWKSBytes); err != nil {
					return err
				}
			}
			if authMethod == store.AuthMethodPrivateKeyJWT && credsFile != "" {
				return Usage("--credentials-file: a private_key_jwt client has no secret to write (it signs assertions with its private key)")
			}
			if cl.UsesMutualTLS() && credsFile != "" {
				return Usage("--credentials-file: a %s client has no secret to write (it authenticates with its certificate)", authMethod)
			}
			// The admin API's and the store's checks, said with the flags:
			// the same client is refused the same way on every path.
			if err := authserver.ValidateClient(cl, authserver.DefaultMaxTokenTTL); err != nil {
				return Usage("%s", clientFieldErrors(err))
			}
			if credsFile != "" {
				if _, err := os.Lstat(credsFile); err == nil {
					return Usage("--credentials-file %s exists; choose another path or remove it", credsFile)
				}
			}
			return cc.run(c, func(ctx context.Context, a clientAdmin) error {
				info, err := a.create(ctx, cl)
				if err != nil {
					if errors.Is(err, store.ErrConflict) {
						return Rejected(fmt.Errorf("client %q already exists", id))
					}
					return Rejected(err)
				}
				return cc.showSecret(info, credsFile, false)
			})
		},
	}
	fs := c.Flags()
	fs.StringVar(&name, "name", "", "client name (required)")
	fs.StringArrayVar(&audiences, "audience", nil, "audience the client may request; the first is its default (repeatable, required)")
	fs.StringArrayVar(&scopes, "scope", nil, "scope the client may request (repeatable, or space-separated)")
	fs.DurationVar(&ttl, "ttl", 0, "token lifetime for this client (0: the server's default)")
	fs.Float64Var(&rate, "rate-limit", 0, "tokens per second for this client (0: the server's default)")
	fs.IntVar(&burst, "burst", 0, "token bucket size with --rate-limit (0: the rate, at least 1)")
	fs.StringVar(&profile, "profile", "", "token profile for this client: rfc9068 or auth0 (default: the server's)")
	fs.StringVar(&id, "id", "", "client id (default: 128 random bits)")
	fs.StringVar(&authMethod, "auth-method", "", "how the client authenticates at the token endpoint: client_secret_basic, client_secret_post, private_key_jwt, tls_client_auth or self_signed_tls_client_auth (default: its secret, either way)")
	fs.StringVar(&jwksFile, "jwks", "", "private_key_jwt, self_signed_tls_client_auth: the JWK Set `FILE` of the client's public keys")
	fs.StringVar(&jwksURI, "jwks-uri", "", "private_key_jwt: the https `URL` of the client's JWK Set")
	fs.StringVar(&tlsSubject, "tls-subject", "", "tls_client_auth: the subject `DN` of the client's certificate, as an RFC 4514 string such as 'CN=worker,O=Example'")
	fs.StringVar(&tlsDNS, "tls-san-dns", "", "tls_client_auth: a DNS `NAME` among the certificate's subject alternative names (instead of --tls-subject)")
	fs.StringVar(&tlsURI, "tls-san-uri", "", "tls_client_auth: a `URI` among the certificate's subject alternative names, such as a SPIFFE ID (instead of --tls-subject)")
	fs.StringVar(&tlsIP, "tls-san-ip", "", "tls_client_auth: an IP `ADDRESS` among the certificate's subject alternative names (instead of --tls-subject)")
	fs.StringVar(&tlsEmail, "tls-san-email", "", "tls_client_auth: an email `ADDRESS` among the certificate's subject alternative names (instead of --tls-subject)")
	fs.BoolVar(&requireCert, "require-certificate", false, "refuse the client's token requests without a client certificate and bind its tokens to it (RFC 8705); always so for the two mutual-TLS methods (the server needs --client-ca)")
	fs.BoolVar(&requireDPoP, "require-dpop", false, "refuse the client's token requests without a DPoP proof (RFC 9449), so that its tokens are always DPoP-bound (the server needs --dpop)")
	fs.StringVar(&credsFile, "credentials-file", "", "write client_id and client_secret to the new file `PATH` (mode 0600), as m2m token --credentials-file reads them, instead of printing the secret")
	quota.add(fs, false)
	cc.flags(c)
	refuseZero(c, map[string]string{
		"quota-mode":       "give enforce or monitor",
		"ttl":              "leave it out for the server's default lifetime, or give a positive one",
		"rate-limit":       "leave it out for the server's default rate, or give a positive one (disable the client to stop its tokens)",
		"burst":            "leave it out for the rate's default burst, or give a positive one",
		"profile":          "leave it out for the server's default profile, or give rfc9068 or auth0",
		"id":               "leave it out for a random id, or give one",
		"name":             "give the client a name",
		"audience":         "give an audience",
		"credentials-file": "",
		"auth-method":      "leave it out for a client that authenticates with its secret",
		"jwks":             "",
		"jwks-uri":         "",
		"tls-subject":      "",
		"tls-san-dns":      "",
		"tls-san-uri":      "",
		"tls-san-ip":       "",
		"tls-san-email":    "",
	})
	return c
}

// readJWKSFile reads the --jwks file (a JWK Set of public keys) of at
// most max bytes; the store checks the rest.
func readJWKSFile(path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Usage("--jwks: %v", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, Usage("--jwks: %v", err)
	}
	if len(b) > max {
		return nil, Usage("--jwks %s: larger than %d bytes", path, max)
	}
	return b, nil
}

func clientList(env *Env) *cobra.Command {
	cc := &clientCmd{env: env}
	c := &cobra.Command{
		Use:   "list",
		Short: "List clients",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return cc.run(c, func(ctx context.Context, a clientAdmin) error {
				list, err := a.list(ctx)
				if err != nil {
					return Rejected(err)
				}
				if cc.asJSON {
					return PrintJSON(env.Stdout, struct {
						Clients []authserver.ClientInfo `json:"clients"`
					}{list})
				}
				tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "CLIENT ID\tNAME\tAUDIENCES\tSCOPES\tSTATUS")
				for _, cl := range list {
					status := "enabled"
					if cl.Disabled {
						status = "disabled"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cl.ClientID, cl.Name, strings.Join(cl.Audiences, ","), strings.Join(cl.Scopes, " "), status)
				}
				return tw.Flush()
			})
		},
	}
	cc.flags(c)
	return c
}

func clientShow(env *Env) *cobra.Command {
	cc := &clientCmd{env: env}
	c := &cobra.Command{
		Use:   "show CLIENT_ID",
		Short: "Show a client (never its secret)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkClientID(args[0]); err != nil {
				return err
			}
			return cc.run(c, func(ctx context.Context, a clientAdmin) error {
				info, err := a.get(ctx, args[0])
				if err != nil {
					return notFound(args[0], err)
				}
				return cc.show(info)
			})
		},
	}
	cc.flags(c)
	return c
}

func clientRotate(env *Env) *cobra.Command {
	cc := &clientCmd{env: env}
	var grace time.Duration
	var credsFile string
	c := &cobra.Command{
		Use:   "rotate-secret CLIENT_ID [--grace 24h]",
		Short: "Give a client a new secret; the old one keeps working for the grace period",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkClientID(args[0]); err != nil {
				return err
			}
			if grace < 0 || grace > authserver.MaxSecretGrace {
				return Usage("--grace %v: want 0s (the old secret stops now) to %v", grace, authserver.MaxSecretGrace)
			}
			return cc.run(c, func(ctx context.Context, a clientAdmin) error {
				info, err := a.rotate(ctx, args[0], grace)
				if err != nil {
					return notFound(args[0], err)
				}
				return cc.showSecret(info, credsFile, true)
			})
		},
	}
	c.Flags().DurationVar(&grace, "grace", authserver.DefaultSecretGrace, "how long the old secret keeps working (0s: revoke it now)")
	c.Flags().StringVar(&credsFile, "credentials-file", "", "write client_id and the new client_secret to `PATH` (mode 0600, replaced atomically) instead of printing the secret")
	cc.flags(c)
	refuseZero(c, map[string]string{"credentials-file": ""})
	return c
}

func clientSetDisabled(env *Env, verb string, disabled bool) *cobra.Command {
	cc := &clientCmd{env: env}
	short := "Enable a disabled client"
	if disabled {
		short = "Disable a client: it gets no more tokens (tokens already issued stay valid until they expire)"
	}
	c := &cobra.Command{
		Use:   verb + " CLIENT_ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkClientID(args[0]); err != nil {
				return err
			}
			return cc.run(c, func(ctx context.Context, a clientAdmin) error {
				info, err := a.setDisabled(ctx, args[0], disabled)
				if err != nil {
					return notFound(args[0], err)
				}
				return cc.show(info)
			})
		},
	}
	cc.flags(c)
	return c
}

func clientDelete(env *Env) *cobra.Command {
	cc := &clientCmd{env: env}
	var withPolicies bool
	c := &cobra.Command{
		Use:   "delete CLIENT_ID [--with-trust-policies]",
		Short: "Delete a client (one that trust policies name only with --with-trust-policies)",
		Long: `Delete a client. A client that trust policies name is refused (exit 1, the policies listed):
delete them first with m2m trust delete, or give --with-trust-policies to delete them with the
client, in one transaction; each is audited as trust_policy.deleted.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkClientID(args[0]); err != nil {
				return err
			}
			return cc.run(c, func(ctx context.Context, a clientAdmin) error {
				deleted, err := a.delete(ctx, args[0], withPolicies)
				var inUse *store.ClientInUseError
				if errors.As(err, &inUse) {
					return Rejected(fmt.Errorf("client %s is named by trust policies %s: delete them first (m2m trust delete NAME), or give --with-trust-policies to delete them with it",
						args[0], strings.Join(inUse.TrustPolicies, ", ")))
				}
				if err != nil {
					return notFound(args[0], err)
				}
				if cc.asJSON {
					return PrintJSON(env.Stdout, authserver.ClientDeleted{ClientID: args[0], Deleted: true, TrustPoliciesDeleted: deleted})
				}
				for _, name := range deleted {
					fmt.Fprintf(env.Stdout, "deleted trust policy %s\n", name)
				}
				fmt.Fprintf(env.Stdout, "deleted client %s\n", args[0])
				return nil
			})
		},
	}
	c.Flags().BoolVar(&withPolicies, "with-trust-policies", false, "also delete the trust policies that name the client (else such a client is refused)")
	cc.flags(c)
	return c
}

// tokenRevoker revokes every token issued to a client so far; both client
// admins implement it.
type tokenRevoker interface {
	revokeTokens(ctx context.Context, id string) (authserver.ClientInfo, error)
}

var (
	_ tokenRevoker = storeAdmin{}
	_ tokenRevoker = (*httpAdmin)(nil)
)

func (a storeAdmin) revokeTokens(ctx context.Context, id string) (authserver.ClientInfo, error) {
	c, err := authserver.RevokeClientTokens(ctx, a.st, id, nil)
	if err != nil {
		return authserver.ClientInfo{}, err
	}
	a.audit(ctx, authserver.AuditTokensRevokedForClient, id)
	return authserver.NewClientInfo(c, "", time.Now()), nil
}

func (a *httpAdmin) revokeTokens(ctx context.Context, id string) (authserver.ClientInfo, error) {
	var out authserver.ClientInfo
	err := a.do(ctx, http.MethodPost, "/admin/clients/"+url.PathEscape(id)+"/revoke-tokens", nil, &out)
	return out, err
}

func clientRevokeTokens(env *Env) *cobra.Command {
	cc := &clientCmd{env: env}
	c := &cobra.Command{
		Use:   "revoke-tokens CLIENT_ID",
		Short: "Revoke every token issued to a client until now (it may still get new ones)",
		Long: `Revoke every access token issued to the client until now: token introspection answers
inactive for them, and APIs whose verifier consults revocations refuse them. Tokens issued
in the same second are revoked too. Servers honour it within ` + authserver.DefaultClientCacheTTL.String() + ` (their client cache bound),
at once with --server. The client keeps its secret and gets new tokens: disable it to stop that.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkClientID(args[0]); err != nil {
				return err
			}
			return cc.run(c, func(ctx context.Context, a clientAdmin) error {
				r, ok := a.(tokenRevoker)
				if !ok {
					return Rejected(errors.New("this client admin cannot revoke tokens"))
				}
				info, err := r.revokeTokens(ctx, args[0])
				if err != nil {
					return notFound(args[0], err)
				}
				if cc.asJSON {
					return PrintJSON(env.Stdout, map[string]any{"client_id": args[0], "tokens_revoked_before": info.UpdatedAt})
				}
				fmt.Fprintf(env.Stdout, "revoked the tokens of client %s issued before %s\n", args[0], info.UpdatedAt.Format(time.RFC3339))
				return nil
			})
		},
	}
	cc.flags(c)
	return c
}
