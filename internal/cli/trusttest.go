package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/m2mkit/m2m/federation"
	"github.com/m2mkit/m2m/internal/logattr"
)

// trustTestCmd is `m2m trust test`: why would the token endpoint accept
// or refuse this external token?
func trustTestCmd(env *Env) *cobra.Command {
	var (
		data      dataFlags
		token     string
		audiences []string
		asJSON    bool
	)
	c := &cobra.Command{
		Use:   "test",
		Short: "Check an external identity token against the trust policies and say why it is refused",
		Long: "Verify --token (- reads standard input) against every trust policy in the database\n" +
			"(--data DIR or --database URL), as the token endpoint does: the issuer's keys are\n" +
			"fetched (HTTPS, the system trust store: SSL_CERT_FILE works). Exit 0 naming the policy\n" +
			"that matched and the client it maps to; exit 1 listing, for each policy, the first rule\n" +
			"that failed: issuer, keys, signature, audience, subject, claim, expiry, lifetime.\n" +
			"--audience (repeatable) is the request's audience, which picks among several matching\n" +
			"policies. --json prints {\"matched\", \"policy\", \"client_id\", \"issuer\", \"subject\",\n" +
			"\"expires_at\", \"refusal\", \"policies\": [{\"policy\", \"client_id\", \"matched\", \"rule\",\n" +
			"\"claim\", \"detail\"}]}.",
		Example: "  m2m trust test --data /var/lib/m2m --token \"$ACTIONS_ID_TOKEN\"\n" +
			"  m2m trust test --database postgres://m2m@db.example/m2m --token - --audience https://api.example.com --json < token.jwt",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if err := envDefaults(env, c.Flags(), "data", "database"); err != nil {
				return err
			}
			tok, err := readToken(env, token)
			if err != nil {
				return err
			}
			ctx := context.Background()
			st, err := data.openExisting(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			v, err := federation.New(federation.Config{Policies: st, Clients: st})
			if err != nil {
				return Rejected(err)
			}
			return trustTest(ctx, env.Stdout, v, tok, audiences, asJSON)
		},
	}
	data.add(c.Flags(), false)
	c.Flags().StringVar(&token, "token", "", "the external token to check (- reads standard input)")
	c.Flags().StringArrayVar(&audiences, "audience", nil, "the audience the request names (repeatable)")
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON object")
	refuseZero(c, map[string]string{"data": "", "database": "leave it out to use --data", "token": "",
		"audience": "leave it out for a request that names no audience"})
	return c
}

// trustTestReport is the JSON output of m2m trust test.
type trustTestReport struct {
	Matched   bool               `json:"matched"`
	Policy    string             `json:"policy,omitempty"`
	ClientID  string             `json:"client_id,omitempty"`
	Issuer    string             `json:"issuer"`
	Subject   string             `json:"subject"`
	ExpiresAt *time.Time         `json:"expires_at,omitempty"`
	Refusal   *trustTestRefusal  `json:"refusal,omitempty"`
	Policies  []trustTestVerdict `json:"policies"`
}

type trustTestRefusal struct {
	Policy string `json:"policy,omitempty"`
	Rule   string `json:"rule"`
	Claim  string `json:"claim,omitempty"`
	Detail string `json:"detail"`
}

type trustTestVerdict struct {
	Policy   string `json:"policy"`
	ClientID string `json:"client_id"`
	Matched  bool   `json:"matched"`
	Rule     string `json:"rule,omitempty"`
	Claim    string `json:"claim,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

// trustTest explains tok with v and prints the outcome: exit 0 for a
// match, 1 for a refusal.
func trustTest(ctx context.Context, w io.Writer, v *federation.Verifier, tok string, audiences []string, asJSON bool) error {
	r, err := v.Explain(ctx, tok, audiences)
	if err != nil {
		return Rejected(err)
	}
	out := trustTestReport{Issuer: r.Issuer, Subject: r.Subject, Policies: []trustTestVerdict{}}
	for _, p := range r.Policies {
		out.Policies = append(out.Policies, trustTestVerdict{Policy: p.Policy, ClientID: p.ClientID, Matched: p.Matched,
			Rule: string(p.Rule), Claim: p.Claim, Detail: p.Detail})
	}
	if m := r.Match; m != nil {
		out.Matched, out.Policy, out.ClientID = true, m.Policy.Name, m.ClientID
		exp := m.Expiry.UTC()
		out.ExpiresAt = &exp
	}
	if rf := r.Refusal; rf != nil {
		out.Refusal = &trustTestRefusal{Policy: rf.Policy, Rule: string(rf.Rule), Claim: rf.Claim, Detail: rf.Detail}
	}
	if asJSON {
		if err := PrintJSON(w, out); err != nil {
			return err
		}
		if !out.Matched {
			return RejectedQuiet()
		}
		return nil
	}
	if out.Matched {
		fmt.Fprintf(w, "matched policy %s: client %s (subject %s, token expires %s)\n",
			trustClean(out.Policy), trustClean(out.ClientID), trustClean(out.Subject), out.ExpiresAt.Format(time.RFC3339))
		return nil
	}
	fmt.Fprintf(w, "refused: %s\n", trustClean(out.Refusal.Detail))
	if len(out.Policies) == 0 && out.Refusal.Rule == string(federation.RuleNoPolicy) {
		fmt.Fprintln(w, "  (there are no trust policies)")
	}
	for _, p := range out.Policies {
		rule := p.Rule
		if p.Matched {
			rule = "matched"
		}
		if p.Claim != "" {
			rule += " " + trustClean(p.Claim)
		}
		fmt.Fprintf(w, "  %s (client %s): %s", trustClean(p.Policy), trustClean(p.ClientID), rule)
		if p.Detail != "" {
			fmt.Fprintf(w, ": %s", trustClean(p.Detail))
		}
		fmt.Fprintln(w)
	}
	return RejectedQuiet()
}

// trustClean bounds and escapes a value for a terminal.
func trustClean(s string) string { return logattr.Clean(s, 512) }
