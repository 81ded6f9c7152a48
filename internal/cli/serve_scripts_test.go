package cli

import (
	"net"
	"strconv"
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
		Cmds: scriptCmds,
	})
}
