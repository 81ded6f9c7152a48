package cli

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/keyring"
	"github.com/m2mkit/m2m/ratelimit"
	"github.com/m2mkit/m2m/redisstore"
	"github.com/m2mkit/m2m/secretfile"
	"github.com/m2mkit/m2m/store"
	"github.com/m2mkit/m2m/store/sqlstore"
)

// Names inside the data directory.
const (
	dataDBFile     = "m2m.db"
	dataMasterFile = "master.key"
	defaultDataDir = "./m2m-data"
)

// shutdownTimeout bounds how long serve waits for in-flight requests.
const shutdownTimeout = 10 * time.Second

// dataFlags locate the server's data: a data directory holding the SQLite
// database and the master secret, or a database URL (the master secret
// then still lives in the data directory unless --master-secret-file says
// otherwise).
type dataFlags struct {
	data, database, masterFile string
}

func (f *dataFlags) add(fs *pflag.FlagSet, master bool) {
	fs.StringVar(&f.data, "data", defaultDataDir, "data directory: SQLite database "+dataDBFile+" and master secret "+dataMasterFile+" (env M2M_DATA)")
	fs.StringVar(&f.database, "database", "", "database URL instead of the data directory's SQLite file: sqlite:PATH or postgres://... (env M2M_DATABASE)")
	if master {
		fs.StringVar(&f.masterFile, "master-secret-file", "", "master secret file (default DATA/"+dataMasterFile+"; env M2M_MASTER_SECRET_FILE)")
	}
}

// envDefaults fills flags the user did not set from M2M_<NAME> environment
// variables (flags > environment > defaults).
func envDefaults(env *Env, fs *pflag.FlagSet, names ...string) error {
	for _, n := range names {
		fl := fs.Lookup(n)
		if fl == nil || fl.Changed {
			continue
		}
		key := "M2M_" + strings.ToUpper(strings.ReplaceAll(n, "-", "_"))
		if v, ok := env.Lookup(key); ok && v != "" {
			if err := fl.Value.Set(v); err != nil {
				return Usage("%s=%q: %v", key, v, err)
			}
		}
	}
	return nil
}

// databaseURL returns the database to open and creates the data directory
// (0700) when the database lives in it.
func (f *dataFlags) databaseURL() (string, error) {
	if f.database != "" {
		return f.database, nil
	}
	if err := os.MkdirAll(f.data, 0o700); err != nil {
		return "", Rejected(fmt.Errorf("creating data directory: %w", err))
	}
	abs, err := filepath.Abs(filepath.Join(f.data, dataDBFile))
	if err != nil {
		return "", Rejected(err)
	}
	return "sqlite://" + abs, nil
}

func (f *dataFlags) open(ctx context.Context) (*sqlstore.Store, string, error) {
	u, err := f.databaseURL()
	if err != nil {
		return nil, "", err
	}
	st, err := sqlstore.Open(ctx, u)
	if err != nil {
		return nil, "", Rejected(err)
	}
	return st, u, nil
}

// master loads the master secret, creating it (0600) on first use.
func (f *dataFlags) master() ([]byte, string, error) {
	path := f.masterFile
	if path == "" {
		if err := os.MkdirAll(f.data, 0o700); err != nil {
			return nil, "", Rejected(fmt.Errorf("creating data directory: %w", err))
		}
		path = filepath.Join(f.data, dataMasterFile)
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	k, err := secretfile.LoadOrCreate(path, secretfile.DefaultSize)
	if err != nil {
		return nil, "", Rejected(err)
	}
	return k.Current, path, nil
}

// displayURL hides a PostgreSQL password.
func displayURL(u string) string {
	if scheme, rest, ok := strings.Cut(u, "://"); ok {
		host, path, _ := strings.Cut(rest, "/")
		if at := strings.LastIndexByte(host, '@'); at >= 0 {
			if user, _, hasPassword := strings.Cut(host[:at], ":"); hasPassword {
				return scheme + "://" + user + ":***@" + host[at+1:] + "/" + path
			}
		}
	}
	return u
}

type serveOptions struct {
	dataFlags
	addr, issuer, profile, algorithm, logLevel string
	redisURL, redisPrefix                      string
	audienceProfiles                           map[string]string
	tokenTTL, rotateEvery, prePublish, refresh time.Duration
}

func cmdServe(env *Env) *cobra.Command {
	var o serveOptions
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the OAuth 2.0 token server (client credentials, JWKS, metadata)",
		Long: `Run the token server: POST /oauth/token (client credentials), GET /.well-known/jwks.json,
/.well-known/oauth-authorization-server, /.well-known/openid-configuration, /healthz, /readyz
and /metrics.

On first start it creates the data directory with the SQLite database, the master secret
(mode 0600, it seals the signing keys), the admin API token (admin.token, 0600) and the first
signing key, and prints where they are;
later starts reuse them. SIGINT or SIGTERM stops it gracefully: in-flight requests finish.
Register clients with "m2m client create" (it works while the server runs; the server sees
changes to clients within ` + authserver.DefaultClientCacheTTL.String() + `).

Several replicas share one PostgreSQL database (--database postgres://...), the master secret
(--master-secret-file) and, with --redis redis://HOST:PORT/DB, one Redis for the rate limits
(so together they grant one budget) and token revocations. When Redis cannot answer, rate
limits fall back to local buckets per replica and revocation checks answer 503.

Flags not given are read from M2M_ADDR, M2M_DATA, M2M_DATABASE, M2M_REDIS, M2M_ISSUER, ...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := envDefaults(env, cmd.Flags(), "addr", "data", "database", "issuer", "master-secret-file",
				"profile", "algorithm", "token-ttl", "rotate-every", "log-level", "redis", "redis-prefix"); err != nil {
				return err
			}
			return serve(env, &o)
		},
	}
	fs := c.Flags()
	o.dataFlags.add(fs, true)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address (env M2M_ADDR)")
	fs.StringVar(&o.issuer, "issuer", "", "issuer URL (default http://ADDR)")
	fs.StringVar(&o.profile, "profile", authserver.ProfileRFC9068, "default token profile: rfc9068 or auth0")
	fs.StringToStringVar(&o.audienceProfiles, "audience-profile", nil, "token profile for one audience, AUDIENCE=rfc9068|auth0 (repeatable)")
	fs.StringVar(&o.algorithm, "algorithm", keyring.DefaultAlgorithm, "algorithm of new signing keys: ES256, EdDSA or RS256")
	fs.DurationVar(&o.tokenTTL, "token-ttl", authserver.DefaultTokenTTL, "default access-token lifetime")
	fs.DurationVar(&o.rotateEvery, "rotate-every", 0, "rotate the signing key on this schedule (0: only on demand)")
	fs.DurationVar(&o.prePublish, "pre-publish", keyring.DefaultPrePublish, "how long a new key is published before it signs")
	fs.DurationVar(&o.refresh, "key-refresh", keyring.DefaultRefreshEvery, "how often the server reloads keys from the database")
	fs.StringVar(&o.redisURL, "redis", "", "Redis shared by replicas for rate limits and revocations: redis://[USER:PASSWORD@]HOST:PORT/DB (env M2M_REDIS)")
	fs.StringVar(&o.redisPrefix, "redis-prefix", "m2m:", "prefix of every Redis key (env M2M_REDIS_PREFIX)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug (one line per token), info, warn, error")
	return c
}

func serve(env *Env, o *serveOptions) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return Usage("--log-level %q: want debug, info, warn or error", o.logLevel)
	}
	if o.profile != authserver.ProfileRFC9068 && o.profile != authserver.ProfileAuth0 {
		return Usage("--profile %q: want rfc9068 or auth0", o.profile)
	}
	for aud, p := range o.audienceProfiles {
		if p != authserver.ProfileRFC9068 && p != authserver.ProfileAuth0 {
			return Usage("--audience-profile %s: unknown profile %q (want rfc9068 or auth0)", aud, p)
		}
	}
	if o.tokenTTL <= 0 || o.tokenTTL > keyring.DefaultMaxTokenTTL {
		return Usage("--token-ttl %v: want more than 0 and at most %v", o.tokenTTL, keyring.DefaultMaxTokenTTL)
	}
	logger := slog.New(slog.NewJSONHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	_, statErr := os.Stat(o.data)
	firstStart := o.database == "" && errors.Is(statErr, os.ErrNotExist)
	st, dbURL, err := o.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, w := range st.Warnings() {
		logger.Warn(w)
	}
	master, masterPath, err := o.master()
	if err != nil {
		return err
	}
	adminPath := filepath.Join(o.data, dataAdminFile)
	if o.database != "" && o.masterFile != "" {
		adminPath = filepath.Join(filepath.Dir(o.masterFile), dataAdminFile)
	}
	if abs, err := filepath.Abs(adminPath); err == nil {
		adminPath = abs
	}
	if err := os.MkdirAll(filepath.Dir(adminPath), 0o700); err != nil {
		return Rejected(err)
	}
	adminKey, err := secretfile.LoadOrCreate(adminPath, secretfile.DefaultSize)
	if err != nil {
		return Rejected(err)
	}
	adminHash := authserver.HashSecret(base64.RawURLEncoding.EncodeToString(adminKey.Current))
	kr, err := keyring.New(ctx, keyring.Config{
		Store: st, Master: master, Algorithm: o.algorithm,
		PrePublish: o.prePublish, RefreshEvery: o.refresh, RotateEvery: o.rotateEvery,
		MaxTokenTTL: keyring.DefaultMaxTokenTTL, Logger: logger,
	})
	if err != nil {
		return Rejected(err)
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return Rejected(err)
	}
	issuer := o.issuer
	if issuer == "" {
		issuer = "http://" + dialable(ln.Addr().String())
	}
	algs := []string{o.algorithm}
	for _, k := range kr.Keys() {
		if k.State != store.KeyRetired && !slices.Contains(algs, k.Algorithm) {
			algs = append(algs, k.Algorithm)
		}
	}
	var (
		limiter     ratelimit.Limiter
		revocations store.Revocations
	)
	if o.redisURL != "" {
		rc, err := redisstore.Config{Lazy: true}.Open(ctx, o.redisURL)
		if err != nil {
			ln.Close()
			return Usage("--redis: %v", err)
		}
		defer rc.Close()
		if err := rc.Ping(ctx); err != nil {
			logger.Warn("m2m: Redis unreachable at start; rate limits use local buckets until it answers", "error", err.Error())
		}
		limiter = &redisstore.Limiter{Client: rc, Prefix: o.redisPrefix + "rl:", Fallback: &ratelimit.Memory{}, Logger: logger}
		revocations = &redisstore.Revocations{Client: rc, Prefix: o.redisPrefix + "revoked:"}
	}
	srv, err := authserver.New(authserver.Config{
		Issuer: issuer, Clients: st, Signer: kr, SigningAlgorithms: algs,
		Profile: o.profile, AudienceProfiles: o.audienceProfiles, TokenTTL: o.tokenTTL, MaxTokenTTL: keyring.DefaultMaxTokenTTL,
		AdminTokenHash: adminHash, KeyRotator: kr,
		Limiter: limiter, Revocations: revocations,
		Logger: logger,
	})
	if err != nil {
		ln.Close()
		return Usage("%v", err)
	}
	if firstStart {
		abs, _ := filepath.Abs(o.data)
		fmt.Fprintf(env.Stdout, "m2m: created data directory %s\n", abs)
	}
	fmt.Fprintf(env.Stdout, "m2m: database %s\n", displayURL(dbURL))
	if o.redisURL != "" {
		fmt.Fprintf(env.Stdout, "m2m: redis %s (prefix %q)\n", displayURL(o.redisURL), o.redisPrefix)
	}
	fmt.Fprintf(env.Stdout, "m2m: master secret %s\n", masterPath)
	fmt.Fprintf(env.Stdout, "m2m: admin token %s (m2m client --server URL uses it)\n", adminPath)
	for _, k := range kr.Keys() {
		if k.State == store.KeyActive {
			fmt.Fprintf(env.Stdout, "m2m: signing key %s (%s)\n", k.ID, k.Algorithm)
		}
	}
	fmt.Fprintf(env.Stdout, "m2m: issuer %s\n", issuer)
	fmt.Fprintf(env.Stdout, "m2m: listening on http://%s\n", ln.Addr())

	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	keysDone := make(chan struct{})
	go func() {
		defer close(keysDone)
		_ = kr.Run(ctx)
	}()
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err = <-served:
		stop()
		<-keysDone
		return Rejected(err)
	case <-ctx.Done():
	}
	logger.Info("m2m: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err = hs.Shutdown(sctx)
	<-keysDone
	if err != nil {
		return Rejected(fmt.Errorf("shutdown: %w", err))
	}
	fmt.Fprintln(env.Stdout, "m2m: stopped")
	return nil
}

// dialable turns a listener address on an unspecified host into one a
// client can dial.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return net.JoinHostPort("localhost", port)
	}
	return addr
}
