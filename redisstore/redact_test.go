package redisstore

import (
	"bufio"
	"bytes"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m/ratelimit"
)

// echoAddr returns the address of a server that answers every line it
// reads with a Redis error reply quoting reply: a proxy or a server that
// repeats the password it was sent in its refusal.
func echoAddr(t *testing.T, reply string) string {
	return fakeAddr(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			// One reply per command: a command starts with '*'.
			if strings.HasPrefix(line, "*") {
				c.Write([]byte("-ERR " + reply + "\r\n"))
			}
		}
	})
}

// TestErrorsHidePassword: whatever the server or the network says, no
// error a Client or its users return, and no line they log, shows the
// password of the URL, not even when the server's refusal repeats it.
func TestErrorsHidePassword(t *testing.T) {
	const password = "S3cret-redis-pw"
	for _, srv := range []struct {
		name string
		addr func(*testing.T) string
	}{
		{"closed port", deadAddr},
		{"server echoes the password", func(t *testing.T) string {
			return echoAddr(t, "WRONGPASS invalid password "+password+" for user default")
		}},
	} {
		t.Run(srv.name, func(t *testing.T) {
			ctx := t.Context()
			rawURL := "redis://default:" + password + "@" + srv.addr(t) + "/0"
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			var errs []error
			if _, err := Open(ctx, rawURL); err != nil {
				errs = append(errs, err)
			} else {
				t.Error("Open = nil error; want a failure")
			}
			c, err := Config{Lazy: true, Backoff: -1}.Open(ctx, rawURL)
			if err != nil {
				t.Fatalf("Open(lazy) = %v", err)
			}
			defer c.Close()
			errs = append(errs, c.Ping(ctx))
			_, err = (&ReplayCache{Client: c, Logger: log}).Use(ctx, "k", time.Now().Add(time.Minute))
			errs = append(errs, err)
			_, err = (&Limiter{Client: c}).Take(ctx, "k", ratelimit.Limit{Rate: 1, Burst: 1}, 1)
			errs = append(errs, err)
			if _, err := (&Limiter{Client: c, Fallback: &ratelimit.Memory{}, Logger: log}).Take(ctx, "k", ratelimit.Limit{Rate: 1, Burst: 1}, 1); err != nil {
				t.Errorf("Limiter.Take with a Fallback = %v; want the local bucket's answer", err)
			}
			errs = append(errs, (&Revocations{Client: c}).RevokeToken(ctx, "j", time.Now().Add(time.Minute)))
			_, err = (&Revocations{Client: c}).IsRevoked(ctx, "j")
			errs = append(errs, err)
			_, _, err = (&QuotaCounter{Client: c}).TakeQuota(ctx, "client", time.Now())
			errs = append(errs, err)
			for i, err := range errs {
				if err == nil {
					t.Errorf("call %d = nil error; want a failure", i)
					continue
				}
				if strings.Contains(err.Error(), password) {
					t.Errorf("call %d = %q; the error shows the password", i, err)
				}
			}
			if logs.Len() == 0 {
				t.Error("nothing logged; want the replay cache's and the limiter's failures")
			}
			if strings.Contains(logs.String(), password) {
				t.Errorf("the log shows the password:\n%s", logs.String())
			}
			// Masking keeps what callers branch on.
			var reply interface{ RedisError() }
			if srv.name == "server echoes the password" && !errors.As(errs[1], &reply) {
				t.Errorf("errors.As(Ping error, redis.Error) = false; want the server's reply still reachable")
			}
		})
	}
}
