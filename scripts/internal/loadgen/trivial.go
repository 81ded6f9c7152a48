package loadgen

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// TrivialBody is what the trivial handler returns: the shape and about the
// size of a token response.
var TrivialBody = []byte(`{"access_token":"` + strings.Repeat("x", 480) + `","token_type":"Bearer","expires_in":3600}` + "\n")

// ServeTrivial runs the ceiling: a net/http server on a free loopback
// port that reads (at most 8 KiB of) each request body and answers
// TrivialBody, over TLS when certFile and keyFile are given, until SIGTERM
// or an interrupt. It writes the record m2m serve writes when it listens
// to standard error, so that [Start] finds its URL.
func ServeTrivial(certFile, keyFile string) error {
	var cfg *tls.Config
	if certFile != "" || keyFile != "" {
		var err error
		if cfg, err = ServerTLSConfig(certFile, keyFile); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	scheme := "http"
	if cfg != nil {
		scheme = "https"
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, io.LimitReader(r.Body, 8<<10))
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(TrivialBody)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, TLSConfig: cfg}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	slog.New(slog.NewJSONHandler(os.Stderr, nil)).Info("m2m: listening", "url", scheme+"://"+ln.Addr().String())
	if cfg != nil {
		go srv.ServeTLS(ln, "", "")
	} else {
		go srv.Serve(ln)
	}
	<-ctx.Done()
	return srv.Shutdown(context.Background())
}
