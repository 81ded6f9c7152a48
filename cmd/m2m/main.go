// Command m2m is the m2m toolkit's command line: the token server
// (m2m serve), client and key administration, and tools to issue, verify
// and inspect every credential scheme m2m speaks. Run "m2m --help".
package main

import (
	"os"

	"github.com/m2mkit/m2m/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
