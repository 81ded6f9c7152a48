// Command api is the protected example API of the README's quick start: it
// accepts only access tokens issued by an m2m token server ("m2m serve")
// for its audience, verified against the server's JWKS, and answers
// GET /hello with who called and with which scopes. GET /admin also
// requires the scope "admin".
//
// Tokens come as "Authorization: Bearer <token>", or, DPoP-bound (RFC
// 9449, from "m2m serve --dpop"), as "Authorization: DPoP <token>" with a
// DPoP proof for this request: its htu must name -public-url (default
// http:// or https:// followed by -addr) and the request's path. A
// DPoP-bound token sent as Bearer is refused. A token bound to a client
// certificate (RFC 8705, cnf.x5t#S256) is accepted as Bearer only over a
// TLS connection made with that certificate.
//
//	go run ./examples/api -issuer http://127.0.0.1:8080 -audience https://api.example.com
//
// With -tls-cert and -tls-key it serves HTTPS; -client-ca also asks
// clients for a certificate, verified against that CA when given (for
// tokens bound to a client certificate, RFC 8705). -redis shares the
// proof replay cache between replicas; -dpop-nonce requires a server
// nonce in proofs.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/redisstore"
	"github.com/m2mkit/m2m/replay"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9090", "listen address")
	issuer := flag.String("issuer", "http://127.0.0.1:8080", "the token server's issuer URL")
	audience := flag.String("audience", "https://api.example.com", "this API's audience")
	publicURL := flag.String("public-url", "", "the URL clients call this API at, which DPoP proofs name (default http:// or https:// and -addr)")
	tlsCert := flag.String("tls-cert", "", "serve HTTPS with this PEM certificate chain (with -tls-key)")
	tlsKey := flag.String("tls-key", "", "the PEM private key of -tls-cert")
	clientCA := flag.String("client-ca", "", "PEM CA certificates to verify client certificates against; clients may send one (needs -tls-cert)")
	redisURL := flag.String("redis", "", "redis:// URL of the DPoP proof replay cache shared by replicas (default: in memory)")
	dpopNonce := flag.Bool("dpop-nonce", false, "require a server nonce in DPoP proofs (use_dpop_nonce and DPoP-Nonce)")
	flag.Parse()

	tlsConfig, err := serverTLS(*tlsCert, *tlsKey, *clientCA)
	if err != nil {
		log.Fatal(err)
	}
	cfg := apiConfig{Issuer: *issuer, Audience: *audience, PublicURL: *publicURL}
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://" + *addr
		if tlsConfig != nil {
			cfg.PublicURL = "https://" + *addr
		}
	}
	if *redisURL != "" {
		c, err := redisstore.Open(context.Background(), *redisURL)
		if err != nil {
			log.Fatal(err)
		}
		defer c.Close()
		cfg.Replay = &redisstore.ReplayCache{Client: c, Prefix: "m2m-api:"}
	}
	if *dpopNonce {
		if cfg.Nonces, err = jwtauth.NewHMACNonces(); err != nil {
			log.Fatal(err)
		}
	}
	h, err := newAPI(cfg)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("api: listening on %s (issuer %s, audience %s)", cfg.PublicURL, cfg.Issuer, cfg.Audience)
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 5 * time.Second, TLSConfig: tlsConfig}
	if tlsConfig != nil {
		log.Fatal(srv.ListenAndServeTLS("", ""))
	}
	log.Fatal(srv.ListenAndServe())
}

// apiConfig configures the example API.
type apiConfig struct {
	Issuer, Audience string
	// PublicURL is what DPoP proofs' htu name, with the request's path.
	PublicURL string
	// Replay is the DPoP proof replay cache; nil means one in memory.
	Replay m2m.ReplayCache
	// Nonces, when set, are required in DPoP proofs.
	Nonces jwtauth.NonceSource
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// newAPI builds the protected handler: every route requires a valid
// RFC 9068 access token from issuer for audience, sent as Bearer (over
// its certificate when bound to one) or, when bound to a DPoP key, as
// DPoP with its proof.
func newAPI(c apiConfig) (http.Handler, error) {
	if c.Replay == nil {
		c.Replay = &replay.Memory{Now: c.Now}
	}
	tokens, err := jwtauth.NewAccessTokens(jwtauth.Config{
		Issuer:     c.Issuer,
		Audiences:  []string{c.Audience},
		Algorithms: []string{"ES256", "EdDSA", "RS256"},
		Keys:       jwk.NewRemoteKeySet(strings.TrimSuffix(c.Issuer, "/") + "/.well-known/jwks.json"),
		Profile:    jwtauth.ProfileRFC9068,
		Now:        c.Now,
		DPoP:       &jwtauth.DPoPVerifier{Replay: c.Replay, Nonces: c.Nonces, Now: c.Now},
		PublicURL:  c.PublicURL,
	})
	if err != nil {
		return nil, err
	}
	// Bearer tokens, unbound or bound to the client certificate of the
	// TLS connection (RFC 8705), then DPoP-bound tokens with their proofs.
	certBound := &jwtauth.CertificateBoundTokens{Tokens: tokens}
	auth := &httpauth.Middleware{Verifiers: []m2m.Verifier{certBound, tokens}}
	mux := http.NewServeMux()
	mux.Handle("GET /hello", auth.Handler(http.HandlerFunc(hello)))
	mux.Handle("GET /admin", auth.Handler(auth.RequireScope("admin")(http.HandlerFunc(hello))))
	return mux, nil
}

// serverTLS returns the TLS configuration for -tls-cert, -tls-key and
// -client-ca; nil for plain HTTP. With a client CA, a client may present
// a certificate, which must then verify against the CA.
func serverTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		if caFile != "" {
			return nil, errors.New("api: -client-ca needs -tls-cert and -tls-key")
		}
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, errors.New("api: give both -tls-cert and -tls-key")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("api: -tls-cert/-tls-key: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("api: -client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("api: -client-ca %s: no PEM certificate", caFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

func hello(w http.ResponseWriter, r *http.Request) {
	p, _ := m2m.FromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"hello": p.ClientID, "scheme": p.Scheme, "scopes": p.Scopes, "path": r.URL.Path})
}
