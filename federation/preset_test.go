package federation_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/m2mkit/m2m/federation"
	"github.com/m2mkit/m2m/store"
)

func TestPreset(t *testing.T) {
	const k8s = "https://container.googleapis.com/v1/projects/p/locations/l/clusters/c"
	for _, tt := range []struct {
		name, preset string
		args         federation.PresetArgs
		want         *store.TrustPolicy
	}{
		{"github branch", "github-actions", federation.PresetArgs{Repository: "acme/app", Branch: "main"},
			&store.TrustPolicy{Issuer: federation.GitHubActionsIssuer, Subject: "repo:acme/app:ref:refs/heads/main"}},
		{"github tag with claims", "github-actions", federation.PresetArgs{Repository: "acme/app", Tag: "v*", RepositoryOwnerID: "4242",
			WorkflowRef: "acme/shared/.github/workflows/release.yml@refs/heads/main"},
			&store.TrustPolicy{Issuer: federation.GitHubActionsIssuer, Subject: "repo:acme/app:ref:refs/tags/v*",
				Claims: map[string]string{"repository_owner_id": "4242", "job_workflow_ref": "acme/shared/.github/workflows/release.yml@refs/heads/main"}}},
		{"github environment, every repository of the owner", "github-actions", federation.PresetArgs{Repository: "acme/*", Environment: "production"},
			&store.TrustPolicy{Issuer: federation.GitHubActionsIssuer, Subject: "repo:acme/*:environment:production"}},
		{"github enterprise server", "github-actions", federation.PresetArgs{Issuer: "https://ghe.example/_services/token", Repository: "a/b", Branch: "main"},
			&store.TrustPolicy{Issuer: "https://ghe.example/_services/token", Subject: "repo:a/b:ref:refs/heads/main"}},
		{"github claims only", "github-actions", federation.PresetArgs{RepositoryOwnerID: "7"},
			&store.TrustPolicy{Issuer: federation.GitHubActionsIssuer, Claims: map[string]string{"repository_owner_id": "7"}}},
		{"gitlab branch", "gitlab", federation.PresetArgs{Project: "group/sub/project", Branch: "main", Environment: "prod"},
			&store.TrustPolicy{Issuer: federation.GitLabIssuer, Subject: "project_path:group/sub/project:ref_type:branch:ref:main",
				Claims: map[string]string{"environment": "prod"}}},
		{"gitlab self-managed tag", "gitlab", federation.PresetArgs{Issuer: "https://gitlab.example", Project: "g/p", Tag: "v1.*"},
			&store.TrustPolicy{Issuer: "https://gitlab.example", Subject: "project_path:g/p:ref_type:tag:ref:v1.*"}},
		{"kubernetes", "kubernetes", federation.PresetArgs{Issuer: k8s, Namespace: "billing", ServiceAccount: "worker"},
			&store.TrustPolicy{Issuer: k8s, Subject: "system:serviceaccount:billing:worker"}},
		{"kubernetes every account of a namespace", "kubernetes", federation.PresetArgs{Issuer: k8s, Namespace: "billing", ServiceAccount: "*"},
			&store.TrustPolicy{Issuer: k8s, Subject: "system:serviceaccount:billing:*"}},
		{"kubernetes issuer only", "kubernetes", federation.PresetArgs{Issuer: k8s},
			&store.TrustPolicy{Issuer: k8s}},
		{"spiffe", "spiffe", federation.PresetArgs{Issuer: "https://spire.example", TrustDomain: "example.org", WorkloadPath: "/ns/prod/sa/api"},
			&store.TrustPolicy{Issuer: "https://spire.example", Subject: "spiffe://example.org/ns/prod/sa/api"}},
		{"spiffe whole trust domain", "spiffe", federation.PresetArgs{Issuer: "https://spire.example", TrustDomain: "example.org", WorkloadPath: "/*"},
			&store.TrustPolicy{Issuer: "https://spire.example", Subject: "spiffe://example.org/*"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := federation.Preset(tt.preset, tt.args)
			if err != nil {
				t.Fatalf("Preset(%s, %+v) = %v", tt.preset, tt.args, err)
			}
			tt.want.Preset = tt.preset
			if d := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("Preset(%s, %+v) mismatch (-want +got):\n%s", tt.preset, tt.args, d)
			}
		})
	}
}

func TestPresetRefusals(t *testing.T) {
	const iss = "https://issuer.example"
	for _, tt := range []struct {
		name, preset string
		args         federation.PresetArgs
		arg          string // the PresetError's Arg; "" for an unknown preset
	}{
		{"unknown preset", "github", federation.PresetArgs{}, ""},
		{"github owner glob", "github-actions", federation.PresetArgs{Repository: "*/app", Branch: "main"}, "repository"},
		{"github no owner", "github-actions", federation.PresetArgs{Repository: "app", Branch: "main"}, "repository"},
		{"github owner with colon", "github-actions", federation.PresetArgs{Repository: "a:b/app", Branch: "main"}, "repository"},
		{"github no ref", "github-actions", federation.PresetArgs{Repository: "acme/app"}, "branch"},
		{"github two refs", "github-actions", federation.PresetArgs{Repository: "acme/app", Branch: "main", Environment: "prod"}, "branch"},
		{"github branch without repository", "github-actions", federation.PresetArgs{Branch: "main"}, "repository"},
		{"github branch with colon", "github-actions", federation.PresetArgs{Repository: "acme/app", Branch: "a:b"}, "branch"},
		{"github owner id not numeric", "github-actions", federation.PresetArgs{RepositoryOwnerID: "acme"}, "repository-owner-id"},
		{"github namespace", "github-actions", federation.PresetArgs{Namespace: "x"}, "namespace"},
		{"github control character", "github-actions", federation.PresetArgs{Repository: "acme/app", Branch: "ma\nin"}, "branch"},
		{"gitlab group glob", "gitlab", federation.PresetArgs{Project: "*/p", Branch: "main"}, "project"},
		{"gitlab no ref", "gitlab", federation.PresetArgs{Project: "g/p"}, "branch"},
		{"gitlab empty segment", "gitlab", federation.PresetArgs{Project: "g//p", Branch: "main"}, "project"},
		{"gitlab repository", "gitlab", federation.PresetArgs{Repository: "g/p"}, "repository"},
		{"kubernetes no issuer", "kubernetes", federation.PresetArgs{Namespace: "a", ServiceAccount: "b"}, "issuer"},
		{"kubernetes namespace only", "kubernetes", federation.PresetArgs{Issuer: iss, Namespace: "a"}, "service-account"},
		{"kubernetes upper case", "kubernetes", federation.PresetArgs{Issuer: iss, Namespace: "A", ServiceAccount: "b"}, "namespace"},
		{"kubernetes colon", "kubernetes", federation.PresetArgs{Issuer: iss, Namespace: "a", ServiceAccount: "b:c"}, "service-account"},
		{"spiffe no issuer", "spiffe", federation.PresetArgs{TrustDomain: "example.org", WorkloadPath: "/a"}, "issuer"},
		{"spiffe relative path", "spiffe", federation.PresetArgs{Issuer: iss, TrustDomain: "example.org", WorkloadPath: "a"}, "workload-path"},
		{"spiffe dot segment", "spiffe", federation.PresetArgs{Issuer: iss, TrustDomain: "example.org", WorkloadPath: "/a/../b"}, "workload-path"},
		{"spiffe trailing slash", "spiffe", federation.PresetArgs{Issuer: iss, TrustDomain: "example.org", WorkloadPath: "/a/"}, "workload-path"},
		{"spiffe trust domain glob", "spiffe", federation.PresetArgs{Issuer: iss, TrustDomain: "*", WorkloadPath: "/a"}, "trust-domain"},
		{"spiffe branch", "spiffe", federation.PresetArgs{Issuer: iss, Branch: "main"}, "branch"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := federation.Preset(tt.preset, tt.args)
			var pe *federation.PresetError
			switch {
			case err == nil:
				t.Fatalf("Preset(%s, %+v) = %+v; want an error", tt.preset, tt.args, p)
			case tt.arg == "" && errors.As(err, &pe):
				t.Errorf("Preset(%s) = %v; want an unknown preset error", tt.preset, err)
			case tt.arg != "" && (!errors.As(err, &pe) || pe.Arg != tt.arg):
				t.Errorf("Preset(%s, %+v) = %v; want a PresetError for %s", tt.preset, tt.args, err, tt.arg)
			}
		})
	}
}

// FuzzPreset: whatever the arguments, Preset never panics, and a policy
// it fills (with the caller's fields) has a subject no broader than its
// preset's prefix.
func FuzzPreset(f *testing.F) {
	f.Add("github-actions", "acme/app", "main", "", "")
	f.Add("gitlab", "g/sub/p", "", "v*", "prod")
	f.Add("kubernetes", "ns", "sa", "", "")
	f.Add("spiffe", "example.org", "/a/*", "", "")
	f.Fuzz(func(t *testing.T, preset, a, b, c, d string) {
		args := federation.PresetArgs{Issuer: "https://issuer.example"}
		switch preset {
		case "github-actions":
			args.Repository, args.Branch, args.Tag, args.Environment = a, b, c, d
		case "gitlab":
			args.Project, args.Branch, args.Tag, args.Environment = a, b, c, d
		case "kubernetes":
			args.Namespace, args.ServiceAccount = a, b
		case "spiffe":
			args.TrustDomain, args.WorkloadPath = a, b
		}
		p, err := federation.Preset(preset, args)
		if err != nil || p.Subject == "" {
			return
		}
		prefix := map[string]string{"github-actions": "repo:", "gitlab": "project_path:", "kubernetes": "system:serviceaccount:", "spiffe": "spiffe://"}[preset]
		if len(p.Subject) <= len(prefix) || p.Subject[:len(prefix)] != prefix || p.Subject[len(prefix)] == '*' {
			t.Errorf("Preset(%s, %+v).Subject = %q; want %s and a literal tenant", preset, args, p.Subject, prefix)
		}
		p.Name, p.Audiences, p.ClientID = "x", []string{"a"}, "c"
		if len(a)+len(b)+len(c)+len(d) < 900 {
			if err := p.Validate(); err != nil {
				t.Errorf("Preset(%s, %+v) made an invalid policy: %v", preset, args, err)
			}
		}
	})
}
