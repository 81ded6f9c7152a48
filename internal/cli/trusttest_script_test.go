package cli

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/m2mkit/m2m/federation/federationtest"
)

// TestTrustScripts runs testdata/script_trust/*.txtar against a local
// OIDC issuer over HTTPS started for each script: $ISSUER is its URL,
// $WORK/issuer.pem its certificate (for SSL_CERT_FILE: m2m runs as a
// separate process, which reads the system trust store afresh), and
// $WORK/good.jwt and $WORK/dev.jwt tokens it signed for the subjects
// repo:acme/app:ref:refs/heads/main and .../dev (aud m2m,
// repository_owner_id 4242). $PORT is a free loopback port, for a script
// that starts "m2m serve" (as [TestServeScripts] gives one). "status N"
// and "introspect" work as in [TestScripts].
func TestTrustScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script_trust",
		Setup: func(env *testscript.Env) error {
			iss := federationtest.Start()
			env.Defer(iss.Close)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			env.Setenv("PORT", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
			if err := ln.Close(); err != nil {
				return err
			}
			env.Setenv("ISSUER", iss.URL)
			files := map[string]string{
				"issuer.pem": string(iss.CertificatePEM()),
				"good.jwt": iss.Token(map[string]any{"aud": "m2m", "sub": "repo:acme/app:ref:refs/heads/main",
					"repository_owner_id": "4242"}),
				"dev.jwt": iss.Token(map[string]any{"aud": "m2m", "sub": "repo:acme/app:ref:refs/heads/dev",
					"repository_owner_id": "4242"}),
			}
			for name, content := range files {
				if err := os.WriteFile(filepath.Join(env.WorkDir, name), []byte(content), 0o600); err != nil {
					return err
				}
			}
			return nil
		},
		Cmds: scriptCmds,
	})
}
