package federation_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/m2mkit/m2m/federation"
	"github.com/m2mkit/m2m/store"
)

// clientMap is a ClientSource.
type clientMap map[string]*store.Client

func (m clientMap) GetClient(_ context.Context, id string) (*store.Client, error) {
	if c, ok := m[id]; ok {
		return c, nil
	}
	return nil, fmt.Errorf("no client %q: %w", id, store.ErrNotFound)
}

func TestAudiencesPickAmongMatches(t *testing.T) {
	mk := func(name, client string) *store.TrustPolicy {
		return &store.TrustPolicy{Name: name, Audiences: []string{"m2m"}, Subject: "repo:acme/*", ClientID: client}
	}
	clients := clientMap{
		"deployer": {ID: "deployer", Audiences: []string{"https://deploy.example"}},
		"reader":   {ID: "reader", Audiences: []string{"https://read.example", "https://both.example"}},
		"writer":   {ID: "writer", Audiences: []string{"https://write.example", "https://both.example"}},
	}
	tests := []struct {
		name      string
		policies  []*store.TrustPolicy
		clients   federation.ClientSource
		audiences []string
		want      string // policy name, or the refusal rule
	}{
		{"one match, no audience", []*store.TrustPolicy{mk("a", "deployer")}, clients, nil, "a"},
		{"one match, audience not checked here", []*store.TrustPolicy{mk("a", "deployer")}, clients, []string{"https://read.example"}, "a"},
		{"two matches, no audience", []*store.TrustPolicy{mk("a", "deployer"), mk("b", "reader")}, clients, nil, "ambiguous"},
		{"two matches, audience picks", []*store.TrustPolicy{mk("a", "deployer"), mk("b", "reader")}, clients, []string{"https://read.example"}, "b"},
		{"two matches, every audience must fit", []*store.TrustPolicy{mk("a", "deployer"), mk("b", "reader")}, clients, []string{"https://read.example", "https://deploy.example"}, "ambiguous"},
		{"two matches, audience fits both", []*store.TrustPolicy{mk("b", "reader"), mk("c", "writer")}, clients, []string{"https://both.example"}, "ambiguous"},
		{"two matches, audience fits none", []*store.TrustPolicy{mk("a", "deployer"), mk("b", "reader")}, clients, []string{"https://other.example"}, "ambiguous"},
		{"two matches, unknown client drops out", []*store.TrustPolicy{mk("a", "gone"), mk("b", "reader")}, clients, []string{"https://read.example"}, "b"},
		{"two matches, no client store", []*store.TrustPolicy{mk("a", "deployer"), mk("b", "reader")}, nil, []string{"https://read.example"}, "ambiguous"},
		{"same client, two policies", []*store.TrustPolicy{mk("a", "reader"), mk("b", "reader")}, clients, []string{"https://read.example"}, "ambiguous"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(c *federation.Config) { c.Clients = tt.clients }, tt.policies...)
			m, err := f.v.Verify(context.Background(), f.iss.Token(good()), tt.audiences)
			got := ""
			if err != nil {
				got = string(refusal(t, err).Rule)
			} else {
				got = m.Policy.Name
			}
			if got != tt.want {
				t.Errorf("Verify(audiences %v) = %s (%v); want %s", tt.audiences, got, err, tt.want)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	policies := []*store.TrustPolicy{
		{Name: "a-other-issuer", Issuer: "https://gitlab.example", Audiences: []string{"m2m"}, Subject: "*", ClientID: "x"},
		{Name: "b-wrong-branch", Audiences: []string{"m2m"}, Subject: "repo:acme/app:ref:refs/heads/release", ClientID: "y"},
		{Name: "c-wrong-claim", Audiences: []string{"m2m"}, Subject: "repo:acme/*", Claims: map[string]string{"/ctx/env": "prod"}, ClientID: "z"},
		{Name: "d-match", Audiences: []string{"m2m"}, Subject: "repo:acme/*", Claims: map[string]string{"/ctx/env": "dev"}, ClientID: "deployer"},
	}
	f := newFixture(t, nil, policies...)
	tok := f.iss.Token(with(good(), "ctx", map[string]any{"env": "dev"}))
	r, err := f.v.Explain(context.Background(), tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Policy, ClientID string
		Matched          bool
		Rule             federation.Rule
		Claim            string
	}
	var got []row
	for _, p := range r.Policies {
		got = append(got, row{p.Policy, p.ClientID, p.Matched, p.Rule, p.Claim})
	}
	want := []row{
		{"a-other-issuer", "x", false, federation.RuleIssuer, ""},
		{"b-wrong-branch", "y", false, federation.RuleSubject, ""},
		{"c-wrong-claim", "z", false, federation.RuleClaim, "/ctx/env"},
		{"d-match", "deployer", true, "", ""},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Explain policies (-want +got):\n%s", d)
	}
	if r.Match == nil || r.Match.Policy.Name != "d-match" || r.Refusal != nil {
		t.Errorf("Explain = match %v, refusal %v; want match d-match", r.Match, r.Refusal)
	}
	// The furthest-reaching failure is Verify's refusal when none match.
	f.policies.set(policies[:3]...)
	f.v.Invalidate()
	r, err = f.v.Explain(context.Background(), tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Match != nil || r.Refusal == nil || r.Refusal.Policy != "c-wrong-claim" || r.Refusal.Rule != federation.RuleClaim {
		t.Errorf("Explain = match %v, refusal %v; want refusal claim by c-wrong-claim", r.Match, r.Refusal)
	}
}

// TestRefusalLogging: a refusal logs its rule, policy, claim and detail,
// with caller-controlled values escaped, and never the token.
func TestRefusalLogging(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.iss.Token(with(good(), "sub", "repo:acme/other\nlevel=ERROR msg=forged"))
	_, err := f.v.Verify(context.Background(), tok, nil)
	rf := refusal(t, err)
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("refused", "refusal", rf)
	line := buf.String()
	for _, want := range []string{"refusal.rule=subject", "refusal.policy=ci", `\\nlevel=ERROR`} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %q", line, want)
		}
	}
	if strings.Count(line, "\n") != 1 || strings.Contains(line, tok) {
		t.Errorf("log line %q: want one line without the token", line)
	}
	if msg := rf.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "federation: token refused (subject) by policy ci: ") {
		t.Errorf("Error() = %q", msg)
	}
}
