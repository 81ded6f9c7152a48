package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/m2mkit/m2m/federation"
	"github.com/m2mkit/m2m/federation/federationtest"
)

func TestTrustTestOutput(t *testing.T) {
	iss := federationtest.NewIssuer(t)
	policies := federation.StaticPolicies{
		{Name: "deploy", Issuer: iss.URL, JWKS: iss.JWKS(), Audiences: []string{"m2m"},
			Subject: "repo:acme/app:ref:refs/heads/main", ClientID: "deployer"},
		{Name: "gitlab", Issuer: "https://gitlab.example", Audiences: []string{"m2m"}, Subject: "*", ClientID: "ci"},
	}
	v, err := federation.New(federation.Config{Policies: policies})
	if err != nil {
		t.Fatal(err)
	}
	good := iss.Token(map[string]any{"aud": "m2m", "sub": "repo:acme/app:ref:refs/heads/main"})
	bad := iss.Token(map[string]any{"aud": "m2m", "sub": "repo:acme/app:ref:refs/heads/dev\x1b[31m"})
	tests := []struct {
		name     string
		token    string
		json     bool
		exit     int
		contains []string
	}{
		{"match", good, false, 0, []string{"matched policy deploy: client deployer (subject repo:acme/app:ref:refs/heads/main"}},
		{"refused", bad, false, 1, []string{
			"refused: the token's sub",
			"deploy (client deployer): subject: the token's sub",
			`\x1b[31m`, // escaped, never a raw control character
			"gitlab (client ci): issuer: the token's iss",
		}},
		{"malformed", "nope", false, 1, []string{"refused: the token is not a well-formed compact JWS"}},
		{"match json", good, true, 0, []string{`"matched":true`, `"policy":"deploy"`, `"client_id":"deployer"`}},
		{"refused json", bad, true, 1, []string{`"matched":false`, `"rule":"subject"`, `"rule":"issuer"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := trustTest(context.Background(), &out, v, tt.token, nil, tt.json)
			exit := 0
			var ee *ExitError
			if errors.As(err, &ee) {
				exit = ee.Code
			} else if err != nil {
				t.Fatal(err)
			}
			if exit != tt.exit {
				t.Errorf("trustTest exit = %d; want %d\n%s", exit, tt.exit, out.String())
			}
			for _, want := range tt.contains {
				if !strings.Contains(out.String(), want) {
					t.Errorf("trustTest output lacks %q:\n%s", want, out.String())
				}
			}
			if strings.ContainsRune(out.String(), '\x1b') {
				t.Errorf("trustTest printed a raw escape character:\n%q", out.String())
			}
			if tt.json {
				var r trustTestReport
				if err := json.Unmarshal(out.Bytes(), &r); err != nil {
					t.Errorf("--json output is not JSON: %v", err)
				}
			}
		})
	}
}
