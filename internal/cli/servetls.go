package cli

import (
	"log/slog"
	"net"

	"github.com/m2mkit/m2m/internal/tlsreload"
)

// newCertReloader loads the TLS pair of m2m serve and returns the reloader
// that serves it: its Run follows the files, its Reload (on SIGHUP) loads
// them at once, and a refused pair keeps the previous one in service.
func newCertReloader(certFile, keyFile string, logger *slog.Logger) (*tlsreload.Reloader, error) {
	return tlsreload.New(tlsreload.Options{CertFile: certFile, KeyFile: keyFile, Logger: logger})
}

// isLoopback reports whether the listen address addr (HOST:PORT) only
// accepts connections from this machine: localhost or a loopback IP. An
// empty host listens on every interface.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
