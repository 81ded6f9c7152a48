package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// walkFlags calls f for every flag defined on a command of the tree,
// hidden ones included.
func walkFlags(c *cobra.Command, f func(c *cobra.Command, fl *pflag.Flag)) {
	c.LocalFlags().VisitAll(func(fl *pflag.Flag) { f(c, fl) })
	for _, sub := range c.Commands() {
		walkFlags(sub, f)
	}
}

// typeFamily maps a flag type to what it holds: a flag that takes one
// value and one that takes several of the same kind are one family.
func typeFamily(t string) string {
	t = strings.TrimSuffix(t, "Array")
	return strings.TrimSuffix(t, "Slice")
}

// TestFlagSpellings walks every flag of every command and fails on a
// concept spelled two ways: a synonym of a canonical flag name, one name
// with two types, a span of time that is not a Go duration, or a -file
// flag that does not take a path.
func TestFlagSpellings(t *testing.T) {
	// Synonyms that must not come back as flags: each maps to the one
	// spelling of its concept.
	synonyms := map[string]string{
		"alg":         "algorithm",
		"algorithms":  "algorithm",
		"iss":         "issuer",
		"aud":         "audience",
		"audiences":   "audience",
		"sub":         "subject",
		"scopes":      "scope",
		"tolerance":   "max-age",
		"maxage":      "max-age",
		"lifetime":    "ttl",
		"expires-in":  "ttl",
		"file":        "a named file flag (--secret-file, --htpasswd-file, ...)",
		"secret":      "--secret-file or M2M_SECRET (never a secret on the command line)",
		"password":    "standard input (never a secret on the command line)",
		"admin-token": "--admin-token-file or M2M_ADMIN_TOKEN",
	}
	// Spans of time, always Go durations.
	durations := map[string]bool{
		"ttl": true, "token-ttl": true, "max-age": true, "timeout": true, "grace": true, "leeway": true,
		"pre-publish": true, "rotate-every": true, "key-refresh": true, "utc-offset": true,
	}
	types := map[string]string{} // flag name -> type family, first seen
	where := map[string]string{}
	walkFlags(Root(&Env{}), func(c *cobra.Command, fl *pflag.Flag) {
		at := c.CommandPath() + " --" + fl.Name
		if want, ok := synonyms[fl.Name]; ok {
			t.Errorf("%s: a second spelling; use %s", at, want)
		}
		fam := typeFamily(fl.Value.Type())
		if first, ok := types[fl.Name]; ok && first != fam {
			t.Errorf("%s is a %s but %s is a %s: one name, one kind of value", at, fam, where[fl.Name], first)
		} else if !ok {
			types[fl.Name], where[fl.Name] = fam, at
		}
		if durations[fl.Name] && fl.Value.Type() != "duration" {
			t.Errorf("%s is a %s; want a Go duration (90s, 15m)", at, fl.Value.Type())
		}
		if strings.HasSuffix(fl.Name, "-file") && fl.Value.Type() != "string" {
			t.Errorf("%s is a %s; want a path", at, fl.Value.Type())
		}
	})
}

// run runs the m2m command line with args in dir and returns its exit
// code, standard output and standard error.
func run(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, LookupEnv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}}
	return Run(e, args), out.String(), errb.String()
}

// TestHiddenAliases checks that each old spelling kept for a published
// example answers exactly as the flag's one name does, and that help
// shows only the one name.
func TestHiddenAliases(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "s.bin")
	if err := os.WriteFile(secret, []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	_, line, _ := run(t, nil, "pw\n", "basic", "hash", "--user", "admin", "--cost", "4")
	if err := os.WriteFile(htpasswd, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"M2M_SECRET": "0123456789abcdef0123456789abcdef"}
	tok := func() string {
		_, out, _ := run(t, env, "", "jwt", "issue", "--subject", "a", "--issuer", "i", "--audience", "x", "--now", "1700000000")
		return strings.TrimSpace(out)
	}()
	dyn := func() string {
		_, out, _ := run(t, env, "", "dynamic", "encode", "--now", "2026-11-22T10:00:00Z")
		return strings.TrimSpace(out)
	}()
	for _, tc := range []struct {
		name     string
		old, one []string
		stdin    string
		help     []string // the command whose help must not show the old name
		oldName  string
	}{
		{"jwt issue --sub", []string{"jwt", "issue", "--sub", "a", "--now", "1700000000"}, []string{"jwt", "issue", "--subject", "a", "--now", "1700000000"}, "", []string{"jwt", "issue"}, "--sub "},
		{"jwt verify --iss --aud", []string{"jwt", "verify", "--token", tok, "--iss", "i", "--aud", "x", "--now", "1700000001", "--json"},
			[]string{"jwt", "verify", "--token", tok, "--issuer", "i", "--audience", "x", "--now", "1700000001", "--json"}, "", []string{"jwt", "verify"}, "--iss "},
		{"jwt issue --alg --iss --aud", []string{"jwt", "issue", "--sub", "a", "--alg", "HS512", "--iss", "i", "--aud", "x", "--now", "1700000000"},
			[]string{"jwt", "issue", "--subject", "a", "--algorithm", "HS512", "--issuer", "i", "--audience", "x", "--now", "1700000000"}, "", []string{"jwt", "issue"}, "--alg "},
		{"secret init --file", []string{"secret", "init", "--file", secret, "--json"}, []string{"secret", "init", "--secret-file", secret, "--json"}, "", []string{"secret", "init"}, "--file "},
		{"basic verify --file", []string{"basic", "verify", "--file", htpasswd, "--user", "admin", "--json"},
			[]string{"basic", "verify", "--htpasswd-file", htpasswd, "--user", "admin", "--json"}, "pw\n", []string{"basic", "verify"}, "--file "},
		{"rolling --ttl 3", []string{"rolling", "generate", "--mode", "m2m_token", "--ttl", "3", "--now", "2024-03-10T21:30:01.25Z"},
			[]string{"rolling", "generate", "--mode", "m2m_token", "--ttl", "3s", "--now", "2024-03-10T21:30:01.25Z"}, "", nil, ""},
		{"scoped issue --max-age 360", []string{"scoped", "issue", "--user", "1", "--allow", "GET:/a", "--max-age", "360", "--now", "1700000000"},
			[]string{"scoped", "issue", "--user", "1", "--allow", "GET:/a", "--ttl", "6m", "--now", "1700000000"}, "", []string{"scoped", "issue"}, "--max-age"},
		{"dynamic decode --tolerance", []string{"dynamic", "decode", "--token", dyn, "--tolerance", "15s", "--now", "2026-11-22T10:00:16Z", "--json"},
			[]string{"dynamic", "decode", "--token", dyn, "--max-age", "15s", "--now", "2026-11-22T10:00:16Z", "--json"}, "", []string{"dynamic", "decode"}, "--tolerance"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c1, o1, e1 := run(t, env, tc.stdin, tc.one...)
			c2, o2, e2 := run(t, env, tc.stdin, tc.old...)
			if c1 != c2 || o1 != o2 || e1 != e2 {
				t.Errorf("m2m %s = %d %q %q; want as m2m %s: %d %q %q", strings.Join(tc.old, " "), c2, o2, e2, strings.Join(tc.one, " "), c1, o1, e1)
			}
			if strings.Contains(e2, "unknown flag") {
				t.Errorf("m2m %s: %s", strings.Join(tc.old, " "), e2)
			}
			if tc.help != nil {
				_, help, _ := run(t, nil, "", append(tc.help, "--help")...)
				if strings.Contains(help, tc.oldName) {
					t.Errorf("m2m %s --help shows the old spelling %q:\n%s", strings.Join(tc.help, " "), tc.oldName, help)
				}
			}
		})
	}
}

// TestDurationValue checks the duration flag: Go durations everywhere,
// and a bare number of seconds only on the flags that used to take one.
func TestDurationValue(t *testing.T) {
	for _, tc := range []struct {
		in   string
		bare bareSeconds
		want time.Duration
		ok   bool
	}{
		{"90s", noBareSeconds, 90 * time.Second, true},
		{"1h30m", noBareSeconds, 90 * time.Minute, true},
		{"0", noBareSeconds, 0, true}, // Go's own spelling of zero
		{"3", noBareSeconds, 0, false},
		{"3", wholeSeconds, 3 * time.Second, true},
		{"-14400", wholeSeconds, -4 * time.Hour, true},
		{"3.0", wholeSeconds, 0, false},
		{"0.5", fractionSeconds, 500 * time.Millisecond, true},
		{"1e3", fractionSeconds, 1000 * time.Second, true},
		{"NaN", fractionSeconds, 0, false},
		{"Inf", fractionSeconds, 0, false},
		{"0x10", fractionSeconds, 0, false},
		{"1e300", fractionSeconds, 0, false},
		{"99999999999999999", wholeSeconds, 0, false},
		{"", wholeSeconds, 0, false},
		{"1y", wholeSeconds, 0, false},
	} {
		var d time.Duration
		v := &durationValue{d: &d, bare: tc.bare}
		err := v.Set(tc.in)
		if (err == nil) != tc.ok || (tc.ok && d != tc.want) {
			t.Errorf("durationValue{bare: %d}.Set(%q) = %v, %v; want %v, ok %v", tc.bare, tc.in, d, err, tc.want, tc.ok)
		}
	}
}
