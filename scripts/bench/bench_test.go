package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m/internal/cli"
	"github.com/m2mkit/m2m/scripts/internal/loadgen"
)

// TestMain lets the test binary be the trivial handler and the m2m
// command, as the bench program is.
func TestMain(m *testing.M) {
	if v, ok := os.LookupEnv(childEnv); ok {
		f := strings.Fields(v)
		cert, key := "", ""
		if len(f) == 3 {
			cert, key = f[1], f[2]
		}
		if err := loadgen.ServeTrivial(cert, key); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv(asM2MEnv) == "1" {
		os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestRun runs the benchmark briefly on a few shapes with the Go
// generator, the test binary standing in for the m2m binary, and checks
// the table: every row measured, without errors, with a ratio to the
// trivial handler, and the PostgreSQL shapes skipped without -postgres.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(asM2MEnv, "1")
	cfg, err := parseFlags(flag.NewFlagSet("bench", flag.ContinueOnError), []string{
		"-shapes", "trivial,token-es256,introspect-revoked,token-pg-redis", "-connections", "2",
		"-duration", "300ms", "-warmup", "0s", "-generator", "go", "-m2m", self})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, cfg, &out, io.Discard); err != nil {
		t.Fatalf("run: %v\n%s", err, &out)
	}
	table := out.String()
	for _, want := range []string{
		"| shape | what | connections | req/s | ratio to trivial | p50 | p99 | server CPU/req | peak RSS MiB | errors |",
		"| trivial | trivial net/http handler, fixed JSON | 2 | ",
		"| token-es256 | POST /oauth/token, ES256, SQLite | 2 | ",
		"| introspect-revoked | POST /oauth/introspect, revoked token | 2 | ",
		"| token-pg-redis | POST /oauth/token, ES256, PostgreSQL + Redis, 1 replica | 2 | skipped: no -postgres and -redis |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	for _, line := range strings.Split(table, "\n") {
		if strings.HasPrefix(line, "| token-es256 ") || strings.HasPrefix(line, "| introspect-revoked ") {
			if !strings.HasSuffix(line, " | 0 |") || strings.Contains(line, "n/a") || strings.Contains(line, "| – |") {
				t.Errorf("row %q: want a ratio, a CPU figure and 0 errors", line)
			}
		}
	}
}

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		ok   bool
	}{
		{"defaults", nil, true},
		{"unknown shape", []string{"-shapes", "token-es256,nope"}, false},
		{"twice", []string{"-shapes", "jwks,jwks"}, false},
		{"postgres without redis", []string{"-postgres", "postgres://x"}, false},
		{"too many connections", []string{"-connections", "16,1000"}, false},
		{"long duration", []string{"-duration", "1h"}, false},
		{"generator", []string{"-generator", "ab"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("bench", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			_, err := parseFlags(fs, tc.args)
			if (err == nil) != tc.ok {
				t.Errorf("parseFlags(%q) = %v; want ok %v", tc.args, err, tc.ok)
			}
		})
	}
}
