package federation

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/m2mkit/m2m/store"
)

// The issuers the presets use when [PresetArgs] names none.
const (
	// GitHubActionsIssuer is the iss of GitHub Actions OIDC tokens on
	// github.com (GitHub Enterprise Server has its own:
	// https://HOST/_services/token).
	GitHubActionsIssuer = "https://token.actions.githubusercontent.com"
	// GitLabIssuer is the iss of GitLab CI ID tokens on gitlab.com (a
	// self-managed instance's is its own URL).
	GitLabIssuer = "https://gitlab.com"
)

// PresetArgs are what an operator says about the workload a preset
// describes; each preset reads some of them and refuses the others, so
// that an argument that would not constrain anything is never silently
// ignored. Each field is named after the m2m trust create flag that sets
// it (Repository: --repository, RepositoryOwnerID:
// --repository-owner-id, ...), and [PresetError] names it that way.
type PresetArgs struct {
	// Issuer replaces the preset's issuer (GitHub Enterprise Server, a
	// self-managed GitLab); kubernetes and spiffe have no default and
	// require it.
	Issuer string

	// Repository (github-actions) is OWNER/REPO; Project (gitlab) is
	// GROUP/PROJECT, subgroups allowed. The owner or top-level group is
	// the tenant on a shared issuer and must be literal; the rest may use
	// '*'.
	Repository string
	Project    string
	// Branch, Tag or Environment (at most one; github-actions needs one
	// with Repository, gitlab needs Branch or Tag with Project) name the
	// ref or the deployment environment the job runs for. On gitlab,
	// Environment is a condition on the environment claim and may come
	// with Branch or Tag.
	Branch      string
	Tag         string
	Environment string
	// RepositoryOwnerID (github-actions) is the numeric id of the
	// repository's owner, a condition on the repository_owner_id claim:
	// it survives the owner being renamed and its name taken by someone
	// else. WorkflowRef (github-actions) is a pattern for the
	// job_workflow_ref claim (OWNER/REPO/.github/workflows/FILE@REF), to
	// trust one reusable workflow.
	RepositoryOwnerID string
	WorkflowRef       string

	// Namespace and ServiceAccount (kubernetes) name the service account
	// whose projected token the pod presents; '*' is allowed.
	Namespace      string
	ServiceAccount string

	// TrustDomain and WorkloadPath (spiffe) make the SPIFFE ID
	// spiffe://TRUST_DOMAIN/PATH of the JWT-SVID's subject; WorkloadPath
	// starts with '/' and may use '*'.
	TrustDomain  string
	WorkloadPath string
}

// PresetError is a problem with one argument of [Preset]. Arg is the
// name of the m2m trust create flag that sets it, without the dashes
// ("repository", "branch", "issuer", ...).
type PresetError struct {
	Preset  string
	Arg     string
	Problem string
}

func (e *PresetError) Error() string {
	return "federation: preset " + e.Preset + ": " + e.Arg + ": " + e.Problem
}

// Preset returns the trust policy fields that the named convention
// fills from args: Preset, Issuer, Subject and Claims (nil when there
// are none). Name, Audiences, ClientID and the rest are the caller's. The
// presets, with store's names:
//
//   - [store.PresetGitHubActions]: issuer [GitHubActionsIssuer]; subject
//     repo:OWNER/REPO:ref:refs/heads/BRANCH, repo:OWNER/REPO:ref:refs/tags/TAG
//     or repo:OWNER/REPO:environment:ENVIRONMENT; claims
//     repository_owner_id and job_workflow_ref when given.
//   - [store.PresetGitLab]: issuer [GitLabIssuer]; subject
//     project_path:GROUP/PROJECT:ref_type:branch:ref:BRANCH (or
//     ref_type:tag:ref:TAG); claim environment when given.
//   - [store.PresetKubernetes]: the cluster's issuer (required); subject
//     system:serviceaccount:NAMESPACE:NAME.
//   - [store.PresetSPIFFE]: the issuer (required); subject
//     spiffe://TRUST_DOMAIN/PATH. SPIFFE trust bundles are not found by
//     OIDC discovery: the caller must also give the keys (JWKS or JWKSURI).
//
// When args name no workload at all (no repository, project, namespace
// and service account, or trust domain), Subject is "" for the caller to
// set; an argument the preset does not read, a malformed one, or a
// workload named in part is a [*PresetError].
func Preset(name string, args PresetArgs) (*store.TrustPolicy, error) {
	p := &store.TrustPolicy{Preset: name, Issuer: args.Issuer}
	bad := func(arg, format string, a ...any) error {
		return &PresetError{Preset: name, Arg: arg, Problem: fmt.Sprintf(format, a...)}
	}
	given := map[string]string{
		"repository": args.Repository, "project": args.Project, "branch": args.Branch, "tag": args.Tag,
		"environment": args.Environment, "repository-owner-id": args.RepositoryOwnerID, "workflow-ref": args.WorkflowRef,
		"namespace": args.Namespace, "service-account": args.ServiceAccount,
		"trust-domain": args.TrustDomain, "workload-path": args.WorkloadPath,
	}
	reads := map[string][]string{
		store.PresetGitHubActions: {"repository", "branch", "tag", "environment", "repository-owner-id", "workflow-ref"},
		store.PresetGitLab:        {"project", "branch", "tag", "environment"},
		store.PresetKubernetes:    {"namespace", "service-account"},
		store.PresetSPIFFE:        {"trust-domain", "workload-path"},
	}
	known, ok := reads[name]
	if !ok {
		return nil, fmt.Errorf("federation: unknown preset %.40q (want %s, %s, %s or %s)", name,
			store.PresetGitHubActions, store.PresetGitLab, store.PresetKubernetes, store.PresetSPIFFE)
	}
	for _, arg := range []string{"repository", "project", "branch", "tag", "environment", "repository-owner-id",
		"workflow-ref", "namespace", "service-account", "trust-domain", "workload-path"} {
		if given[arg] != "" && !slices.Contains(known, arg) {
			return nil, bad(arg, "does not apply to this preset (it reads %s)", strings.Join(known, ", "))
		}
		if v := given[arg]; v != "" && !presetPrintable(v) {
			return nil, bad(arg, "must be at most %d bytes of UTF-8 without control characters", store.MaxPatternBytes)
		}
	}
	switch name {
	case store.PresetGitHubActions:
		return p, githubPreset(p, args, bad)
	case store.PresetGitLab:
		return p, gitlabPreset(p, args, bad)
	case store.PresetKubernetes:
		return p, kubernetesPreset(p, args, bad)
	default:
		return p, spiffePreset(p, args, bad)
	}
}

type presetBadArg func(arg, format string, a ...any) error

func githubPreset(p *store.TrustPolicy, args PresetArgs, bad presetBadArg) error {
	if p.Issuer == "" {
		p.Issuer = GitHubActionsIssuer
	}
	if args.RepositoryOwnerID != "" {
		if strings.Trim(args.RepositoryOwnerID, "0123456789") != "" {
			return bad("repository-owner-id", "must be the owner's numeric id (the repository_owner_id claim)")
		}
		p.Claims = map[string]string{"repository_owner_id": args.RepositoryOwnerID}
	}
	if args.WorkflowRef != "" {
		if p.Claims == nil {
			p.Claims = map[string]string{}
		}
		p.Claims["job_workflow_ref"] = args.WorkflowRef
	}
	refs := presetCount(args.Branch, args.Tag, args.Environment)
	if args.Repository == "" {
		if refs > 0 {
			return bad("repository", "is required with --branch, --tag or --environment")
		}
		return nil
	}
	owner, repo, ok := strings.Cut(args.Repository, "/")
	if !ok || !presetNameChars(owner, "-", false) || !presetNameChars(repo, "-._", true) {
		return bad("repository", "must be OWNER/REPO (the owner literal; '*' allowed in the repository name)")
	}
	switch {
	case refs == 0:
		return bad("branch", "give --branch, --tag or --environment with --repository")
	case refs > 1:
		return bad("branch", "give one of --branch, --tag and --environment")
	case args.Branch != "":
		if strings.Contains(args.Branch, ":") {
			return bad("branch", "a git ref cannot contain ':'")
		}
		p.Subject = "repo:" + args.Repository + ":ref:refs/heads/" + args.Branch
	case args.Tag != "":
		if strings.Contains(args.Tag, ":") {
			return bad("tag", "a git ref cannot contain ':'")
		}
		p.Subject = "repo:" + args.Repository + ":ref:refs/tags/" + args.Tag
	default:
		p.Subject = "repo:" + args.Repository + ":environment:" + args.Environment
	}
	return nil
}

func gitlabPreset(p *store.TrustPolicy, args PresetArgs, bad presetBadArg) error {
	if p.Issuer == "" {
		p.Issuer = GitLabIssuer
	}
	if args.Environment != "" {
		p.Claims = map[string]string{"environment": args.Environment}
	}
	refs := presetCount(args.Branch, args.Tag)
	if args.Project == "" {
		if refs > 0 {
			return bad("project", "is required with --branch or --tag")
		}
		return nil
	}
	group, rest, ok := strings.Cut(args.Project, "/")
	if !ok || !presetNameChars(group, "-._", false) || !gitlabPath(rest) {
		return bad("project", "must be GROUP/PROJECT or GROUP/SUBGROUP/PROJECT (the top-level group literal; '*' allowed after it)")
	}
	switch {
	case refs == 0:
		return bad("branch", "give --branch or --tag with --project")
	case refs > 1:
		return bad("branch", "give one of --branch and --tag")
	case args.Branch != "":
		if strings.Contains(args.Branch, ":") {
			return bad("branch", "a git ref cannot contain ':'")
		}
		p.Subject = "project_path:" + args.Project + ":ref_type:branch:ref:" + args.Branch
	default:
		if strings.Contains(args.Tag, ":") {
			return bad("tag", "a git ref cannot contain ':'")
		}
		p.Subject = "project_path:" + args.Project + ":ref_type:tag:ref:" + args.Tag
	}
	return nil
}

func kubernetesPreset(p *store.TrustPolicy, args PresetArgs, bad presetBadArg) error {
	if p.Issuer == "" {
		return bad("issuer", "is required: the cluster's service-account issuer (kubectl get --raw /.well-known/openid-configuration)")
	}
	switch {
	case args.Namespace == "" && args.ServiceAccount == "":
		return nil
	case args.Namespace == "":
		return bad("namespace", "is required with --service-account")
	case args.ServiceAccount == "":
		return bad("service-account", "is required with --namespace")
	case !presetNameChars(args.Namespace, "-", true) || strings.ToLower(args.Namespace) != args.Namespace:
		return bad("namespace", "must be a Kubernetes namespace name (a-z 0-9 -) or a pattern with '*'")
	case !presetNameChars(args.ServiceAccount, "-.", true) || strings.ToLower(args.ServiceAccount) != args.ServiceAccount:
		return bad("service-account", "must be a Kubernetes service account name (a-z 0-9 - .) or a pattern with '*'")
	}
	p.Subject = "system:serviceaccount:" + args.Namespace + ":" + args.ServiceAccount
	return nil
}

func spiffePreset(p *store.TrustPolicy, args PresetArgs, bad presetBadArg) error {
	if p.Issuer == "" {
		return bad("issuer", "is required: the iss of the JWT-SVIDs (the SPIRE server's jwt_issuer)")
	}
	switch {
	case args.TrustDomain == "" && args.WorkloadPath == "":
		return nil
	case args.TrustDomain == "":
		return bad("trust-domain", "is required with --workload-path")
	case args.WorkloadPath == "":
		return bad("workload-path", "is required with --trust-domain (give '/*' for every workload of the trust domain)")
	case !presetNameChars(args.TrustDomain, "-._", false) || strings.ToLower(args.TrustDomain) != args.TrustDomain:
		return bad("trust-domain", "must be a SPIFFE trust domain (a-z 0-9 . - _), literal")
	case !spiffePath(args.WorkloadPath):
		return bad("workload-path", "must be a SPIFFE ID path: /SEGMENT[/SEGMENT...] of A-Z a-z 0-9 . - _, '*' allowed")
	}
	p.Subject = "spiffe://" + args.TrustDomain + args.WorkloadPath
	return nil
}

// gitlabPath reports whether path is PROJECT or SUBGROUP/.../PROJECT,
// with '*' allowed.
func gitlabPath(path string) bool {
	for seg := range strings.SplitSeq(path, "/") {
		if !presetNameChars(seg, "-._", true) {
			return false
		}
	}
	return true
}

// spiffePath reports whether path is the path of a SPIFFE ID (segments
// of A-Z a-z 0-9 . - _, none empty, "." or "..") with '*' allowed.
func spiffePath(path string) bool {
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return false
	}
	for seg := range strings.SplitSeq(rest, "/") {
		if seg == "." || seg == ".." || !presetNameChars(seg, "-._", true) {
			return false
		}
	}
	return true
}

// presetNameChars reports whether s is non-empty and made of ASCII letters,
// digits, the characters of extra, and '*' when glob.
func presetNameChars(s, extra string, glob bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(extra, c) >= 0 || glob && c == '*' {
			continue
		}
		return false
	}
	return true
}

func presetPrintable(s string) bool {
	if len(s) > store.MaxPatternBytes || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r >= 0x7f && r < 0xa0 || r == 0x2028 || r == 0x2029 {
			return false
		}
	}
	return true
}

func presetCount(vals ...string) int {
	n := 0
	for _, v := range vals {
		if v != "" {
			n++
		}
	}
	return n
}
