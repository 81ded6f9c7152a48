package cli

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
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
// "status N" asserts the exit code of the last m2m command.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
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
