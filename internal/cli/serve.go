package cli

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/clientaddr"
	"github.com/m2mkit/m2m/console"
	"github.com/m2mkit/m2m/federation"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/internal/gctune"
	"github.com/m2mkit/m2m/internal/redact"
	"github.com/m2mkit/m2m/internal/tlsreload"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/keyring"
	"github.com/m2mkit/m2m/ratelimit"
	"github.com/m2mkit/m2m/redisstore"
	"github.com/m2mkit/m2m/replay"
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
			val := fl.Value
			if cv, ok := val.(*collectingValue); ok {
				val = cv.Value // report the variable, not the flag
			}
			if err := val.Set(v); err != nil {
				return Usage("%s=%q: %v", key, redact.URL(v), redact.Error(err, v))
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

// displayURL masks every credential in a database or Redis URL.
func displayURL(u string) string { return redact.URL(u) }

// serveOptions are the settings of m2m serve, one field per flag.
type serveOptions struct {
	dataFlags
	addr, issuer, profile, algorithm, logLevel string
	logFormat                                  string
	redisURL, redisPrefix                      string
	redisRateLease                             time.Duration
	audienceProfiles                           map[string]string
	tokenTTL, rotateEvery, prePublish, refresh time.Duration
	tlsCert, tlsKey                            string
	clientCA                                   string
	clientCertHeader, clientCertHeaderFormat   string
	insecureHTTP                               bool
	dpop, dpopNonce                            bool
	config, adminAddr                          string
	trustedProxies                             string
	// Usage telemetry and the audit log.
	metricsPerClient        bool
	auditRetention          time.Duration
	auditFile, auditWebhook string

	// sources says where each setting came from (flag, env, file;
	// absent: default), for the start log.
	sources map[string]string
	// flags are the command's flags, for the start log.
	flags *pflag.FlagSet
	// level is the logger's level: Info or lower during start-up and
	// shutdown, runLevel (--log-level) while serving.
	level    *slog.LevelVar
	runLevel slog.Level

	// flagErrs collects the bad values of the command line: serve reports
	// them with every other problem at once (see [collectFlagErrors]).
	flagErrs []error
}

// auth0Algorithm is the --algorithm of a server whose default profile is
// auth0 when no source sets one: Auth0 signs RS256, and its SDKs and
// samples verify RS256 only. RS256-2048 signing costs about 30 times an
// ES256 signature (BENCHMARKS.md); give --algorithm ES256 when every
// verifier accepts it.
const auth0Algorithm = "RS256"

// defaultRedisRateLease is --redis-rate-lease: how long a replica may
// spend a lease of tokens taken from a shared rate limit in Redis. A
// lease holds at most the tokens the limit refills in that time (and an
// eighth of its burst, and redisstore.MaxLeaseSize), so with 100 ms every
// limit up to 10 per second (the default client limit among them) stays
// exact, a large one costs Redis one script per 64 tokens, and an
// expiring lease loses at most a tenth of a second's refill per replica.
const defaultRedisRateLease = 100 * time.Millisecond

// redisPeekLeases is how many leases long a replica answers a failure
// check (a peek) from a bucket it found full: 1 s with the default lease.
// Another replica's failures are seen that late at most, which lets an
// attacker spreading guesses over the replicas one extra guess per
// replica per second, against server-generated 256-bit secrets; clients
// themselves are re-read every 2 s.
const redisPeekLeases = 10

// maxRedisRateLease bounds --redis-rate-lease (and so the failure check's
// 10 s).
const maxRedisRateLease = time.Second

// signingAlgorithms are the --algorithm values, spelled as in JOSE.
var signingAlgorithms = []string{"ES256", "EdDSA", "RS256"}

func cmdServe(env *Env) *cobra.Command {
	c, _ := newServeCmd(env)
	return c
}

// newServeCmd returns the serve command and the options its flags fill.
func newServeCmd(env *Env) (*cobra.Command, *serveOptions) {
	var o serveOptions
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the OAuth 2.0 token server (client credentials, JWKS, metadata)",
		Long: `Run the token server: POST /oauth/token (client credentials), GET /.well-known/jwks.json,
/.well-known/oauth-authorization-server, /.well-known/openid-configuration, /healthz, /readyz
and /metrics.

On first start it creates the data directory with the SQLite database, the master secret
(mode 0600, it seals the signing keys), the admin API token (admin.token, 0600) and the first
signing key, and logs where they are;
later starts reuse them. SIGINT or SIGTERM stops it gracefully: in-flight requests finish.
Register clients with "m2m client create" (it works while the server runs; the server sees
changes to clients within ` + authserver.DefaultClientCacheTTL.String() + `).

With --tls-cert and --tls-key it serves HTTPS only (TLS 1.2 and later, Go's default cipher
suites); the files are reloaded within ` + (2 * tlsreload.DefaultInterval).String() + ` of a change, and at once on SIGHUP,
without dropping connections. Plain HTTP is served on a loopback --addr (the quick start); on
any other address only with --insecure-http, for a server behind a TLS-terminating proxy.

With --admin-addr the admin API (/admin/...) and /metrics are served on that address only,
and the public --addr serves the OAuth endpoints, JWKS, metadata and health alone; without
it, --addr serves everything.

Start-up runs in three steps: every setting is checked first (all problems are reported at
once, exit 2), then the listen address is bound, and only then is the data directory or
database created or opened. A start that fails (bad setting, port in use) creates nothing.

Several replicas share one PostgreSQL database (--database postgres://...), the master secret
(--master-secret-file) and, with --redis redis://HOST:PORT/DB, one Redis for the rate limits
(so together they grant one budget) and token revocations; --redis-rate-lease lets a replica
take a large limit's tokens in batches (never more than the budget; 0: one round trip per
token). When Redis cannot answer, rate limits fall back to local buckets per replica and
revocation checks answer 503.

Every flag --foo-bar can also be set with the environment variable M2M_FOO_BAR, or with the
key foo-bar in the YAML file given by --config (see m2m.example.yaml). A flag wins over the
variable, the variable over the file, the file over the default. An unknown key, a bad value
or an M2M_* variable that looks like a misspelt setting is refused, every problem at once.
An empty variable counts as unset; an explicit zero means zero (or is refused), never the
default.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			sources, errs := resolveSettings(env, cmd.Flags())
			o.sources = sources
			if _, set := sources["algorithm"]; !set && jwtauth.Profile(o.profile) == jwtauth.ProfileAuth0 {
				// Auth0 signs RS256 and its SDKs and samples verify RS256
				// only: a server whose tokens are Auth0-shaped signs as
				// Auth0 does unless told otherwise.
				o.algorithm = auth0Algorithm
			}
			o.flagErrs = append(o.flagErrs, errs...)
			return serve(env, &o)
		},
	}
	fs := c.Flags()
	o.dataFlags.add(fs, true)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address (env M2M_ADDR)")
	fs.StringVar(&o.issuer, "issuer", "", "issuer URL (default https://ADDR with TLS, else http://ADDR)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate chain (with --tls-key; reloaded on change and on SIGHUP)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "PEM private key of --tls-cert (mode 0600)")
	fs.StringVar(&o.clientCA, "client-ca", "", "with --tls-cert (or --client-cert-header behind a proxy): request client certificates and accept mutual-TLS clients (RFC 8705; tls_client_auth certificates must chain to a CA in this PEM `FILE`, reloaded on change and on SIGHUP) and certificate-bound tokens")
	fs.StringVar(&o.clientCertHeader, "client-cert-header", "", "read mutual-TLS client certificates from this request header `NAME` (RFC 9440: Client-Cert), set by a TLS-terminating proxy and believed only from --trusted-proxies; tls_client_auth chains are verified against --client-ca")
	fs.StringVar(&o.clientCertHeaderFormat, "client-cert-header-format", string(httpauth.CertHeaderRFC9440), "how the proxy writes --client-cert-header: rfc9440 (:BASE64 DER:, HAProxy, Envoy, Apache) or escaped-pem (nginx's $ssl_client_escaped_cert)")
	fs.StringVar(&o.adminAddr, "admin-addr", "", "serve the admin API and /metrics on this address only; --addr then serves neither (default: both on --addr)")
	fs.StringVar(&o.trustedProxies, "trusted-proxies", "", "CIDR[,CIDR...] of the proxies whose Forwarded / X-Forwarded-For headers name the client address (rightmost untrusted hop); default: none, the TCP peer is the client")
	fs.BoolVar(&o.dpop, "dpop", false, "accept DPoP proofs (RFC 9449) at the token endpoint: a request with a valid proof gets a token bound to its key (cnf.jkt, token_type DPoP); one without still gets a Bearer token")
	fs.BoolVar(&o.dpopNonce, "dpop-nonce", false, "with --dpop: require a server nonce in every proof (use_dpop_nonce and a DPoP-Nonce header); replicas sharing the master secret accept each other's nonces")
	fs.BoolVar(&o.insecureHTTP, "insecure-http", false, "allow plain HTTP on a non-loopback --addr (behind a TLS-terminating proxy)")
	fs.StringVar(&o.profile, "profile", string(jwtauth.ProfileRFC9068), "default token profile: rfc9068 or auth0")
	fs.StringToStringVar(&o.audienceProfiles, "audience-profile", nil, "token profile for one audience, AUDIENCE=rfc9068|auth0 (repeatable)")
	fs.StringVar(&o.algorithm, "algorithm", keyring.DefaultAlgorithm, "algorithm of new signing keys: ES256, EdDSA or RS256 (default "+auth0Algorithm+" with --profile auth0, as Auth0 signs)")
	fs.DurationVar(&o.tokenTTL, "token-ttl", authserver.DefaultTokenTTL, "default access-token lifetime")
	fs.DurationVar(&o.rotateEvery, "rotate-every", 0, "rotate the signing key on this schedule (0: only on demand)")
	fs.DurationVar(&o.prePublish, "pre-publish", keyring.DefaultPrePublish, "how long a new key is published before it signs")
	fs.DurationVar(&o.refresh, "key-refresh", keyring.DefaultRefreshEvery, "how often the server reloads keys from the database")
	fs.StringVar(&o.redisURL, "redis", "", "Redis shared by replicas for rate limits and revocations: redis://[USER:PASSWORD@]HOST:PORT/DB (env M2M_REDIS)")
	fs.StringVar(&o.redisPrefix, "redis-prefix", "m2m:", "prefix of every Redis key (env M2M_REDIS_PREFIX)")
	fs.DurationVar(&o.redisRateLease, "redis-rate-lease", defaultRedisRateLease, "with --redis: how long a replica spends a batch of tokens taken at once from a large shared rate limit, and (ten times as long) answers a failure check from a bucket it found full; 0: exact, one Redis round trip per token and per check (at most "+maxRedisRateLease.String()+")")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug (one line per token), info, warn, error")
	fs.StringVar(&o.logFormat, "log-format", logFormatAuto, "format of every line serve writes (on standard error): json, text, or auto (text on a terminal, else json)")
	fs.BoolVar(&o.metricsPerClient, "metrics-per-client", false, "add per-client series to /metrics (m2m_client_token_requests_total by client_id and outcome; one series per client and outcome)")
	fs.DurationVar(&o.auditRetention, "audit-retention", authserver.DefaultAuditRetention, "how long audit events are kept in the database")
	fs.StringVar(&o.auditFile, "audit-file", "", "also append every audit event to this `FILE` as JSON lines (mode 0600)")
	fs.StringVar(&o.auditWebhook, "audit-webhook", "", "also POST audit events to this http(s) `URL` as JSON lines (retried with backoff; a slow webhook loses events, counted in m2m_audit_events_dropped_total, and never slows the token endpoint)")
	fs.StringVar(&o.config, configFlag, "", "YAML file of settings, one key per flag name (flags and M2M_* variables override it)")
	documentSettings(fs)
	collectFlagErrors(fs, &o.flagErrs)
	o.flags = fs
	return c, &o
}

// collectFlagErrors makes every flag of fs record a bad value in *errs
// instead of ending the parse at the first one, so that a command can
// report every problem of its command line at once.
func collectFlagErrors(fs *pflag.FlagSet, errs *[]error) {
	fs.VisitAll(func(f *pflag.Flag) {
		f.Value = &collectingValue{Value: f.Value, name: f.Name, errs: errs}
	})
}

// collectingValue is a flag value whose Set records its error.
type collectingValue struct {
	pflag.Value
	name string
	errs *[]error
}

func (v *collectingValue) Set(s string) error {
	if err := v.Value.Set(s); err != nil {
		*v.errs = append(*v.errs, fmt.Errorf("--%s: %w", v.name, err))
	}
	return nil
}

// validate checks every setting without touching the network or the disk
// and returns all the problems it finds, each naming its flag.
func (o *serveOptions) validate() []error {
	errs := slices.Clone(o.flagErrs)
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		bad("--log-level %q: want debug, info, warn or error", o.logLevel)
	}
	if !slices.Contains([]string{logFormatAuto, logFormatJSON, logFormatText}, o.logFormat) {
		bad("--log-format %q: want json, text or auto", o.logFormat)
	}
	if p := jwtauth.Profile(o.profile); p != jwtauth.ProfileRFC9068 && p != jwtauth.ProfileAuth0 {
		bad("--profile %q: want rfc9068 or auth0", o.profile)
	}
	for _, aud := range slices.Sorted(maps.Keys(o.audienceProfiles)) {
		switch p := o.audienceProfiles[aud]; {
		case aud == "":
			bad("--audience-profile =%s: empty audience", p)
		case jwtauth.Profile(p) != jwtauth.ProfileRFC9068 && jwtauth.Profile(p) != jwtauth.ProfileAuth0:
			bad("--audience-profile %s: unknown profile %q (want rfc9068 or auth0)", aud, p)
		}
	}
	if o.dpopNonce && !o.dpop {
		bad("--dpop-nonce needs --dpop")
	}
	if !slices.Contains(signingAlgorithms, o.algorithm) {
		bad("--algorithm %q: want one of %s", o.algorithm, strings.Join(signingAlgorithms, ", "))
	}
	if o.tokenTTL <= 0 || o.tokenTTL > keyring.DefaultMaxTokenTTL {
		bad("--token-ttl %v: want more than 0 and at most %v", o.tokenTTL, keyring.DefaultMaxTokenTTL)
	}
	if o.redisRateLease < 0 || o.redisRateLease > maxRedisRateLease {
		bad("--redis-rate-lease %v: want 0 (exact) to %v", o.redisRateLease, maxRedisRateLease)
	}
	if o.auditRetention <= 0 {
		bad("--audit-retention %v: want more than 0", o.auditRetention)
	}
	if o.auditWebhook != "" {
		if u, err := url.Parse(o.auditWebhook); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("--audit-webhook %q: want an http(s) URL", redact.URL(o.auditWebhook))
		}
	}
	if o.rotateEvery < 0 {
		bad("--rotate-every %v: want 0 (rotate only on demand) or more", o.rotateEvery)
	}
	if o.refresh <= 0 {
		bad("--key-refresh %v: want more than 0", o.refresh)
	}
	switch {
	case o.prePublish <= 0:
		bad("--pre-publish %v: want more than 0", o.prePublish)
	case o.refresh > 0 && o.prePublish <= o.refresh:
		bad("--pre-publish %v: want more than --key-refresh %v, so that every replica publishes a key before it signs", o.prePublish, o.refresh)
	case o.rotateEvery > 0 && o.rotateEvery <= o.prePublish:
		bad("--rotate-every %v: want more than --pre-publish %v", o.rotateEvery, o.prePublish)
	}
	if _, err := clientaddr.ParseTrustedProxies(o.trustedProxies); err != nil {
		bad("--trusted-proxies: %v", err)
	}
	if err := checkListenAddr(o.addr); err != nil {
		bad("--addr %q: %v", o.addr, err)
	}
	errs = append(errs, o.checkClientCertHeader()...)
	if o.issuer != "" {
		if err := checkIssuer(o.issuer); err != nil {
			bad("--issuer %q: %v", redact.URL(o.issuer), err)
		} else if o.tlsCert != "" && strings.HasPrefix(o.issuer, "http://") {
			bad("--issuer %q: the server speaks HTTPS (--tls-cert): want an https:// issuer", o.issuer)
		}
	}
	switch {
	case (o.tlsCert == "") != (o.tlsKey == ""):
		bad("--tls-cert and --tls-key: give both or neither")
	case o.tlsCert != "" && o.insecureHTTP:
		bad("--insecure-http: contradicts --tls-cert (HTTPS); give one of them")
	case o.clientCA != "" && o.tlsCert == "" && o.clientCertHeader == "":
		bad("--client-ca: mutual TLS needs the server to speak TLS (give --tls-cert and --tls-key) or a proxy that forwards the certificate (give --client-cert-header)")
	case o.tlsCert == "" && !o.insecureHTTP:
		if checkListenAddr(o.addr) == nil && !isLoopback(o.addr) {
			bad("--addr %q: plain HTTP on a non-loopback address would carry client secrets in clear; give --tls-cert and --tls-key, or --insecure-http behind a TLS-terminating proxy", o.addr)
		}
		if o.adminAddr != "" && checkListenAddr(o.adminAddr) == nil && !isLoopback(o.adminAddr) {
			bad("--admin-addr %q: plain HTTP on a non-loopback address would carry the admin token in clear; give --tls-cert and --tls-key, or --insecure-http", o.adminAddr)
		}
	}
	if o.adminAddr != "" {
		if err := checkListenAddr(o.adminAddr); err != nil {
			bad("--admin-addr %q: %v", o.adminAddr, err)
		} else if o.adminAddr == o.addr && !strings.HasSuffix(o.addr, ":0") {
			bad("--admin-addr %q: the same as --addr; give another address, or leave it out to serve both on --addr", o.adminAddr)
		}
	}
	if o.database != "" {
		if err := checkDatabaseURL(o.database); err != nil {
			bad("--database: %v", err)
		}
	}
	if o.data == "" && (o.database == "" || o.masterFile == "") {
		bad("--data: empty (it holds the database unless --database is given, and the master secret unless --master-secret-file is given)")
	}
	if o.redisURL != "" {
		// Lazy: this only parses the URL. Its errors never show the password.
		if rc, err := (redisstore.Config{Lazy: true}).Open(context.Background(), o.redisURL); err != nil {
			bad("--redis: %v", err)
		} else {
			rc.Close()
		}
	}
	return errs
}

// checkListenAddr checks a HOST:PORT listen address.
func checkListenAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want HOST:PORT")
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || strconv.FormatUint(n, 10) != port {
		return fmt.Errorf("port %q: want a number from 0 to 65535", port)
	}
	return nil
}

// checkIssuer checks an issuer URL as the token server will publish it.
func checkIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	switch {
	case err != nil:
		return errors.New("not a URL")
	case u.Scheme != "https" && u.Scheme != "http":
		return errors.New("want an http:// or https:// URL")
	case u.Host == "":
		return errors.New("no host")
	case u.User != nil:
		return errors.New("user information is not allowed")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return errors.New("query or fragment is not allowed")
	}
	return nil
}

// urlScheme matches a URL scheme (RFC 3986 section 3.1): what precedes
// "://" in anything else, such as "user:password@host://", is not shown.
var urlScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)

// checkDatabaseURL checks the form of a --database URL as sqlstore.Open
// reads it, without opening it. Errors show the scheme only: the rest may
// hold a password.
func checkDatabaseURL(u string) error {
	if strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		return nil
	}
	path := u
	if p, ok := strings.CutPrefix(u, "sqlite://"); ok {
		path = p
	} else if p, ok := strings.CutPrefix(u, "sqlite:"); ok {
		path = p
	} else if scheme, _, ok := strings.Cut(u, "://"); ok {
		if !urlScheme.MatchString(scheme) {
			return errors.New("unsupported URL (want sqlite:PATH or postgres://...)")
		}
		return fmt.Errorf("unsupported scheme %q (want sqlite:PATH or postgres://...)", scheme)
	}
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return fmt.Errorf("bad SQLite path %q", redact.URL(path))
	}
	return nil
}

// serve runs m2m serve in three steps: validate every setting, bind the
// listeners, open (creating on first start) the data; then it serves until
// stopped. A step that fails leaves nothing behind from the later ones.
// Once the settings are valid, everything serve writes, its own failure
// included, is a record of one logger in one format.
func serve(env *Env, o *serveOptions) error {
	if errs := o.validate(); len(errs) > 0 {
		return &ExitError{Code: 2, Err: errors.Join(errs...)}
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(o.logLevel)) // checked by validate
	// The start-up and shutdown records (version, configuration, where
	// the data is, the listening address, the stop) are written whatever
	// the level: programs and operators wait for them. --log-level applies
	// in between.
	o.level = new(slog.LevelVar)
	o.level.Set(min(level, slog.LevelInfo))
	o.runLevel = level
	logger := newServeLogger(env.Stderr, o.logFormat, o.level)
	restore := captureLibraryLogs(logger, o.redisURL)
	defer restore()
	logStart(logger, o.flags, o.sources)
	// Pace the garbage collector for a small live heap and a high
	// allocation rate (package gctune), unless GOGC or GOMEMLIMIT says how.
	if why := gctune.Disabled(env.LookupEnv); why != "" {
		logger.Info("m2m: garbage collector pacing left to the runtime", "reason", why)
	} else {
		defer gctune.Start(0)()
	}
	if err := o.start(env, logger); err != nil {
		logger.Error("m2m: serve failed", "error", o.scrub(err.Error()))
		var ee *ExitError
		if errors.As(err, &ee) {
			return &ExitError{Code: ee.Code, Quiet: true}
		}
		return &ExitError{Code: 1, Quiet: true}
	}
	return nil
}

// scrub masks in text, the message of a failed start, every credential
// of the settings that may hold one. Each step already masks what it
// reports; this is the last line of defence for a message it missed.
func (o *serveOptions) scrub(text string) string {
	for _, name := range secretSettings {
		f := o.flags.Lookup(name)
		if f == nil || f.Value.String() == "" {
			continue
		}
		v := f.Value.String()
		if masked := redact.URL(v); strings.HasSuffix(masked, redact.Withheld) {
			// Unparseable: its credentials are unknown, but the step
			// that read it showed none of it.
			text = strings.ReplaceAll(text, v, masked)
			continue
		}
		if text = redact.Text(text, v); text == redact.Withheld {
			return "error text withheld: it may show a credential of --" + name + " too short to mask"
		}
	}
	return text
}

// start binds, opens and runs.
func (o *serveOptions) start(env *Env, logger *slog.Logger) error {
	var certs *tlsreload.Reloader
	if o.tlsCert != "" {
		var err error
		if certs, err = newCertReloader(o.tlsCert, o.tlsKey, logger); err != nil {
			return Rejected(fmt.Errorf("--tls-cert, --tls-key: %w", err))
		}
	}
	var cas *clientCAs
	if o.clientCA != "" {
		var err error
		if cas, err = newClientCAs(o.clientCA, logger); err != nil {
			return Rejected(fmt.Errorf("--client-ca: %w", err))
		}
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	stopSignals := handleSignals(ctx, env, logger, stop, certs, cas)
	defer stopSignals()

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return Rejected(fmt.Errorf("--addr: %w", err))
	}
	defer ln.Close()
	var adminLn net.Listener
	if o.adminAddr != "" {
		if adminLn, err = net.Listen("tcp", o.adminAddr); err != nil {
			return Rejected(fmt.Errorf("--admin-addr: %w", err))
		}
		defer adminLn.Close()
	}
	scheme := "http"
	if certs != nil {
		scheme = "https"
	}
	issuer := o.issuer
	if issuer == "" {
		issuer = scheme + "://" + dialable(ln.Addr().String())
	}

	d, err := o.open(ctx, logger, issuer, cas)
	if err != nil {
		return err
	}
	defer d.close()
	// The web console is served wherever the admin API is.
	listeners := []listener{{ln, d.console.Wrap(d.srv.Handler())}}
	if adminLn != nil {
		listeners = []listener{{ln, d.srv.PublicHandler()}, {adminLn, d.console.Wrap(d.srv.AdminHandler())}}
	}
	logger.Info("m2m: issuer", "issuer", issuer)
	consoleAt := ln
	if adminLn != nil {
		consoleAt = adminLn
		logger.Info("m2m: admin API and metrics", "url", scheme+"://"+adminLn.Addr().String())
	}
	logger.Info("m2m: web console (sign in with the admin token)", "url", scheme+"://"+consoleAt.Addr().String()+console.Prefix)
	logger.Info(msgListening, "url", scheme+"://"+ln.Addr().String())
	o.level.Set(o.runLevel)
	return d.run(ctx, logger, listeners, certs, func() { o.level.Set(min(o.runLevel, slog.LevelInfo)) })
}

// listener is one address serve answers on and what it serves there.
type listener struct {
	ln net.Listener
	h  http.Handler
}

// handleSignals stops serve (calls stop) on os.Interrupt or SIGTERM and
// reloads the TLS certificate (when there is one) on SIGHUP, until ctx
// is done. It returns the function that stops listening for signals.
func handleSignals(ctx context.Context, env *Env, logger *slog.Logger, stop func(), certs *tlsreload.Reloader, cas *clientCAs) func() {
	sigs := env.Signals
	unnotify := func() {}
	if sigs == nil {
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
		sigs, unnotify = c, func() { signal.Stop(c) }
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case sig := <-sigs:
				if sig != syscall.SIGHUP {
					stop()
					return
				}
				if cas != nil {
					_ = cas.Reload() // a refusal is logged; the previous CAs stay
				}
				if certs == nil {
					logger.Info("m2m: SIGHUP: no TLS certificate to reload")
					continue
				}
				// A refusal is logged by the reloader; the previous pair
				// stays in service.
				if certs.Reload() == nil {
					logger.Info("m2m: SIGHUP: TLS certificate files reloaded")
				}
			}
		}
	}()
	return unnotify
}

// served is what the open step makes: the server and what it holds open.
type served struct {
	cas *clientCAs // --client-ca; nil without mutual TLS
	// mutualTLS: mutual-TLS clients are accepted (--client-ca or
	// --client-cert-header), so a TLS listener asks for a certificate.
	mutualTLS bool
	st        *sqlstore.Store
	kr        *keyring.Keyring
	srv       *authserver.Server
	console   *console.Console
	closers   []func() error
}

func (d *served) close() {
	for _, c := range slices.Backward(d.closers) {
		_ = c()
	}
}

// open opens the database (creating the data directory, database, master
// secret and admin token on first start), the signing keys and Redis, and
// builds the server.
func (o *serveOptions) open(ctx context.Context, logger *slog.Logger, issuer string, cas *clientCAs) (_ *served, err error) {
	d := &served{cas: cas}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	_, statErr := os.Stat(o.data)
	firstStart := o.database == "" && errors.Is(statErr, os.ErrNotExist)
	st, dbURL, err := o.dataFlags.open(ctx)
	if err != nil {
		return nil, err
	}
	d.st = st
	d.closers = append(d.closers, st.Close)
	for _, w := range st.Warnings() {
		logger.Warn("m2m: " + w)
	}
	if err := o.checkIssuer(ctx, st, issuer, logger); err != nil {
		return nil, err
	}
	master, masterPath, err := o.master()
	if err != nil {
		return nil, err
	}
	adminPath := filepath.Join(o.data, dataAdminFile)
	if o.database != "" && o.masterFile != "" {
		adminPath = filepath.Join(filepath.Dir(o.masterFile), dataAdminFile)
	}
	if abs, err := filepath.Abs(adminPath); err == nil {
		adminPath = abs
	}
	if err := os.MkdirAll(filepath.Dir(adminPath), 0o700); err != nil {
		return nil, Rejected(err)
	}
	adminKey, err := secretfile.LoadOrCreate(adminPath, secretfile.DefaultSize)
	if err != nil {
		return nil, Rejected(err)
	}
	adminHash := authserver.HashSecret(base64.RawURLEncoding.EncodeToString(adminKey.Current))
	kr, err := keyring.New(ctx, keyring.Config{
		Store: st, Master: master, Algorithm: o.algorithm,
		PrePublish: o.prePublish, RefreshEvery: o.refresh, RotateEvery: o.rotateEvery,
		MaxTokenTTL: keyring.DefaultMaxTokenTTL, Logger: logger,
	})
	if err != nil {
		return nil, Rejected(err)
	}
	d.kr = kr
	algs := []string{o.algorithm}
	for _, k := range kr.Keys() {
		if k.State != store.KeyRetired && !slices.Contains(algs, k.Algorithm) {
			algs = append(algs, k.Algorithm)
		}
	}
	var (
		limiter     ratelimit.Limiter
		quota       authserver.QuotaCounter
		revocations store.Revocations
		// assertions remembers private_key_jwt assertion ids across
		// replicas (nil: in memory, one process).
		assertions m2m.ReplayCache
		// proofs remembers DPoP proof ids across replicas (nil: in
		// memory, one process).
		proofs m2m.ReplayCache
	)
	if o.redisURL != "" {
		rc, err := redisstore.Config{Lazy: true}.Open(ctx, o.redisURL)
		if err != nil {
			return nil, Usage("--redis: %v", err)
		}
		d.closers = append(d.closers, rc.Close)
		if err := rc.Ping(ctx); err != nil {
			logger.Warn("m2m: Redis unreachable at start; rate limits use local buckets until it answers", "error", err.Error())
		}
		limiter = o.redisLimiter(rc, logger)
		revocations = &redisstore.Revocations{Client: rc, Prefix: o.redisPrefix + "revoked:"}
		quota = &redisstore.QuotaCounter{Client: rc, Prefix: o.redisPrefix + "quota:"}
		assertions = &redisstore.ReplayCache{Client: rc, Prefix: o.redisPrefix + "assertion:", Logger: logger}
		proofs = &redisstore.ReplayCache{Client: rc, Prefix: o.redisPrefix + "dpop:", Logger: logger}
	}
	var dpop *jwtauth.DPoPVerifier
	if o.dpop {
		if proofs == nil {
			proofs = &replay.Memory{}
		}
		dpop = &jwtauth.DPoPVerifier{Replay: proofs}
		if o.dpopNonce {
			secret, err := dpopNonceSecret(master)
			if err != nil {
				return nil, Rejected(err)
			}
			dpop.Nonces = &jwtauth.HMACNonces{Secrets: []m2m.Secret{secret}}
		}
	}
	proxies, err := clientaddr.ParseTrustedProxies(o.trustedProxies)
	if err != nil {
		return nil, Usage("--trusted-proxies: %v", err) // checked by validate
	}
	traced, stopTracing, err := setupTracing(ctx, logger)
	if err != nil {
		return nil, Rejected(err)
	}
	d.closers = append(d.closers, stopTracing)
	audienceProfiles := make(map[string]jwtauth.Profile, len(o.audienceProfiles))
	for aud, p := range o.audienceProfiles {
		audienceProfiles[aud] = jwtauth.Profile(p)
	}
	var mtls *authserver.MutualTLS
	if cas != nil || o.clientCertHeader != "" {
		mtls = &authserver.MutualTLS{}
		d.mutualTLS = true
		if cas != nil {
			mtls.ClientCAs = cas.Pool
		}
		if o.clientCertHeader != "" {
			// Only from the proxies: any other peer's header is ignored
			// and its own TLS connection read.
			mtls.Certificates = &httpauth.ClientCertificates{Header: o.clientCertHeader,
				Format: httpauth.CertHeaderFormat(o.clientCertHeaderFormat), TrustedProxies: proxies}
		}
	}
	fed, err := federationVerifier(st, logger)
	if err != nil {
		return nil, Rejected(err)
	}
	d.srv, err = authserver.New(authserver.Config{
		Federation:     fed,
		MutualTLS:      mtls,
		TrustedProxies: proxies,
		Issuer:         issuer, Clients: st, Signer: kr, SigningAlgorithms: algs,
		Profile: jwtauth.Profile(o.profile), AudienceProfiles: audienceProfiles, TokenTTL: o.tokenTTL, MaxTokenTTL: keyring.DefaultMaxTokenTTL,
		AdminTokenHash: adminHash, KeyRotator: kr,
		Limiter: limiter, Revocations: revocations, ClientAssertionReplay: assertions, DPoP: dpop,
		QuotaCounter: quota, MetricsPerClient: o.metricsPerClient, AuditRetention: o.auditRetention,
		AuditSinks: o.auditSinks(&d.closers),
		Logger:     logger, Trace: traced,
	})
	if err != nil {
		return nil, Rejected(err)
	}
	d.console, err = console.New(console.Config{Admin: d.srv.AdminHandler(),
		AdminToken: m2m.Secret(base64.RawURLEncoding.EncodeToString(adminKey.Current)), Logger: logger})
	if err != nil {
		return nil, Rejected(err)
	}
	if firstStart {
		abs, _ := filepath.Abs(o.data)
		logger.Info("m2m: created data directory", "path", abs)
	}
	logger.Info("m2m: database", "url", redact.URL(dbURL))
	if o.redisURL != "" {
		logger.Info("m2m: redis", "url", redact.URL(o.redisURL), "prefix", o.redisPrefix,
			"rate_lease", o.redisRateLease.String(), "failure_check_ttl", (redisPeekLeases * o.redisRateLease).String())
	}
	logger.Info("m2m: master secret", "path", masterPath)
	logger.Info("m2m: admin token (m2m client --server URL uses it)", "path", adminPath)
	for _, k := range kr.Keys() {
		if k.State == store.KeyActive {
			logger.Info("m2m: signing key", "kid", k.ID, "alg", k.Algorithm)
		}
	}
	return d, nil
}

// redisLimiter returns the rate limiter shared by the replicas on rc:
// leases and remembered failure checks per --redis-rate-lease, and local
// buckets while Redis cannot answer.
func (o *serveOptions) redisLimiter(rc *redisstore.Client, logger *slog.Logger) *redisstore.Limiter {
	return &redisstore.Limiter{Client: rc, Prefix: o.redisPrefix + "rl:", Fallback: &ratelimit.Memory{}, Logger: logger,
		Lease: o.redisRateLease, PeekTTL: redisPeekLeases * o.redisRateLease}
}

// checkIssuer makes this server agree with the database on the issuer
// before anything more is created. An explicit issuer (--issuer,
// M2M_ISSUER, the file) is recorded at the first start and must match
// later ([checkServeIssuer]). So is the issuer derived from the listen
// address when the database is PostgreSQL, the database replicas share:
// two replicas started without --issuer on different hosts would
// otherwise each sign as themselves. On a SQLite file, which one server
// owns, the derived issuer is not recorded (a restart on another port
// keeps working), but a database that already serves an issuer refuses a
// server that would derive another.
func (o *serveOptions) checkIssuer(ctx context.Context, st *sqlstore.Store, issuer string, logger *slog.Logger) error {
	if o.issuer != "" {
		return checkServeIssuer(ctx, st, issuer, logger)
	}
	stored, err := st.GetSetting(ctx, authserver.IssuerSetting)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if sharedDatabase(o.database) {
			return checkServeIssuer(ctx, st, issuer, logger)
		}
		return nil
	case err != nil:
		return Rejected(err)
	case stored != issuer:
		return Rejected(fmt.Errorf("this database serves issuer %s, but this server was started without --issuer (its issuer would be %s): start it with --issuer %s", stored, issuer, stored))
	}
	return nil
}

// dpopNonceSecret derives the DPoP nonce key from the master secret
// (HKDF-SHA256 with its own label), so that replicas sharing the master
// secret issue and accept the same nonces and the master secret itself
// keys nothing else.
func dpopNonceSecret(master []byte) (m2m.Secret, error) {
	k, err := hkdf.Key(sha256.New, master, nil, "m2m dpop nonce v1", 32)
	if err != nil {
		return nil, fmt.Errorf("deriving the DPoP nonce key: %w", err)
	}
	return m2m.Secret(k), nil
}

// sharedDatabase reports whether url names a database that several
// replicas may share (PostgreSQL), as opposed to a SQLite file.
func sharedDatabase(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// run serves on the listeners (with TLS when certs is not nil, following
// its files)
// and keeps the signing keys fresh until ctx is done, then shuts down
// gracefully: in-flight requests finish within shutdownTimeout. It calls
// stopping when the shutdown begins.
func (d *served) run(ctx context.Context, logger *slog.Logger, listeners []listener, certs *tlsreload.Reloader, stopping func()) error {
	kctx, stopKeys := context.WithCancel(ctx)
	defer stopKeys()
	keysDone := make(chan struct{})
	go func() {
		defer close(keysDone)
		_ = d.kr.Run(kctx)
	}()
	if certs != nil {
		go certs.Run(kctx)
	}
	if d.cas != nil {
		go d.cas.Run(kctx)
	}
	usageDone := make(chan struct{})
	go func() {
		defer close(usageDone)
		_ = d.srv.Run(kctx) // flushes usage and audit events, once more when stopped
	}()
	served := make(chan error, len(listeners))
	var servers []*http.Server
	for _, l := range listeners {
		hs := &http.Server{
			Handler:           l.h,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      10 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		}
		servers = append(servers, hs)
		if certs != nil {
			hs.TLSConfig = tlsreload.Config(certs)
			if d.mutualTLS {
				// Request, do not verify: a self_signed_tls_client_auth
				// certificate must reach the token endpoint, which checks
				// every certificate itself (authserver.MutualTLS).
				hs.TLSConfig.ClientAuth = tls.RequestClientCert
			}
			go func() { served <- hs.ServeTLS(l.ln, "", "") }()
		} else {
			go func() { served <- hs.Serve(l.ln) }()
		}
	}
	var failed error
	select {
	case failed = <-served:
		stopping()
		logger.Error("m2m: a listener failed; shutting down", "error", failed.Error())
	case <-ctx.Done():
		stopping()
		logger.Info("m2m: shutting down")
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	var errs []error
	for _, hs := range servers {
		if err := hs.Shutdown(sctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown: %w", err))
		}
	}
	stopKeys()
	<-keysDone
	<-usageDone
	if failed != nil {
		return Rejected(failed)
	}
	if err := errors.Join(errs...); err != nil {
		return Rejected(err)
	}
	logger.Info(msgStopped)
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

// federationVerifier returns the verifier of external identity tokens
// (client assertions from trusted issuers, the JWT bearer grant and token
// exchange) over the store's trust policies ("m2m trust create"), or nil
// when the store keeps none. Issuers' keys are fetched over HTTPS with
// the system trust store (SSL_CERT_FILE works).
func federationVerifier(st store.Clients, logger *slog.Logger) (*federation.Verifier, error) {
	tp, ok := st.(store.TrustPolicies)
	if !ok {
		return nil, nil
	}
	return federation.New(federation.Config{Policies: tp, Clients: st, Logger: logger})
}

// auditSinks returns the sinks of --audit-file and --audit-webhook,
// adding what must be closed to closers.
func (o *serveOptions) auditSinks(closers *[]func() error) []authserver.AuditSink {
	var sinks []authserver.AuditSink
	if o.auditFile != "" {
		f := &authserver.FileAuditSink{Path: o.auditFile}
		*closers = append(*closers, f.Close)
		sinks = append(sinks, f)
	}
	if o.auditWebhook != "" {
		sinks = append(sinks, &authserver.WebhookAuditSink{URL: o.auditWebhook})
	}
	return sinks
}
