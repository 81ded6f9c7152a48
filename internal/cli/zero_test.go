package cli

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// zeroMeans lists the flags whose explicit zero value ("", 0, 0s) is
// accepted, with what it means. Every other flag with a value refuses its
// zero (refuseZero) or checks it itself (zeroChecked). serve is out of
// this list: its flags are checked with the server's configuration.
var zeroMeans = map[string]string{
	"m2m basic hash --user":             "no user: the hash alone (as without the flag)",
	"m2m client create --scope":         "no scopes (as without the flag)",
	"m2m client create --quota-hourly":  "no hourly quota (as without the flag)",
	"m2m client create --quota-daily":   "no daily quota (as without the flag)",
	"m2m client update --scope":         "no scopes (TestClientUpdateFlags)",
	"m2m client update --ttl":           "the server's default lifetime (TestClientUpdateFlags)",
	"m2m client update --rate-limit":    "the server's default rate (TestClientUpdateFlags)",
	"m2m client update --burst":         "the rate's default burst (TestClientUpdateFlags)",
	"m2m client update --profile":       "the server's default profile (TestClientUpdateFlags)",
	"m2m client update --quota-hourly":  "no hourly quota (TestClientUpdateFlags)",
	"m2m client update --quota-daily":   "no daily quota (TestClientUpdateFlags)",
	"m2m client update --metadata":      "no metadata, as --clear-metadata",
	"m2m client rotate-secret --grace":  "the old secret stops working now (TestExplicitZeroMeansZero)",
	"m2m trust update --scope":          "the client's scopes (trust_update.txtar)",
	"m2m trust update --max-ttl":        "the client's or the server's lifetime (trust_update.txtar)",
	"m2m dynamic decode --max-age":      "none: only a token of this millisecond (TestExplicitZeroMeansZero)",
	"m2m dynamic encode --uuid":         "no user id (as without the flag)",
	"m2m jwt issue --issuer":            "no iss claim (as without the flag)",
	"m2m jwt issue --audience":          "no aud claim (as without the flag)",
	"m2m jwt verify --leeway":           "none: times compared exactly (jwt.txtar)",
	"m2m revoke --redis-prefix":         "no prefix, as m2m serve --redis-prefix ''",
	"m2m rolling generate --utc-offset": "UTC (as without the flag)",
	"m2m rolling verify --utc-offset":   "UTC (as without the flag)",
	"m2m rolling verify --window":       "the current step only (rolling.txtar)",
	"m2m scoped issue --recipient":      `"recipient": "" written (scoped.txtar)`,
	"m2m scoped verify --max-age":       "--raw: only a value signed this second (TestExplicitZeroMeansZero)",
	"m2m token --scope":                 "no scope requested (as without the flag)",
	"m2m token --retries":               "one attempt, no retry (TestExplicitZeroMeansZero)",
	"m2m request --scope":               "no scope requested (as without the flag)",
	"m2m request --retries":             "one attempt, no retry",
}

// zeroChecked lists the flags whose command refuses their zero itself,
// naming the parameter as the original library does (exit 1), with the
// word its error names.
var zeroChecked = map[string]string{
	"m2m rolling generate --ttl":      "ttl",
	"m2m rolling verify --ttl":        "ttl",
	"m2m rolling generate --length":   "length",
	"m2m rolling verify --length":     "length",
	"m2m rolling generate --alphabet": "alphabet",
	"m2m rolling verify --alphabet":   "alphabet",
}

// zeroSpelled is how the zero value of a flag type is written.
func zeroSpelled(typ string) string {
	switch typeFamily(typ) {
	case "int", "int64", "float64":
		return "0"
	case "duration":
		return "0s"
	}
	return ""
}

// zeroArgs are the arguments a command needs to get to its flag checks.
func zeroArgs(path string) []string {
	switch {
	case strings.HasPrefix(path, "m2m client ") && !strings.HasSuffix(path, " create") && !strings.HasSuffix(path, " list"):
		return []string{"some-client"}
	case path == "m2m trust show" || path == "m2m trust delete" || path == "m2m trust update":
		return []string{"some-policy"}
	case path == "m2m key revoke" || path == "m2m issuer set":
		return []string{"k1"}
	case path == "m2m request":
		return []string{"GET", "http://127.0.0.1:1/"}
	case path == "m2m issuer set":
		return []string{"https://auth.example.com"}
	}
	return nil
}

// TestEveryZeroDecided fails on a flag whose explicit zero nobody decided
// about: each flag that takes a value either refuses its zero, or its
// command checks it, or zeroMeans says what it means.
func TestEveryZeroDecided(t *testing.T) {
	walkFlags(Root(&Env{}), func(c *cobra.Command, fl *pflag.Flag) {
		path := c.CommandPath()
		if fl.Value.Type() == "bool" || strings.HasPrefix(path, "m2m serve") || fl.Name == "help" {
			return
		}
		key := path + " --" + fl.Name
		_, refused := fl.Annotations[zeroAnnotation]
		_, means := zeroMeans[key]
		_, checked := zeroChecked[key]
		if !refused && !means && !checked {
			t.Errorf("%s: an explicit zero (%q) is neither refused nor documented as meaning zero", key, zeroSpelled(fl.Value.Type()))
		}
		if refused && means {
			t.Errorf("%s: both refused and listed in zeroMeans", key)
		}
	})
}

// TestExplicitZeroRefused runs every command with each flag whose zero it
// refuses set to that zero, and wants a usage error (exit 2) naming the
// flag before anything is done.
func TestExplicitZeroRefused(t *testing.T) {
	t.Chdir(t.TempDir())
	walkFlags(Root(&Env{}), func(c *cobra.Command, fl *pflag.Flag) {
		path := c.CommandPath()
		key := path + " --" + fl.Name
		if _, refused := fl.Annotations[zeroAnnotation]; !refused {
			if want, ok := zeroChecked[key]; ok {
				t.Run(key, func(t *testing.T) {
					args := append(strings.Fields(path)[1:], zeroArgs(path)...)
					args = append(args, "--"+fl.Name+"="+zeroSpelled(fl.Value.Type()))
					code, _, stderr := run(t, map[string]string{"M2M_SECRET": "0123456789abcdef0123456789abcdef"}, "", args...)
					if code == 0 || !strings.Contains(stderr, want) {
						t.Errorf("m2m %s = exit %d, %q; want a refusal naming %s", strings.Join(args, " "), code, stderr, want)
					}
				})
			}
			return
		}
		t.Run(key, func(t *testing.T) {
			args := append(strings.Fields(path)[1:], zeroArgs(path)...)
			args = append(args, "--"+fl.Name+"="+zeroSpelled(fl.Value.Type()))
			code, stdout, stderr := run(t, nil, "", args...)
			if code != 2 || !strings.Contains(stderr, "--"+fl.Name+" ") || stdout != "" {
				t.Errorf("m2m %s = exit %d, stdout %q, stderr %q; want exit 2 naming --%s", strings.Join(args, " "), code, stdout, stderr, fl.Name)
			}
		})
	})
}

// TestExplicitZeroMeansZero checks the flags whose zero means zero against
// the default they used to fall back to.
func TestExplicitZeroMeansZero(t *testing.T) {
	env := map[string]string{"M2M_SECRET": "0123456789abcdef0123456789abcdef"}
	t.Run("dynamic decode --max-age 0s", func(t *testing.T) {
		_, tok, _ := run(t, env, "", "dynamic", "encode", "--now", "2026-11-22T10:00:00Z")
		tok = strings.TrimSpace(tok)
		for _, tc := range []struct {
			args []string
			want int
		}{
			{[]string{"--now", "2026-11-22T10:03:00Z"}, 0},                    // default 5m
			{[]string{"--now", "2026-11-22T10:03:00Z", "--max-age", "0s"}, 1}, // minutes old: refused
			{[]string{"--now", "2026-11-22T10:00:00.001Z", "--max-age", "0s"}, 1},
			{[]string{"--now", "2026-11-22T10:00:00Z", "--max-age", "0s"}, 0},
			{[]string{"--now", "2026-11-22T10:03:00Z", "--mode", "compat", "--max-age", "0s"}, 1},
		} {
			args := append([]string{"dynamic", "decode", "--token", tok}, tc.args...)
			if tc.args[len(tc.args)-1] == "compat" || strings.Contains(strings.Join(tc.args, " "), "compat") {
				_, ctok, _ := run(t, map[string]string{"M2M_SECRET": "k;ey"}, "", "dynamic", "encode", "--mode", "compat", "--now", "2026-11-22T10:00:00Z")
				args = append([]string{"dynamic", "decode", "--token", strings.TrimSpace(ctok)}, tc.args...)
				if code, _, stderr := run(t, map[string]string{"M2M_SECRET": "k;ey"}, "", args...); code != tc.want {
					t.Errorf("m2m %s = exit %d (%s); want %d", strings.Join(args, " "), code, stderr, tc.want)
				}
				continue
			}
			if code, _, stderr := run(t, env, "", args...); code != tc.want {
				t.Errorf("m2m %s = exit %d (%s); want %d", strings.Join(args, " "), code, stderr, tc.want)
			}
		}
	})
	t.Run("scoped verify --raw --max-age 0s", func(t *testing.T) {
		// signing.dumps("hello", key=SECRET) at 1700000000.
		_, tok, _ := run(t, env, "", "scoped", "issue", "--user", "1", "--allow", "GET:/", "--now", "1700000000")
		tok = strings.TrimSpace(tok)
		for _, tc := range []struct {
			now  string
			want int
		}{{"1700000000", 0}, {"1700000001", 1}, {"1700000000.5", 1}} {
			args := []string{"scoped", "verify", "--raw", "--token", tok, "--max-age", "0s", "--now", tc.now}
			if code, _, stderr := run(t, env, "", args...); code != tc.want {
				t.Errorf("m2m %s = exit %d (%s); want %d", strings.Join(args, " "), code, stderr, tc.want)
			}
		}
	})
	t.Run("token --retries 0", func(t *testing.T) {
		var hits atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}))
		defer srv.Close()
		env := map[string]string{"M2M_CLIENT_ID": "id", "M2M_CLIENT_SECRET": "secret"}
		code, _, _ := run(t, env, "", "token", "--token-url", srv.URL, "--audience", "a", "--retries", "0")
		if code != 1 || hits.Load() != 1 {
			t.Errorf("m2m token --retries 0 against a 503 = exit %d after %d requests; want exit 1 after 1", code, hits.Load())
		}
	})
}
