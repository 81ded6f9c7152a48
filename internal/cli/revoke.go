package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/internal/redact"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/keyring"
	"github.com/m2mkit/m2m/redisstore"
	"github.com/m2mkit/m2m/store"
)

// maxRevokeJTIBytes caps --jti and a token's jti: the server's own jtis
// are far shorter, and a longer one is a mistake, not a token of ours.
const maxRevokeJTIBytes = 256

// revokeTimeout bounds the whole revocation (database and Redis calls).
const revokeTimeout = 30 * time.Second

// errForeignToken is the refusal of a token the store's keys did not sign.
var errForeignToken = errors.New("not a token of this server (no signing key in the store verifies it)")

type revokeOptions struct {
	data                  dataFlags
	token, jti, until     string
	redisURL, redisPrefix string
	asJSON                bool
}

func cmdRevoke(env *Env) *cobra.Command {
	var o revokeOptions
	c := &cobra.Command{
		Use:   "revoke (--token TOKEN | --token - | --jti JTI --until TIME)",
		Short: "Revoke one access token by its jti until it expires",
		Long: `Revoke one access token of the token server: its jti is recorded in the revocation
store "m2m serve" uses with the same flags (Redis with --redis, else the database), until
the token expires. Token introspection then answers {"active":false} and resource servers
checking revocations (jwtauth.RevocableTokens) refuse it.

--token TOKEN (or --token - to read it from stdin) takes the jti and the expiry from the
token after checking its signature against the signing keys in the database (--data DIR or
--database URL); a token none of them signed is refused (exit 1). --jti JTI --until TIME
revokes a jti without the token; TIME is RFC 3339 or unix seconds, the token's exp, at most
` + keyring.DefaultMaxTokenTTL.String() + ` from now.

Exit 0 when revoked (or when the token has already expired: there is nothing to record),
1 when refused or failed, 2 on a usage error. Flags not given are read from M2M_DATA,
M2M_DATABASE, M2M_REDIS and M2M_REDIS_PREFIX.`,
		Example: "  m2m token --credentials-file creds.json --issuer http://127.0.0.1:8080 --audience https://api.example.com > token\n" +
			"  m2m revoke --token - < token\n" +
			"  m2m revoke --jti 3q2-7w8CxLdG --until 2026-11-22T12:00:00Z --redis redis://localhost:6379/0",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := envDefaults(env, cmd.Flags(), "data", "database", "redis", "redis-prefix"); err != nil {
				return err
			}
			return revokeRun(env, &o)
		},
	}
	fs := c.Flags()
	o.data.add(fs, false)
	fs.StringVar(&o.token, "token", "", "the access token to revoke, or - to read it from stdin (other users can see arguments in ps)")
	fs.StringVar(&o.jti, "jti", "", "the jti of the token to revoke (with --until)")
	fs.StringVar(&o.until, "until", "", "with --jti: the token's expiry, RFC 3339 or unix seconds")
	fs.StringVar(&o.redisURL, "redis", "", "the Redis that m2m serve --redis uses: redis://[USER:PASSWORD@]HOST:PORT/DB (env M2M_REDIS)")
	fs.StringVar(&o.redisPrefix, "redis-prefix", "m2m:", "prefix of every Redis key, as given to m2m serve (env M2M_REDIS_PREFIX)")
	fs.BoolVar(&o.asJSON, "json", false, "print a JSON object")
	refuseZero(c, map[string]string{"data": "", "database": "leave it out to use --data", "token": "", "jti": "", "until": "",
		"redis": "leave it out to use the database"})
	return c
}

// revokeResult is what revoke prints with --json.
type revokeResult struct {
	JTI     string    `json:"jti"`
	Until   time.Time `json:"revoked_until"`
	Store   string    `json:"store"`
	Expired bool      `json:"expired,omitempty"`
}

func revokeRun(env *Env, o *revokeOptions) error {
	switch {
	case o.token == "" && o.jti == "":
		return Usage("give --token TOKEN, --token - or --jti JTI --until TIME")
	case o.token != "" && o.jti != "":
		return Usage("give --token or --jti, not both")
	case o.token != "" && o.until != "":
		return Usage("--until goes with --jti; a token carries its own expiry")
	case o.jti != "" && o.until == "":
		return Usage("--jti needs --until (the token's expiry)")
	}
	now := time.Now()
	var until time.Time
	if o.jti != "" {
		if len(o.jti) > maxRevokeJTIBytes {
			return Usage("--jti: longer than %d bytes", maxRevokeJTIBytes)
		}
		if strings.IndexFunc(o.jti, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
			return Usage("--jti: want printable ASCII without spaces (the server's jtis are base64url)")
		}
		t, err := ParseNow(o.until)
		if err != nil {
			return Usage("--until %q: %v", o.until, err)
		}
		if t.After(now.Add(keyring.DefaultMaxTokenTTL)) {
			return Usage("--until %s: more than %v from now, longer than any token of the server lives", t.Format(time.RFC3339), keyring.DefaultMaxTokenTTL)
		}
		until = t
	}
	token := o.token
	if token == "-" {
		b, err := io.ReadAll(io.LimitReader(env.Stdin, authserver.MaxIntrospectedTokenBytes+2))
		if err != nil {
			return Rejected(fmt.Errorf("reading the token from stdin: %w", err))
		}
		token = strings.TrimSpace(string(b))
		if token == "" {
			return Usage("--token -: stdin is empty")
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), revokeTimeout)
	defer cancel()
	var st store.Store
	openDB := func() error {
		s, err := o.data.openExisting(ctx)
		if err != nil {
			return err
		}
		st = s
		return nil
	}
	defer func() {
		if st != nil {
			st.Close()
		}
	}()

	jti := o.jti
	if token != "" {
		if err := openDB(); err != nil {
			return err
		}
		keys, err := st.ListKeys(ctx)
		if err != nil {
			return Rejected(err)
		}
		c, err := storeSignedToken(token, keys)
		if err != nil {
			return Rejected(err)
		}
		jti, until = c.ID, c.ExpiresAt
	}

	var (
		revocations store.Revocations
		where       string
	)
	if o.redisURL != "" {
		// The driver's messages go to standard error as records of one
		// format, the password masked, as m2m serve writes them.
		defer routeRedisLogs(newServeLogger(env.Stderr, logFormatAuto, slog.LevelInfo), o.redisURL)()
		rc, err := redisstore.Config{Lazy: true}.Open(ctx, o.redisURL)
		if err != nil {
			return Usage("--redis: %v", redact.Error(err, o.redisURL))
		}
		defer rc.Close()
		if err := rc.Ping(ctx); err != nil {
			return Rejected(fmt.Errorf("redis %s: %w", redact.URL(o.redisURL), redact.Error(err, o.redisURL)))
		}
		// The same keys as m2m serve --redis --redis-prefix.
		revocations = &redisstore.Revocations{Client: rc, Prefix: o.redisPrefix + "revoked:"}
		where = "redis"
	} else {
		if st == nil {
			if err := openDB(); err != nil {
				return err
			}
		}
		revocations = st
		where = "database"
	}

	res := revokeResult{JTI: jti, Until: until.UTC(), Store: where, Expired: !until.After(now)}
	if !res.Expired {
		if err := revocations.RevokeToken(ctx, jti, until); err != nil {
			return Rejected(err)
		}
	}
	if o.asJSON {
		return PrintJSON(env.Stdout, res)
	}
	if res.Expired {
		fmt.Fprintf(env.Stdout, "token %s expired at %s: nothing to revoke\n", jti, res.Until.Format(time.RFC3339))
		return nil
	}
	fmt.Fprintf(env.Stdout, "revoked token %s until %s (%s)\n", jti, res.Until.Format(time.RFC3339), where)
	return nil
}

// storeSignedToken returns the claims of token when one of keys (the server's
// signing keys, whatever their state) verifies its signature and it
// carries a jti and an exp, as every access token of m2m serve does. It
// checks neither the clock nor the issuer: a token signed by the store's
// keys is the server's, and an expired one needs no revocation.
func storeSignedToken(token string, keys []*store.SigningKey) (*jwtauth.Claims, error) {
	if len(token) > authserver.MaxIntrospectedTokenBytes {
		return nil, fmt.Errorf("token longer than %d bytes: %w", authserver.MaxIntrospectedTokenBytes, errForeignToken)
	}
	var set []jwk.Key
	for _, sk := range keys {
		if k, err := jwk.ParseKey(sk.PublicJWK); err == nil && k.ID == sk.ID && k.Algorithm == sk.Algorithm {
			set = append(set, *k)
		}
	}
	// The one verification core, without the clock: an expired token is
	// reported, not refused.
	v := jwtauth.Validator{
		Algorithms:        []string{"ES256", "ES384", "ES512", "EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"},
		SkipIssuerCheck:   true,
		AcceptAnyAudience: true,
		Types:             []string{"at+jwt", "JWT"},
		MaxTokenBytes:     authserver.MaxIntrospectedTokenBytes,
	}
	c, err := v.VerifySignature(context.Background(), token, jwtauth.PublicKeys(jwk.NewStaticKeySet(jwk.NewSet(set...))))
	if err != nil {
		if m2m.ReasonOf(err) == m2m.ReasonMalformed || m2m.ReasonOf(err) == m2m.ReasonTooLarge {
			return nil, fmt.Errorf("not a JWT: %w", errForeignToken)
		}
		return nil, errForeignToken
	}
	if c.ID == "" || len(c.ID) > maxRevokeJTIBytes || c.ExpiresAt.IsZero() {
		return nil, fmt.Errorf("no jti or exp: %w", errForeignToken)
	}
	return c, nil
}
