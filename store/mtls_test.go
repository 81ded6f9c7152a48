package store_test

import (
	"errors"
	"testing"

	"github.com/m2mkit/m2m/store"
)

func TestValidateMutualTLS(t *testing.T) {
	const jwks = `{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`
	tls := func(set func(c *store.Client)) *store.Client {
		c := &store.Client{ID: "w", AuthMethod: store.AuthMethodTLSClientAuth}
		set(c)
		return c
	}
	for _, tc := range []struct {
		name  string
		c     *store.Client
		field string // "" when valid
	}{
		{"subject", tls(func(c *store.Client) { c.TLSSubject = "CN=worker,O=Example" }), ""},
		{"dns", tls(func(c *store.Client) { c.TLSSANDNS = "worker.example" }), ""},
		{"uri", tls(func(c *store.Client) { c.TLSSANURI = "spiffe://example.org/w" }), ""},
		{"ip", tls(func(c *store.Client) { c.TLSSANIP = "192.0.2.7" }), ""},
		{"email", tls(func(c *store.Client) { c.TLSSANEmail = "w@example.org" }), ""},
		{"no name", tls(func(c *store.Client) {}), "tls_client_auth_subject_dn"},
		{"two names", tls(func(c *store.Client) { c.TLSSubject, c.TLSSANDNS = "CN=w", "w.example" }), "tls_client_auth_subject_dn"},
		{"bad subject", tls(func(c *store.Client) { c.TLSSubject = "worker" }), "tls_client_auth_subject_dn"},
		{"empty subject name", tls(func(c *store.Client) { c.TLSSubject = ""; c.TLSSANDNS = "" }), "tls_client_auth_subject_dn"},
		{"bad dns", tls(func(c *store.Client) { c.TLSSANDNS = "https://w.example/" }), "tls_client_auth_san_dns"},
		{"relative uri", tls(func(c *store.Client) { c.TLSSANURI = "/w" }), "tls_client_auth_san_uri"},
		{"bad ip", tls(func(c *store.Client) { c.TLSSANIP = "192.0.2.07" }), "tls_client_auth_san_ip"},
		{"bad email", tls(func(c *store.Client) { c.TLSSANEmail = "worker" }), "tls_client_auth_san_email"},
		{"with secret", tls(func(c *store.Client) { c.TLSSubject, c.SecretHash = "CN=w", []byte{1} }), "token_endpoint_auth_method"},
		{"with jwks", tls(func(c *store.Client) { c.TLSSubject, c.JWKS = "CN=w", []byte(jwks) }), "jwks"},
		{"self-signed", &store.Client{ID: "s", AuthMethod: store.AuthMethodSelfSignedTLSClientAuth, JWKS: []byte(jwks)}, ""},
		{"self-signed without keys", &store.Client{ID: "s", AuthMethod: store.AuthMethodSelfSignedTLSClientAuth}, "jwks"},
		{"self-signed by uri", &store.Client{ID: "s", AuthMethod: store.AuthMethodSelfSignedTLSClientAuth, JWKSURI: "https://c.example/jwks"}, "jwks_uri"},
		{"self-signed with subject", &store.Client{ID: "s", AuthMethod: store.AuthMethodSelfSignedTLSClientAuth, JWKS: []byte(jwks), TLSSubject: "CN=s"}, "tls_client_auth_subject_dn"},
		{"secret client with subject", &store.Client{ID: "s", TLSSubject: "CN=s"}, "tls_client_auth_subject_dn"},
		{"secret client bound", &store.Client{ID: "s", TLSClientCertificateBoundAccessTokens: true}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			if tc.field == "" {
				if err != nil {
					t.Errorf("Validate() = %v; want nil", err)
				}
				return
			}
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("Validate() = %v; want ErrInvalid", err)
			}
			found := false
			for _, fe := range store.FieldErrors(err) {
				found = found || fe.Field == tc.field
			}
			if !found {
				t.Errorf("Validate() = %v; want a problem with %s", err, tc.field)
			}
		})
	}
	c := &store.Client{AuthMethod: store.AuthMethodTLSClientAuth}
	if c.UsesSecret() || !c.UsesMutualTLS() {
		t.Errorf("tls_client_auth: UsesSecret() = %t, UsesMutualTLS() = %t; want false, true", c.UsesSecret(), c.UsesMutualTLS())
	}
}
