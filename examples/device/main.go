// Command device is the camera of the microdot auth recipe as a runnable
// program: on first boot it creates a 32-byte signing secret in
// DATA/secret.bin (mode 0600, created once even when two copies start
// together) and a password file DATA/htpasswd with a random password for
// "admin", printed once. Then it serves:
//
//	POST /api/login  {"user": ..., "pass": ...} -> 200 {"token": ...}, a 1 h HS256 device token
//	POST /api/ack    Authorization: Bearer TOKEN, {"count": N}; 400 "missing count" without count
//	GET  /admin      HTTP Basic (the same users), the device's state
//
// Usage:
//
//	go run ./examples/device [-addr 127.0.0.1:8000] [-data DIR] [-htpasswd FILE]
//
// Deleting secret.bin and restarting invalidates every token issued
// before; "m2m secret rotate --file DATA/secret.bin" and a restart rotates
// the secret while earlier tokens keep working until they expire.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(2)
	}
}

// run parses args, boots the device and serves until ctx is done. ready,
// if not nil, is called with the listening address.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(addr string)) error {
	fs := flag.NewFlagSet("device", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8000", "listen address")
	data := fs.String("data", filepath.Join("examples", "device", "data"), "data directory (secret.bin, htpasswd)")
	htpasswd := fs.String("htpasswd", "", "password file (user:hash lines, see \"m2m basic hash\"); default DATA/htpasswd, created on first boot")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("device: unexpected argument %q", fs.Arg(0))
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	d, err := newDevice(config{Dir: *data, Htpasswd: *htpasswd, Out: stdout, Logger: logger})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("device: %w", err)
	}
	srv := &http.Server{
		Handler:           d.handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
	fmt.Fprintf(stdout, "device: listening on http://%s (data in %s)\n", ln.Addr(), *data)
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("device: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
