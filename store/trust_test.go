package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/m2mkit/m2m/store"
)

// issuerJWKS is a JWK Set of one public P-256 key (RFC 7515 appendix
// A.3).
const issuerJWKS = `{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`

func validPolicy() *store.TrustPolicy {
	return &store.TrustPolicy{
		Name:      "deploy-prod",
		Issuer:    "https://token.actions.githubusercontent.com",
		Audiences: []string{"https://auth.example"},
		Subject:   "repo:acme/app:ref:refs/heads/main",
		Claims:    map[string]string{"repository_owner_id": "123", "job_workflow_ref": "acme/app/.github/workflows/*@refs/heads/main"},
		ClientID:  "deployer",
		Scopes:    []string{"deploy"},
		MaxTTL:    15 * time.Minute,
		SingleUse: true,
		Preset:    store.PresetGitHubActions,
	}
}

func TestTrustPolicyValidate(t *testing.T) {
	tests := []struct {
		name  string
		mod   func(p *store.TrustPolicy)
		field string // "" means valid
	}{
		{"valid", func(*store.TrustPolicy) {}, ""},
		{"minimal", func(p *store.TrustPolicy) {
			*p = store.TrustPolicy{Name: "a", Issuer: "https://i.example", Audiences: []string{"x"}, Subject: "s", ClientID: "c"}
		}, ""},
		{"jwks by value", func(p *store.TrustPolicy) { p.JWKS = []byte(issuerJWKS) }, ""},
		{"jwks_uri", func(p *store.TrustPolicy) { p.JWKSURI = "https://keys.example/jwks?v=1" }, ""},
		{"loopback http issuer", func(p *store.TrustPolicy) { p.Issuer = "http://127.0.0.1:8080/realm" }, ""},
		{"loopback v6 http issuer", func(p *store.TrustPolicy) { p.Issuer = "http://[::1]:8080" }, ""},
		{"prefix glob subject", func(p *store.TrustPolicy) { p.Subject = "repo:acme/*" }, ""},
		{"largest ttl", func(p *store.TrustPolicy) { p.MaxTTL = store.MaxTrustPolicyTTL }, ""},
		{"name with slash", func(p *store.TrustPolicy) { p.Name = "a/b" }, "name"},
		{"name empty", func(p *store.TrustPolicy) { p.Name = "" }, "name"},
		{"name too long", func(p *store.TrustPolicy) { p.Name = strings.Repeat("a", store.MaxTrustPolicyNameBytes+1) }, "name"},
		{"issuer empty", func(p *store.TrustPolicy) { p.Issuer = "" }, "issuer"},
		{"issuer http", func(p *store.TrustPolicy) { p.Issuer = "http://issuer.example" }, "issuer"},
		{"issuer http localhost name", func(p *store.TrustPolicy) { p.Issuer = "http://localhost:8080" }, "issuer"},
		{"issuer relative", func(p *store.TrustPolicy) { p.Issuer = "/issuer" }, "issuer"},
		{"issuer with user", func(p *store.TrustPolicy) { p.Issuer = "https://u:p@issuer.example" }, "issuer"},
		{"issuer with query", func(p *store.TrustPolicy) { p.Issuer = "https://issuer.example/?a=b" }, "issuer"},
		{"issuer with fragment", func(p *store.TrustPolicy) { p.Issuer = "https://issuer.example/#x" }, "issuer"},
		{"issuer with space", func(p *store.TrustPolicy) { p.Issuer = "https://issuer.example/a b" }, "issuer"},
		{"issuer ftp", func(p *store.TrustPolicy) { p.Issuer = "ftp://issuer.example" }, "issuer"},
		{"issuer too long", func(p *store.TrustPolicy) {
			p.Issuer = "https://i.example/" + strings.Repeat("a", store.MaxIssuerBytes)
		}, "issuer"},
		{"jwks and jwks_uri", func(p *store.TrustPolicy) {
			p.JWKS, p.JWKSURI = []byte(issuerJWKS), "https://keys.example/jwks"
		}, "jwks"},
		{"jwks private", func(p *store.TrustPolicy) {
			p.JWKS = []byte(strings.Replace(issuerJWKS, `"kid"`, `"d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI","kid"`, 1))
		}, "jwks"},
		{"jwks symmetric", func(p *store.TrustPolicy) { p.JWKS = []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`) }, "jwks"},
		{"jwks empty", func(p *store.TrustPolicy) { p.JWKS = []byte(`{"keys":[]}`) }, "jwks"},
		{"jwks not JSON", func(p *store.TrustPolicy) { p.JWKS = []byte(`nope`) }, "jwks"},
		{"jwks_uri http", func(p *store.TrustPolicy) { p.JWKSURI = "http://keys.example/jwks" }, "jwks_uri"},
		{"no audience", func(p *store.TrustPolicy) { p.Audiences = nil }, "audiences"},
		{"empty audience", func(p *store.TrustPolicy) { p.Audiences = []string{""} }, "audiences"},
		{"repeated audience", func(p *store.TrustPolicy) { p.Audiences = []string{"a", "a"} }, "audiences"},
		{"audience with space", func(p *store.TrustPolicy) { p.Audiences = []string{"a b"} }, "audiences"},
		{"no subject", func(p *store.TrustPolicy) { p.Subject = "" }, "subject"},
		{"subject only star", func(p *store.TrustPolicy) { p.Subject = "*" }, "subject"},
		{"subject only stars", func(p *store.TrustPolicy) { p.Subject = "**" }, "subject"},
		{"subject with newline", func(p *store.TrustPolicy) { p.Subject = "repo:a\nb" }, "subject"},
		{"subject too long", func(p *store.TrustPolicy) { p.Subject = strings.Repeat("a", store.MaxPatternBytes+1) }, "subject"},
		{"claim name empty", func(p *store.TrustPolicy) { p.Claims = map[string]string{"": "x"} }, "claims"},
		{"claim name with equals", func(p *store.TrustPolicy) { p.Claims = map[string]string{"a=b": "x"} }, "claims"},
		{"claim name with space", func(p *store.TrustPolicy) { p.Claims = map[string]string{"a b": "x"} }, "claims"},
		{"claim sub", func(p *store.TrustPolicy) { p.Claims = map[string]string{"sub": "x"} }, "claims"},
		{"claim aud", func(p *store.TrustPolicy) { p.Claims = map[string]string{"aud": "x"} }, "claims"},
		{"claim pointer to sub", func(p *store.TrustPolicy) { p.Claims = map[string]string{"/sub": "x"} }, "claims"},
		{"claim pointer bad escape", func(p *store.TrustPolicy) { p.Claims = map[string]string{"/a~2b": "x"} }, "claims"},
		{"claim pointer too deep", func(p *store.TrustPolicy) {
			p.Claims = map[string]string{strings.Repeat("/a", store.MaxClaimDepth+1): "x"}
		}, "claims"},
		{"claim pointer", func(p *store.TrustPolicy) {
			p.Claims = map[string]string{"/kubernetes.io/serviceaccount/name": "worker", "/a~1b~0c": "x"}
		}, ""},
		{"claim URL name", func(p *store.TrustPolicy) { p.Claims = map[string]string{"https://example.com/role": "admin"} }, ""},
		{"claim pattern empty", func(p *store.TrustPolicy) { p.Claims = map[string]string{"ref": ""} }, "claims"},
		{"claim pattern control", func(p *store.TrustPolicy) { p.Claims = map[string]string{"ref": "a\x1b"} }, "claims"},
		{"too many claims", func(p *store.TrustPolicy) {
			p.Claims = map[string]string{}
			for i := range store.MaxTrustClaims + 1 {
				p.Claims[strings.Repeat("c", i+1)] = "x"
			}
		}, "claims"},
		{"no client", func(p *store.TrustPolicy) { p.ClientID = "" }, "client_id"},
		{"client with slash", func(p *store.TrustPolicy) { p.ClientID = "a/b" }, "client_id"},
		{"scope with quote", func(p *store.TrustPolicy) { p.Scopes = []string{`a"b`} }, "scopes"},
		{"repeated scope", func(p *store.TrustPolicy) { p.Scopes = []string{"a", "a"} }, "scopes"},
		{"negative ttl", func(p *store.TrustPolicy) { p.MaxTTL = -time.Second }, "max_ttl_seconds"},
		{"sub-second ttl", func(p *store.TrustPolicy) { p.MaxTTL = time.Millisecond }, "max_ttl_seconds"},
		{"huge ttl", func(p *store.TrustPolicy) { p.MaxTTL = store.MaxTrustPolicyTTL + time.Second }, "max_ttl_seconds"},
		{"unknown preset", func(p *store.TrustPolicy) { p.Preset = "GitHub" }, "preset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPolicy()
			tt.mod(p)
			err := p.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v; want nil", err)
				}
				return
			}
			var fe *store.FieldError
			if !errors.Is(err, store.ErrInvalid) || !errors.As(err, &fe) || fe.Field != tt.field || fe.Record != "trust policy" {
				t.Fatalf("Validate() = %v; want a trust policy FieldError for %s", err, tt.field)
			}
			if !strings.HasPrefix(err.Error(), "store: trust policy "+tt.field+": ") {
				t.Errorf("Validate() = %q; want it to start with %q", err, "store: trust policy "+tt.field+": ")
			}
			if strings.ContainsAny(err.Error(), "\x1b\n?#@") || strings.Contains(err.Error(), "a/b") {
				t.Errorf("Validate() = %q; echoes the value", err)
			}
		})
	}
	// Every problem at once.
	p := &store.TrustPolicy{Name: "a/b", Issuer: "http://x", Subject: "*"}
	got := []string{}
	for _, fe := range store.FieldErrors(p.Validate()) {
		got = append(got, fe.Field)
	}
	if want := []string{"name", "issuer", "audiences", "subject", "client_id"}; !cmp.Equal(got, want) {
		t.Errorf("Validate() of five problems reports %v; want %v", got, want)
	}
}

func TestValidateTrustPolicyUpdate(t *testing.T) {
	// A policy stored under looser rules (here, written by hand) can
	// still be changed, but not made worse.
	legacy := validPolicy()
	legacy.Subject = "*"
	renamed := legacy.Clone()
	renamed.Scopes = []string{"other"}
	if err := store.ValidateTrustPolicyUpdate(legacy, renamed); err != nil {
		t.Errorf("ValidateTrustPolicyUpdate(change a legacy policy) = %v; want nil", err)
	}
	worse := renamed.Clone()
	worse.Issuer = "http://issuer.example"
	err := store.ValidateTrustPolicyUpdate(legacy, worse)
	if fes := store.FieldErrors(err); !errors.Is(err, store.ErrInvalid) || len(fes) != 1 || fes[0].Field != "issuer" {
		t.Errorf("ValidateTrustPolicyUpdate(new problem) = %v; want only the issuer problem", err)
	}
}

func TestTrustPolicyClone(t *testing.T) {
	p := validPolicy()
	p.JWKS = []byte(issuerJWKS)
	c := p.Clone()
	if d := cmp.Diff(p, c); d != "" {
		t.Fatalf("Clone() mismatch (-want +got):\n%s", d)
	}
	c.JWKS[0], c.Audiences[0], c.Scopes[0], c.Claims["repository_owner_id"] = 'X', "x", "x", "x"
	if d := cmp.Diff(validPolicy().Claims, p.Claims); d != "" || p.JWKS[0] != '{' || p.Audiences[0] != "https://auth.example" || p.Scopes[0] != "deploy" {
		t.Errorf("changing the clone changed the original: %+v", p)
	}
	if (*store.TrustPolicy)(nil).Clone() != nil {
		t.Errorf("(*TrustPolicy)(nil).Clone() != nil")
	}
}

// FuzzTrustPolicyValidate checks that Validate never panics and that what
// it accepts keeps to the bounds the rest of the server relies on.
func FuzzTrustPolicyValidate(f *testing.F) {
	f.Add("deploy", "https://token.actions.githubusercontent.com", "", "aud", "repo:a/b:*", "ref", "refs/heads/*", "c", int64(900))
	f.Add("a", "http://127.0.0.1:1", issuerJWKS, "x", "*", "", "", "c", int64(0))
	f.Add("a", "http://[::ffff:127.0.0.1]/", "https://k.example/", "x", "s*", "=", "*", "c", int64(-1))
	f.Fuzz(func(t *testing.T, name, issuer, keys, aud, subject, claim, pattern, client string, ttl int64) {
		p := &store.TrustPolicy{Name: name, Issuer: issuer, Audiences: []string{aud}, Subject: subject,
			Claims: map[string]string{claim: pattern}, ClientID: client, MaxTTL: time.Duration(ttl)}
		if strings.HasPrefix(keys, "{") {
			p.JWKS = []byte(keys)
		} else {
			p.JWKSURI = keys
		}
		if p.Validate() != nil {
			return
		}
		if len(p.Subject) > store.MaxPatternBytes || strings.Trim(p.Subject, "*") == "" || p.MaxTTL < 0 ||
			!strings.HasPrefix(p.Issuer, "https://") && !strings.HasPrefix(p.Issuer, "http://") ||
			strings.ContainsAny(p.Issuer+p.Name+p.ClientID, " \n?#") {
			t.Errorf("Validate() accepted %+v", p)
		}
	})
}
