package store_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m/store"
)

func validClient() *store.Client {
	return &store.Client{
		ID: "Ab0-._~", Name: "billing worker é", Audiences: []string{"https://api.example/"},
		Scopes: []string{"read:invoices"}, TokenTTL: time.Hour, RateLimitPerSecond: 12.5, RateLimitBurst: 40,
		Profile: "auth0", Metadata: map[string]string{"owner": "team billing"},
	}
}

func TestClientValidate(t *testing.T) {
	tests := []struct {
		name  string
		mod   func(c *store.Client)
		field string // "" means valid
	}{
		{"valid", func(*store.Client) {}, ""},
		{"zero optional fields", func(c *store.Client) { *c = store.Client{ID: "x"} }, ""},
		{"slowest rate", func(c *store.Client) { c.RateLimitPerSecond, c.RateLimitBurst = store.MinRateLimitPerSecond, 1 }, ""},
		{"generated id", func(c *store.Client) { c.ID = "q3Vn_8-Jx0aZk1lM2nO3pQ" }, ""},
		{"id with slash", func(c *store.Client) { c.ID = "a/b" }, "client_id"},
		{"id with newline", func(c *store.Client) { c.ID = "a\nb" }, "client_id"},
		{"id too long", func(c *store.Client) { c.ID = strings.Repeat("a", store.MaxClientIDBytes+1) }, "client_id"},
		{"id non-ASCII", func(c *store.Client) { c.ID = "é" }, "client_id"},
		{"name with control", func(c *store.Client) { c.Name = "a\x1b[31m" }, "name"},
		{"name with C1", func(c *store.Client) { c.Name = "a\u0085" }, "name"},
		{"name not UTF-8", func(c *store.Client) { c.Name = "\xff" }, "name"},
		{"name too long", func(c *store.Client) { c.Name = strings.Repeat("a", store.MaxClientNameBytes+1) }, "name"},
		{"empty audience", func(c *store.Client) { c.Audiences = []string{""} }, "audiences"},
		{"repeated audience", func(c *store.Client) { c.Audiences = []string{"a", "a"} }, "audiences"},
		{"scope with nbsp", func(c *store.Client) { c.Scopes = []string{"read\u00a0admin"} }, "scopes"},
		{"scope with quote", func(c *store.Client) { c.Scopes = []string{`a"b`} }, "scopes"},
		{"repeated scope", func(c *store.Client) { c.Scopes = []string{"a", "a"} }, "scopes"},
		{"sub-second ttl", func(c *store.Client) { c.TokenTTL = time.Millisecond }, "token_ttl_seconds"},
		{"huge ttl", func(c *store.Client) { c.TokenTTL = math.MaxInt64 }, "token_ttl_seconds"},
		{"rate 1e-300", func(c *store.Client) { c.RateLimitPerSecond = 1e-300 }, "rate_limit_per_second"},
		{"rate NaN", func(c *store.Client) { c.RateLimitPerSecond = math.NaN() }, "rate_limit_per_second"},
		{"rate -Inf", func(c *store.Client) { c.RateLimitPerSecond = math.Inf(-1) }, "rate_limit_per_second"},
		{"rate negative", func(c *store.Client) { c.RateLimitPerSecond = -1 }, "rate_limit_per_second"},
		{"rate absurd", func(c *store.Client) { c.RateLimitPerSecond = 1e300 }, "rate_limit_per_second"},
		{"burst absurd", func(c *store.Client) { c.RateLimitBurst = math.MaxInt }, "rate_limit_burst"},
		{"burst refills too slowly", func(c *store.Client) { c.RateLimitPerSecond, c.RateLimitBurst = store.MinRateLimitPerSecond, 31 }, "rate_limit_burst"},
		{"largest bucket", func(c *store.Client) {
			c.RateLimitPerSecond, c.RateLimitBurst = store.MaxRateLimitPerSecond, store.MaxRateLimitBurst
		}, ""},
		{"profile", func(c *store.Client) { c.Profile = "RFC9068" }, "profile"},
		{"metadata key space", func(c *store.Client) { c.Metadata = map[string]string{"a b": ""} }, "metadata"},
		{"metadata value newline", func(c *store.Client) { c.Metadata = map[string]string{"a": "x\ny"} }, "metadata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validClient()
			tt.mod(c)
			err := c.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v; want nil", err)
				}
				return
			}
			var fe *store.FieldError
			if !errors.Is(err, store.ErrInvalid) || !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("Validate() = %v; want a FieldError for %s", err, tt.field)
			}
			if strings.ContainsAny(err.Error(), "\x1b\u0085\u00a0/\xff") {
				t.Errorf("Validate() = %q; echoes the value", err)
			}
		})
	}
	// Every problem at once.
	c := &store.Client{ID: "a/b", Scopes: []string{"a b"}, Profile: "x"}
	if err := c.Validate(); err == nil || strings.Count(err.Error(), "\n") != 2 {
		t.Errorf("Validate() of three problems = %v; want three lines", err)
	}
}

func TestValidateUpdate(t *testing.T) {
	legacy := validClient()
	legacy.Scopes = []string{"read\u00a0admin"}
	disabled := legacy.Clone()
	disabled.Disabled = true
	if err := store.ValidateUpdate(legacy, disabled); err != nil {
		t.Errorf("ValidateUpdate(disable a legacy record) = %v; want nil", err)
	}
	worse := disabled.Clone()
	worse.Profile = "x"
	if err := store.ValidateUpdate(legacy, worse); !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "profile") || strings.Contains(err.Error(), "scopes") {
		t.Errorf("ValidateUpdate(new problem) = %v; want only the profile problem", err)
	}
	if err := store.ValidateUpdate(validClient(), legacy); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("ValidateUpdate(valid -> invalid) = %v; want ErrInvalid", err)
	}
}
