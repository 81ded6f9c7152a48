// Package testbackend gives the project's tests the real PostgreSQL and
// Redis servers named by M2M_TEST_POSTGRES_DSN and M2M_TEST_REDIS_ADDR, or
// skips them with a message containing "SKIP-BACKEND" (which CI treats as
// a failure, since it sets both variables). It is used by tests only.
package testbackend

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// The environment variables that name the test servers.
const (
	PostgresEnv = "M2M_TEST_POSTGRES_DSN"
	RedisEnv    = "M2M_TEST_REDIS_ADDR"
)

// PostgresDSN returns $M2M_TEST_POSTGRES_DSN, or skips the test.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(PostgresEnv)
	if dsn == "" {
		t.Skip("SKIP-BACKEND: set " + PostgresEnv + " (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) to run the PostgreSQL tests")
	}
	return dsn
}

// RedisAddr returns $M2M_TEST_REDIS_ADDR (host:port), or skips the test.
func RedisAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv(RedisEnv)
	if addr == "" {
		t.Skip("SKIP-BACKEND: set " + RedisEnv + " (e.g. 127.0.0.1:6379) to run the Redis tests")
	}
	return addr
}

// Suffix returns a random hex string for schema names and key prefixes,
// so that concurrent test runs on one server never meet.
func Suffix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// PostgresSchema creates a fresh schema named prefix+Suffix() on the test
// server, drops it when the test ends, and returns a URL whose
// search_path selects it. It skips the test without a server.
func PostgresSchema(t testing.TB, prefix string) string {
	t.Helper()
	dsn := PostgresDSN(t)
	schema := prefix + Suffix()
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("testbackend: open %s: %v", PostgresEnv, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		t.Fatalf("testbackend: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("testbackend: drop schema: %v", err)
		}
		admin.Close()
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("testbackend: %s: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
