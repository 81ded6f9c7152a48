package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/federation"
	"github.com/m2mkit/m2m/store"
)

// trustAdmin is what the trust commands need: the database directly or a
// server's admin API; both client admins implement it.
type trustAdmin interface {
	createPolicy(ctx context.Context, p *store.TrustPolicy) (authserver.TrustPolicyInfo, error)
	listPolicies(ctx context.Context) ([]authserver.TrustPolicyInfo, error)
	getPolicy(ctx context.Context, name string) (authserver.TrustPolicyInfo, error)
	updatePolicy(ctx context.Context, name string, u *authserver.TrustPolicyUpdate) (authserver.TrustPolicyInfo, error)
	deletePolicy(ctx context.Context, name string) error
}

var (
	_ trustAdmin = storeAdmin{}
	_ trustAdmin = (*httpAdmin)(nil)
)

func (a storeAdmin) createPolicy(ctx context.Context, p *store.TrustPolicy) (authserver.TrustPolicyInfo, error) {
	if err := authserver.CreateTrustPolicy(ctx, a.st, a.st, p, nil); err != nil {
		return authserver.TrustPolicyInfo{}, err
	}
	a.auditPolicy(ctx, authserver.AuditTrustPolicyCreated, p.ClientID, p.Name)
	return authserver.NewTrustPolicyInfo(p), nil
}

func (a storeAdmin) listPolicies(ctx context.Context) ([]authserver.TrustPolicyInfo, error) {
	list, err := a.st.ListTrustPolicies(ctx)
	if err != nil {
		return nil, err
	}
	out := []authserver.TrustPolicyInfo{}
	for _, p := range list {
		out = append(out, authserver.NewTrustPolicyInfo(p))
	}
	return out, nil
}

func (a storeAdmin) getPolicy(ctx context.Context, name string) (authserver.TrustPolicyInfo, error) {
	p, err := a.st.GetTrustPolicy(ctx, name)
	if err != nil {
		return authserver.TrustPolicyInfo{}, err
	}
	return authserver.NewTrustPolicyInfo(p), nil
}

func (a storeAdmin) updatePolicy(ctx context.Context, name string, u *authserver.TrustPolicyUpdate) (authserver.TrustPolicyInfo, error) {
	p, err := authserver.UpdateTrustPolicy(ctx, a.st, a.st, name, u, nil)
	if err != nil {
		return authserver.TrustPolicyInfo{}, err
	}
	a.auditPolicy(ctx, authserver.AuditTrustPolicyUpdated, p.ClientID, name)
	return authserver.NewTrustPolicyInfo(p), nil
}

func (a storeAdmin) deletePolicy(ctx context.Context, name string) error {
	p, err := a.st.GetTrustPolicy(ctx, name)
	if err != nil {
		return err
	}
	if err := a.st.DeleteTrustPolicy(ctx, name); err != nil {
		return err
	}
	a.auditPolicy(ctx, authserver.AuditTrustPolicyDeleted, p.ClientID, name)
	return nil
}

// auditPolicy records a trust policy change made on the database, as the
// admin API records its own; a failure to record does not undo it.
func (a storeAdmin) auditPolicy(ctx context.Context, code, clientID, name string) {
	_ = a.st.AppendAudit(ctx, []store.AuditEvent{{Time: time.Now(), Code: code, Actor: cliActor(), ClientID: clientID, Target: name, Count: 1}})
}

func (a *httpAdmin) createPolicy(ctx context.Context, p *store.TrustPolicy) (authserver.TrustPolicyInfo, error) {
	in := authserver.NewTrustPolicyInfo(p)
	var out authserver.TrustPolicyInfo
	err := a.do(ctx, http.MethodPost, "/admin/trust-policies", trustCreateRequest(in), &out)
	return out, err
}

// trustCreateRequest is the create body: the fields a caller sets, not
// the times the server sets.
func trustCreateRequest(in authserver.TrustPolicyInfo) map[string]any {
	m := map[string]any{"name": in.Name, "issuer": in.Issuer, "audiences": in.Audiences, "subject": in.Subject,
		"client_id": in.ClientID, "scopes": in.Scopes, "single_use": in.SingleUse}
	if in.JWKSURI != "" {
		m["jwks_uri"] = in.JWKSURI
	}
	if len(in.JWKS) > 0 {
		m["jwks"] = in.JWKS
	}
	if len(in.Claims) > 0 {
		m["claims"] = in.Claims
	}
	if in.MaxTTLSeconds > 0 {
		m["max_ttl_seconds"] = in.MaxTTLSeconds
	}
	if in.Preset != "" {
		m["preset"] = in.Preset
	}
	return m
}

func (a *httpAdmin) listPolicies(ctx context.Context) ([]authserver.TrustPolicyInfo, error) {
	var out struct {
		TrustPolicies []authserver.TrustPolicyInfo `json:"trust_policies"`
	}
	err := a.do(ctx, http.MethodGet, "/admin/trust-policies", nil, &out)
	return out.TrustPolicies, err
}

func (a *httpAdmin) getPolicy(ctx context.Context, name string) (authserver.TrustPolicyInfo, error) {
	var out authserver.TrustPolicyInfo
	err := a.do(ctx, http.MethodGet, "/admin/trust-policies/"+url.PathEscape(name), nil, &out)
	return out, err
}

func (a *httpAdmin) updatePolicy(ctx context.Context, name string, u *authserver.TrustPolicyUpdate) (authserver.TrustPolicyInfo, error) {
	var out authserver.TrustPolicyInfo
	err := a.do(ctx, http.MethodPatch, "/admin/trust-policies/"+url.PathEscape(name), u, &out)
	return out, err
}

func (a *httpAdmin) deletePolicy(ctx context.Context, name string) error {
	return a.do(ctx, http.MethodDelete, "/admin/trust-policies/"+url.PathEscape(name), nil, nil)
}

// runTrust is clientCmd.run for the trust commands.
func (cc *clientCmd) runTrust(c *cobra.Command, f func(ctx context.Context, a trustAdmin) error) error {
	return cc.run(c, func(ctx context.Context, a clientAdmin) error {
		ta, ok := a.(trustAdmin)
		if !ok {
			return Rejected(errors.New("this admin cannot manage trust policies"))
		}
		return f(ctx, ta)
	})
}

// trustFlags names the flag that sets each trust policy field of the
// admin API (store.FieldError.Field).
var trustFlags = map[string]string{
	"name": "--name", "issuer": "--issuer", "jwks": "--jwks", "jwks_uri": "--jwks-uri", "audiences": "--audience",
	"subject": "--subject", "claims": "--claim", "client_id": "--client", "scopes": "--scope",
	"max_ttl_seconds": "--max-ttl", "single_use": "--single-use", "preset": "--preset",
}

// checkPolicyName refuses, as a usage error, a NAME argument that no
// policy can have, before any lookup.
func checkPolicyName(name string) error {
	if !store.ValidClientID(name) || len(name) > store.MaxTrustPolicyNameBytes {
		return Usage("NAME %.40q: not a trust policy name (1 to %d characters of A-Z a-z 0-9 - . _ ~)", name, store.MaxTrustPolicyNameBytes)
	}
	return nil
}

func policyNotFound(name string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return Rejected(fmt.Errorf("trust policy %q not found", name))
	}
	return Rejected(err)
}

func cmdTrust(env *Env) *cobra.Command {
	root := &cobra.Command{
		Use:   "trust",
		Short: "Manage trust policies: workloads with an external identity token (CI job, Kubernetes pod, SPIFFE) that authenticate as a client with no secret",
		Long: `Manage the token server's trust policies directly in its database (--data DIR or --database URL)
or with --server through its admin API. A trust policy accepts a token from an external issuer
(GitHub Actions, GitLab CI, a Kubernetes cluster, SPIRE) whose audience, subject and claims
match it, as the client it names. Patterns match exactly, except that '*' matches any run of
characters, '/' and ':' included. See docs/trust-policies.md.`,
	}
	root.AddCommand(trustCreate(env), trustList(env), trustShow(env), trustUpdate(env), trustDelete(env), trustTestCmd(env))
	return root
}

// presetFlags are the flags that describe the workload to a --preset, as
// federation.PresetArgs reads them.
type presetFlags struct {
	args federation.PresetArgs
}

func (pf *presetFlags) add(c *cobra.Command) {
	fs := c.Flags()
	a := &pf.args
	fs.StringVar(&a.Repository, "repository", "", "github-actions: the `OWNER/REPO` whose jobs may authenticate ('*' allowed in REPO)")
	fs.StringVar(&a.Project, "project", "", "gitlab: the `GROUP/PROJECT` whose jobs may authenticate (subgroups allowed)")
	fs.StringVar(&a.Branch, "branch", "", "github-actions, gitlab: the branch the job runs on (a pattern)")
	fs.StringVar(&a.Tag, "tag", "", "github-actions, gitlab: the tag the job runs on (a pattern)")
	fs.StringVar(&a.Environment, "environment", "", "github-actions: the deployment environment of the job (instead of --branch or --tag); gitlab: a condition on the environment claim")
	fs.StringVar(&a.RepositoryOwnerID, "repository-owner-id", "", "github-actions: the owner's numeric `ID` (the repository_owner_id claim): a renamed owner's name cannot be taken over")
	fs.StringVar(&a.WorkflowRef, "workflow-ref", "", "github-actions: a pattern for the job_workflow_ref claim, to trust one reusable workflow")
	fs.StringVar(&a.Namespace, "namespace", "", "kubernetes: the service account's namespace")
	fs.StringVar(&a.ServiceAccount, "service-account", "", "kubernetes: the service account's name")
	fs.StringVar(&a.TrustDomain, "trust-domain", "", "spiffe: the SPIFFE trust domain")
	fs.StringVar(&a.WorkloadPath, "workload-path", "", "spiffe: the path of the SPIFFE ID (/ns/prod/sa/api; '/*' for the whole trust domain)")
}

// presetFlagNames are the flag names of presetFlags.
var presetFlagNames = []string{"repository", "project", "branch", "tag", "environment", "repository-owner-id",
	"workflow-ref", "namespace", "service-account", "trust-domain", "workload-path"}

func trustCreate(env *Env) *cobra.Command {
	cc := &clientCmd{env: env}
	pf := &presetFlags{}
	var (
		name, issuer, jwksFile, jwksURI, subject, client, preset string
		audiences, claims, scopes                                []string
		maxTTL                                                   time.Duration
		singleUse                                                bool
	)
	c := &cobra.Command{
		Use:   "create --name N (--issuer URL --subject PATTERN | --preset P ...) --audience A --client CLIENT_ID",
		Short: "Create a trust policy: tokens of an external issuer that match it authenticate as a client",
		Long: `Create a trust policy. A token is accepted as --client when its issuer is --issuer, its audience
contains one --audience, its subject matches --subject and each --claim NAME=PATTERN matches.
The issuer's keys come from its OIDC discovery, or from --jwks-uri URL or a --jwks FILE.

--preset fills the issuer, subject and claims of a known system from its own flags:
  github-actions  --repository OWNER/REPO (--branch B | --tag T | --environment E)
                  [--repository-owner-id ID] [--workflow-ref PATTERN]
  gitlab          --project GROUP/PROJECT (--branch B | --tag T) [--environment E]
  kubernetes      --issuer URL --namespace NS --service-account NAME
  spiffe          --issuer URL (--jwks FILE | --jwks-uri URL) --trust-domain TD --workload-path /PATH
--issuer, --subject and --claim given with a preset replace its values.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if name == "" {
				return Usage("--name is required")
			}
			if len(audiences) == 0 {
				return Usage("at least one --audience is required (the audience the workload requests its token for)")
			}
			if client == "" {
				return Usage("--client is required (the client id the workload authenticates as)")
			}
			p := &store.TrustPolicy{Issuer: issuer}
			if preset != "" {
				pf.args.Issuer = issuer
				var err error
				if p, err = federation.Preset(preset, pf.args); err != nil {
					var pe *federation.PresetError
					if errors.As(err, &pe) {
						return Usage("--%s: %s (--preset %s)", pe.Arg, pe.Problem, preset)
					}
					return Usage("--preset %.40q: want github-actions, gitlab, kubernetes or spiffe", preset)
				}
				if preset == store.PresetSPIFFE && jwksFile == "" && jwksURI == "" {
					return Usage("--preset spiffe: give the trust bundle's keys with --jwks FILE or --jwks-uri URL (SPIFFE bundles are not found by OIDC discovery)")
				}
			} else {
				for _, n := range presetFlagNames {
					if c.Flags().Changed(n) {
						return Usage("--%s needs --preset", n)
					}
				}
			}
			if subject != "" {
				p.Subject = subject
			}
			if p.Issuer == "" {
				return Usage("--issuer is required (or --preset github-actions or gitlab)")
			}
			if p.Subject == "" {
				return Usage("--subject is required (or --preset with the flags that name the workload)")
			}
			for _, kv := range claims {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return Usage("--claim %.60q: want NAME=PATTERN", kv)
				}
				if p.Claims == nil {
					p.Claims = map[string]string{}
				}
				p.Claims[k] = v
			}
			scopeList, err := scopeFlag("scope", scopes)
			if err != nil {
				return err
			}
			p.Name, p.Audiences, p.ClientID, p.Scopes = name, audiences, client, scopeList
			p.JWKSURI, p.MaxTTL, p.SingleUse = jwksURI, maxTTL, singleUse
			if jwksFile != "" {
				if p.JWKS, err = readJWKSFile(jwksFile, store.MaxTrustJWKSBytes); err != nil {
					return err
				}
			}
			// The store's checks, said with the flags, before the database
			// or the server is asked.
			if err := p.Validate(); err != nil {
				return Usage("%s", fieldErrors(err, trustFlags))
			}
			return cc.runTrust(c, func(ctx context.Context, a trustAdmin) error {
				info, err := a.createPolicy(ctx, p)
				switch {
				case errors.Is(err, store.ErrConflict):
					return Rejected(fmt.Errorf("trust policy %q already exists", name))
				case errors.Is(err, store.ErrInvalid):
					return Rejected(errors.New(fieldErrors(err, trustFlags)))
				case err != nil:
					return Rejected(err)
				}
				if preset == store.PresetGitHubActions && pf.args.RepositoryOwnerID == "" && !cc.asJSON {
					fmt.Fprintln(env.Stderr, "m2m: note: --repository-owner-id would also pin the owner's numeric id, so that a renamed owner's name taken by someone else does not match")
				}
				return cc.showPolicy(info)
			})
		},
	}
	fs := c.Flags()
	fs.StringVar(&name, "name", "", "the policy's name (A-Z a-z 0-9 - . _ ~; required)")
	fs.StringVar(&issuer, "issuer", "", "the exact iss of the accepted tokens, an https `URL` (required without a preset that sets it)")
	fs.StringVar(&jwksURI, "jwks-uri", "", "the https `URL` of the issuer's JWK Set (default: found by OIDC discovery at --issuer)")
	fs.StringVar(&jwksFile, "jwks", "", "the issuer's JWK Set `FILE` (public keys), instead of fetching it")
	fs.StringArrayVar(&audiences, "audience", nil, "an audience the token must carry (repeatable, required)")
	fs.StringVar(&subject, "subject", "", "the `PATTERN` the token's sub must match ('*' matches any run of characters)")
	fs.StringArrayVar(&claims, "claim", nil, "a condition `NAME=PATTERN` on another claim of the token (repeatable)")
	fs.StringVar(&client, "client", "", "the `CLIENT_ID` the token authenticates as (the client must exist; required)")
	fs.StringArrayVar(&scopes, "scope", nil, "a scope the issued token may carry (repeatable, or space-separated; default: the client's scopes)")
	fs.DurationVar(&maxTTL, "max-ttl", 0, "bound on the issued token's lifetime (default: the client's or the server's; never beyond the external token's)")
	fs.BoolVar(&singleUse, "single-use", false, "accept each external token once (by its jti)")
	fs.StringVar(&preset, "preset", "", "fill issuer, subject and claims by convention: github-actions, gitlab, kubernetes or spiffe")
	pf.add(c)
	cc.flags(c)
	zero := map[string]string{
		"name":       "give the policy a name",
		"issuer":     "give the issuer's https URL, or leave it out with a preset that sets it",
		"jwks-uri":   "leave it out for OIDC discovery at the issuer",
		"jwks":       "",
		"audience":   "give an audience",
		"subject":    "give a pattern, or leave it out with a preset",
		"claim":      "give NAME=PATTERN",
		"client":     "give the client id",
		"scope":      "leave it out for the client's scopes",
		"max-ttl":    "leave it out for the client's or the server's token lifetime, or give a positive one",
		"preset":     "leave it out, or give github-actions, gitlab, kubernetes or spiffe",
		"repository": "", "project": "", "branch": "", "tag": "", "environment": "", "repository-owner-id": "",
		"workflow-ref": "", "namespace": "", "service-account": "", "trust-domain": "", "workload-path": "",
	}
	refuseZero(c, zero)
	return c
}

func (cc *clientCmd) showPolicy(j authserver.TrustPolicyInfo) error {
	if cc.asJSON {
		return PrintJSON(cc.env.Stdout, j)
	}
	printPolicy(cc.env.Stdout, j)
	return nil
}

func printPolicy(w io.Writer, j authserver.TrustPolicyInfo) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "name:\t%s\n", j.Name)
	if j.Preset != "" {
		fmt.Fprintf(tw, "preset:\t%s\n", j.Preset)
	}
	fmt.Fprintf(tw, "issuer:\t%s\n", j.Issuer)
	switch {
	case j.JWKSURI != "":
		fmt.Fprintf(tw, "jwks_uri:\t%s\n", j.JWKSURI)
	case len(j.JWKS) > 0:
		fmt.Fprintf(tw, "jwks:\tgiven (%d bytes)\n", len(j.JWKS))
	default:
		fmt.Fprintf(tw, "keys:\tOIDC discovery at the issuer\n")
	}
	fmt.Fprintf(tw, "audiences:\t%s\n", strings.Join(j.Audiences, " "))
	fmt.Fprintf(tw, "subject:\t%s\n", j.Subject)
	names := make([]string, 0, len(j.Claims))
	for k := range j.Claims {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		fmt.Fprintf(tw, "claim:\t%s=%s\n", k, j.Claims[k])
	}
	fmt.Fprintf(tw, "client:\t%s\n", j.ClientID)
	if len(j.Scopes) > 0 {
		fmt.Fprintf(tw, "scopes:\t%s\n", strings.Join(j.Scopes, " "))
	} else {
		fmt.Fprintf(tw, "scopes:\t(the client's)\n")
	}
	if j.MaxTTLSeconds > 0 {
		fmt.Fprintf(tw, "max_ttl:\t%v\n", time.Duration(j.MaxTTLSeconds)*time.Second)
	}
	fmt.Fprintf(tw, "single_use:\t%v\n", j.SingleUse)
	tw.Flush()
}

func trustList(env *Env) *cobra.Command {
	cc := &clientCmd{env: env}
	c := &cobra.Command{
		Use:   "list",
		Short: "List trust policies",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return cc.runTrust(c, func(ctx context.Context, a trustAdmin) error {
				list, err := a.listPolicies(ctx)
				if err != nil {
					return Rejected(err)
				}
				if cc.asJSON {
					return PrintJSON(env.Stdout, struct {
						TrustPolicies []authserver.TrustPolicyInfo `json:"trust_policies"`
					}{list})
				}
				tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tCLIENT\tISSUER\tSUBJECT")
				for _, p := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, p.ClientID, p.Issuer, p.Subject)
				}
				return tw.Flush()
			})
		},
	}
	cc.flags(c)
	return c
}

func trustShow(env *Env) *cobra.Command {
	cc := &clientCmd{env: env}
	c := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a trust policy",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkPolicyName(args[0]); err != nil {
				return err
			}
			return cc.runTrust(c, func(ctx context.Context, a trustAdmin) error {
				info, err := a.getPolicy(ctx, args[0])
				if err != nil {
					return policyNotFound(args[0], err)
				}
				return cc.showPolicy(info)
			})
		},
	}
	cc.flags(c)
	return c
}

func trustUpdate(env *Env) *cobra.Command {
	cc := &clientCmd{env: env}
	var (
		issuer, jwksFile, jwksURI, subject, client string
		audiences, claims, scopes                  []string
		maxTTL                                     time.Duration
		singleUse, discovery, clearClaims          bool
	)
	c := &cobra.Command{
		Use:   "update NAME [--issuer URL] [--subject PATTERN] [--claim NAME=PATTERN ...] [--audience A ...] [--client ID] [--scope S ...] [--max-ttl D] [--single-use=BOOL] [--jwks FILE | --jwks-uri URL | --discovery]",
		Short: "Change a trust policy (only the flags given change)",
		Long: `Change a trust policy: only the flags given change, the rest is kept, and the result is
checked as m2m trust create checks a new policy (the client must exist). --audience, --scope
and --claim replace the whole list or set (--scope "" for the client's scopes, --clear-claims
for no claim conditions). The issuer's keys come from one of --jwks FILE, --jwks-uri URL or
--discovery (OIDC discovery at the issuer). With --server the change is made through the admin
API, applied in the server's update transaction, so another operator's change to other
fields is kept; the server applies it at once, other replicas within 2s.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			name := args[0]
			if err := checkPolicyName(name); err != nil {
				return err
			}
			fs := c.Flags()
			var u authserver.TrustPolicyUpdate
			if fs.Changed("issuer") {
				u.Issuer = &issuer
			}
			if fs.Changed("subject") {
				u.Subject = &subject
			}
			if fs.Changed("audience") {
				u.Audiences = &audiences
			}
			if fs.Changed("client") {
				u.ClientID = &client
			}
			if fs.Changed("scope") {
				list, err := scopeFlag("scope", scopes)
				if err != nil {
					return err
				}
				if list == nil {
					list = []string{}
				}
				u.Scopes = &list
			}
			if fs.Changed("max-ttl") {
				if maxTTL < 0 || maxTTL%time.Second != 0 {
					return Usage("--max-ttl %v: want 0s (the client's or the server's lifetime) or whole seconds", maxTTL)
				}
				n := int64(maxTTL / time.Second)
				u.MaxTTLSeconds = &n
			}
			if fs.Changed("single-use") {
				u.SingleUse = &singleUse
			}
			if fs.Changed("claim") && clearClaims {
				return Usage("--claim and --clear-claims: give one")
			}
			if fs.Changed("claim") || clearClaims {
				m := map[string]string{}
				for _, kv := range claims {
					k, v, ok := strings.Cut(kv, "=")
					if !ok || k == "" {
						return Usage("--claim %.60q: want NAME=PATTERN", kv)
					}
					m[k] = v
				}
				u.Claims = &m
			}
			keys := 0
			for _, f := range []string{"jwks", "jwks-uri", "discovery"} {
				if fs.Changed(f) {
					keys++
				}
			}
			switch {
			case keys > 1:
				return Usage("--jwks, --jwks-uri and --discovery: give one (the issuer's keys come from one place)")
			case fs.Changed("jwks"):
				b, err := readJWKSFile(jwksFile, store.MaxTrustJWKSBytes)
				if err != nil {
					return err
				}
				u.JWKS = b
			case fs.Changed("jwks-uri"):
				u.JWKSURI = &jwksURI
			case discovery:
				empty := ""
				u.JWKSURI = &empty
			case fs.Changed("discovery"):
				return Usage("--discovery=false: give --jwks FILE or --jwks-uri URL instead")
			}
			if u.Empty() {
				return Usage("nothing to update: give at least one flag (see m2m trust update --help)")
			}
			// The store's checks, said with the flags, before any lookup:
			// the changes on a policy that is otherwise valid.
			probe := &store.TrustPolicy{Name: name, Issuer: "https://probe.invalid", Audiences: []string{"probe"}, Subject: "probe", ClientID: "probe"}
			u.Apply(probe)
			if err := probe.Validate(); err != nil {
				return Usage("%s", fieldErrors(err, trustFlags))
			}
			return cc.runTrust(c, func(ctx context.Context, a trustAdmin) error {
				info, err := a.updatePolicy(ctx, name, &u)
				switch {
				case errors.Is(err, store.ErrInvalid):
					return Rejected(errors.New(fieldErrors(err, trustFlags)))
				case err != nil:
					return policyNotFound(name, err)
				}
				return cc.showPolicy(info)
			})
		},
	}
	fs := c.Flags()
	fs.StringVar(&issuer, "issuer", "", "the exact iss of the accepted tokens, an https `URL`")
	fs.StringVar(&jwksURI, "jwks-uri", "", "fetch the issuer's keys from this https `URL`")
	fs.StringVar(&jwksFile, "jwks", "", "the issuer's JWK Set `FILE` (public keys), instead of fetching it")
	fs.BoolVar(&discovery, "discovery", false, "find the issuer's keys by OIDC discovery at the issuer (drops --jwks and --jwks-uri)")
	fs.StringArrayVar(&audiences, "audience", nil, "an audience the token must carry (repeatable; replaces the list)")
	fs.StringVar(&subject, "subject", "", "the `PATTERN` the token's sub must match ('*' matches any run of characters)")
	fs.StringArrayVar(&claims, "claim", nil, "a condition `NAME=PATTERN` on another claim (repeatable; replaces the set)")
	fs.BoolVar(&clearClaims, "clear-claims", false, "remove every claim condition")
	fs.StringVar(&client, "client", "", "the `CLIENT_ID` the token authenticates as (the client must exist)")
	fs.StringArrayVar(&scopes, "scope", nil, "a scope the issued token may carry (repeatable, or space-separated; replaces the list; \"\" for the client's scopes)")
	fs.DurationVar(&maxTTL, "max-ttl", 0, "bound on the issued token's lifetime (0s: the client's or the server's)")
	fs.BoolVar(&singleUse, "single-use", false, "accept each external token once (--single-use=false: any number of times)")
	cc.flags(c)
	refuseZero(c, map[string]string{
		"issuer":   "give the issuer's https URL",
		"jwks-uri": "give the https URL of the issuer's keys, or --discovery",
		"jwks":     "give a JWK Set file, or --discovery",
		"audience": "give an audience",
		"subject":  "give a pattern",
		"claim":    "give NAME=PATTERN, or --clear-claims",
		"client":   "give the client id",
	})
	return c
}

func trustDelete(env *Env) *cobra.Command {
	cc := &clientCmd{env: env}
	c := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a trust policy",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkPolicyName(args[0]); err != nil {
				return err
			}
			return cc.runTrust(c, func(ctx context.Context, a trustAdmin) error {
				if err := a.deletePolicy(ctx, args[0]); err != nil {
					return policyNotFound(args[0], err)
				}
				if cc.asJSON {
					return PrintJSON(env.Stdout, map[string]any{"name": args[0], "deleted": true})
				}
				fmt.Fprintf(env.Stdout, "deleted trust policy %s\n", args[0])
				return nil
			})
		},
	}
	cc.flags(c)
	return c
}
