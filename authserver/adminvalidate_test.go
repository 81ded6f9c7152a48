package authserver_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/store"
)

// TestAdminCreateValidated is issue 13 item 8: every field of a client
// created through the admin API is bounded and validated, and a refusal is
// a 400 JSON answer naming each bad field, all at once.
func TestAdminCreateValidated(t *testing.T) {
	const good = `"name":"svc","audiences":["https://api.example.test"]`
	tests := []struct {
		name   string
		body   string
		fields []string // nil: accepted
	}{
		{"valid", `{` + good + `,"scopes":["read"],"token_ttl_seconds":86400,"rate_limit_per_second":0.5,"rate_limit_burst":3}`, nil},
		{"lifetime that overflows a Duration", `{` + good + `,"token_ttl_seconds":9223372036854775807}`, []string{"token_ttl_seconds"}},
		{"lifetime that overflows to a small value", `{` + good + `,"token_ttl_seconds":9223372037}`, []string{"token_ttl_seconds"}},
		{"lifetime over the server's maximum", `{` + good + `,"token_ttl_seconds":86401}`, []string{"token_ttl_seconds"}},
		{"negative lifetime", `{` + good + `,"token_ttl_seconds":-1}`, []string{"token_ttl_seconds"}},
		{"rate 1e-300", `{` + good + `,"rate_limit_per_second":1e-300}`, []string{"rate_limit_per_second"}},
		{"rate absurd", `{` + good + `,"rate_limit_per_second":1e300}`, []string{"rate_limit_per_second"}},
		{"negative rate", `{` + good + `,"rate_limit_per_second":-1}`, []string{"rate_limit_per_second"}},
		{"negative burst", `{` + good + `,"rate_limit_burst":-5}`, []string{"rate_limit_burst"}},
		{"absurd burst", `{` + good + `,"rate_limit_burst":9000000000}`, []string{"rate_limit_burst"}},
		{"id with a slash", `{` + good + `,"client_id":"a/b"}`, []string{"client_id"}},
		{"id with a newline", `{` + good + `,"client_id":"a\nb"}`, []string{"client_id"}},
		{"id of 10 KB", `{` + good + `,"client_id":"` + strings.Repeat("a", 10<<10) + `"}`, []string{"client_id"}},
		{"unknown profile", `{` + good + `,"profile":"jwt"}`, []string{"profile"}},
		{"no name", `{"audiences":["https://api.example.test"]}`, []string{"name"}},
		{"name with an escape sequence", `{"name":"a\u001b[2J","audiences":["a"]}`, []string{"name"}},
		{"no audience", `{"name":"svc"}`, []string{"audiences"}},
		{"bad metadata", `{` + good + `,"metadata":{"a b":"c"}}`, []string{"metadata"}},
		{"secret given", `{` + good + `,"client_secret":"mine"}`, []string{"client_secret"}},
		{"every problem at once", `{"client_id":"a/b","token_ttl_seconds":-1,"rate_limit_per_second":1e-300,"profile":"x","scopes":["a b"]}`,
			[]string{"audiences", "client_id", "name", "profile", "rate_limit_per_second", "scopes", "token_ttl_seconds"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAdminFixture(t)
			w := f.admin("POST", "/admin/clients", tt.body)
			if tt.fields == nil {
				if w.Code != http.StatusCreated {
					t.Fatalf("create = %d %s; want 201", w.Code, w.Body)
				}
				return
			}
			got := adminFields(t, w)
			slices.Sort(got)
			got = slices.Compact(got)
			if w.Code != http.StatusBadRequest || !slices.Equal(got, tt.fields) {
				t.Errorf("create %s = %d %s; want 400 naming %v (got %v)", tt.name, w.Code, w.Body, tt.fields, got)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q; want application/json", ct)
			}
			list, _ := f.clients.ListClients(context.Background())
			if len(list) != 1 {
				t.Errorf("%d clients after a refused create; want 1", len(list))
			}
		})
	}
}

func TestAdminBodyAndPath(t *testing.T) {
	f := newAdminFixture(t)
	tests := []struct {
		method, path, body string
		status             int
	}{
		{"POST", "/admin/clients", `{"name":"svc","audiences":["a"]} {"name":"two"}`, 400},
		{"POST", "/admin/clients", `{"name":"svc","audiences":["a"],"extra":1}`, 400},
		{"GET", "/admin/clients/" + strings.Repeat("a", 10<<10), "", 404},
		{"GET", "/admin/clients/a%0Ab", "", 404},
		{"DELETE", "/admin/clients/a%00b", "", 404},
		{"POST", "/admin/clients/a%0Ab/disable", "", 404},
		{"POST", "/admin/clients/" + strings.Repeat("a", 10<<10) + "/revoke-tokens", "", 404},
	}
	for _, tt := range tests {
		if w := f.admin(tt.method, tt.path, tt.body); w.Code != tt.status {
			t.Errorf("%s %.60s %q = %d %s; want %d", tt.method, tt.path, tt.body, w.Code, w.Body, tt.status)
		}
	}
}

func TestValidateClient(t *testing.T) {
	c := &store.Client{Name: "svc", Audiences: []string{"a"}, TokenTTL: 0}
	if err := authserver.ValidateClient(c, 0); err != nil {
		t.Errorf("ValidateClient(no id) = %v; want nil (CreateClient generates one)", err)
	}
	c.Audiences = nil
	c.Scopes = []string{"read\u00a0admin"}
	err := authserver.ValidateClient(c, 0)
	var fields []string
	for _, fe := range store.FieldErrors(err) {
		fields = append(fields, fe.Field)
	}
	if !errors.Is(err, store.ErrInvalid) || fmt.Sprint(fields) != "[scopes audiences]" {
		t.Errorf("ValidateClient = %v (fields %v); want scopes and audiences, wrapping ErrInvalid", err, fields)
	}
}
