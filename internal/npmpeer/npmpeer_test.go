package npmpeer

import (
	"strings"
	"testing"
	"time"
)

// TestNodeResolvesPeers checks that node runs and resolves every pinned
// package from the npm directory, so a broken install fails here first.
func TestNodeResolvesPeers(t *testing.T) {
	out, err := Run(t, 30*time.Second, nil, "-e",
		`for (const m of ["jose", "oauth4webapi", "playwright-core"]) { await import(m) } console.log("ok")`,
		"--input-type=module")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("node printed %q, want ok", out)
	}
}
