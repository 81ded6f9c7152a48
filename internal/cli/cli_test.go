package cli

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/spf13/cobra"

	"github.com/m2mkit/m2m/internal/version"
)

const exitFile = ".m2m-exit"

// TestMain lets the txtar scripts run "m2m" in-process. The exit code of
// the last m2m run is kept in $WORK/.m2m-exit for the "status" command.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"m2m": func() {
			code := Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
			if w := os.Getenv("WORK"); w != "" {
				_ = os.WriteFile(filepath.Join(w, exitFile), []byte(strconv.Itoa(code)), 0o600)
			}
			os.Exit(code)
		},
	})
}

// TestScripts runs testdata/script/*.txtar, one script per command group.
// Besides testscript's commands, "status N" asserts the exit code of the
// last m2m command.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:  "testdata/script",
		Cmds: scriptCmds,
	})
}

// scriptCmds are the commands the CLI scripts add to testscript's own:
// "status N" asserts the exit code of the last m2m command; "introspect"
// is described at [scriptIntrospect].
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"introspect": scriptIntrospect,
	"status": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 1 || neg {
			ts.Fatalf("usage: status N")
		}
		b, err := os.ReadFile(ts.MkAbs(exitFile))
		ts.Check(err)
		if got := strings.TrimSpace(string(b)); got != args[0] {
			ts.Fatalf("m2m exit status %s; want %s", got, args[0])
		}
	},
}

// TestGroupsWithoutSubcommand walks the whole command tree: every command
// group run without a subcommand prints its usage on stderr and exits 2,
// and so does a group given an unknown subcommand.
func TestGroupsWithoutSubcommand(t *testing.T) {
	var groups [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		if !c.HasSubCommands() {
			return
		}
		groups = append(groups, path)
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string(nil), path...), sub.Name()))
		}
	}
	walk(Root(&Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard}), nil)
	if len(groups) < 2 {
		t.Fatalf("found %d command groups; want the root and at least one more", len(groups))
	}
	for _, path := range groups {
		for _, args := range [][]string{path, append(append([]string(nil), path...), "no-such-subcommand")} {
			t.Run(strings.Join(append([]string{"m2m"}, args...), " "), func(t *testing.T) {
				var stdout, stderr strings.Builder
				code := Run(&Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, LookupEnv: noEnv}, args)
				if code != 2 {
					t.Errorf("exit code = %d; want 2 (stderr %q)", code, stderr.String())
				}
				if stdout.Len() != 0 {
					t.Errorf("stdout = %q; want nothing", stdout.String())
				}
				if !strings.Contains(stderr.String(), "Usage:") && !strings.Contains(stderr.String(), "unknown command") {
					t.Errorf("stderr = %q; want the usage or an unknown command error", stderr.String())
				}
			})
		}
	}
}

// TestVersionFlag checks that "m2m --version" and "m2m version" print the
// same line, taken from internal/version.
func TestVersionFlag(t *testing.T) {
	want := "m2m " + version.String() + "\n"
	for _, args := range [][]string{{"--version"}, {"version"}} {
		var stdout, stderr strings.Builder
		code := Run(&Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, LookupEnv: noEnv}, args)
		if code != 0 || stdout.String() != want {
			t.Errorf("m2m %s = %d, %q (stderr %q); want 0, %q", strings.Join(args, " "), code, stdout.String(), stderr.String(), want)
		}
	}
}

func noEnv(string) (string, bool) { return "", false }
