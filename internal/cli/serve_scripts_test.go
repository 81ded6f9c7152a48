package cli

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestServeScripts runs testdata/script_serve/*.txtar: scripts that start
// "m2m serve" in the background and talk to it. Each script gets its own
// loopback port in $PORT, one the kernel has just handed out for port 0,
// instead of a fixed port that another package's test, or another run of
// this one, could hold at the same time. "status N" works as in
// [TestScripts].
func TestServeScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script_serve",
		Setup: func(env *testscript.Env) error {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			env.Setenv("PORT", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
			return ln.Close()
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
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
		},
	})
}
