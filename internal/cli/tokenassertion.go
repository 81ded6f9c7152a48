package cli

import (
	"errors"

	"github.com/spf13/pflag"

	"github.com/m2mkit/m2m/clientcred"
)

// assertionFlags are the options of "m2m token" that replace the client
// secret with a signed JWT: a private key (private_key_jwt), an identity
// token file (a Kubernetes projected service-account token) or GitHub
// Actions' OIDC token, sent as a client assertion, a JWT bearer grant or
// a token exchange.
type assertionFlags struct {
	clientID, privateKey, file, from, audience, grant string
	printJWKS                                         bool
}

func (a *assertionFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&a.clientID, "client-id", "", "the client `ID` (default $M2M_CLIENT_ID); required with --private-key, and with --client-cert when there is no secret")
	fs.StringVar(&a.privateKey, "private-key", "", "private_key_jwt: sign a fresh client assertion with the private key in `FILE` (PEM or JWK; 0600) instead of a client secret")
	fs.StringVar(&a.file, "assertion-file", "", "present the identity token in `FILE`, read at each request (a Kubernetes projected service-account token)")
	fs.StringVar(&a.from, "assertion-from", "", "present an identity token from `SOURCE`: github-actions (needs permissions id-token: write)")
	fs.StringVar(&a.audience, "assertion-audience", "", "the audience to request the --assertion-from token for (the trust policy's --audience)")
	fs.StringVar(&a.grant, "grant", "client-credentials", "how the assertion is sent: client-credentials (client_assertion), jwt-bearer (RFC 7523 grant) or token-exchange (RFC 8693)")
	fs.BoolVar(&a.printJWKS, "print-jwks", false, "print the public JWK Set of --private-key (for client create --jwks) and exit")
}

// zeroReasons are the refusals of an explicit zero of each flag.
func (a *assertionFlags) zeroReasons() map[string]string {
	return map[string]string{"client-id": "", "private-key": "", "assertion-file": "", "assertion-from": "",
		"assertion-audience": "", "grant": ""}
}

// apply sets the assertion of c from the flags. credsFile is
// --credentials-file, which holds a secret and so conflicts with an
// assertion.
func (a *assertionFlags) apply(c *clientcred.Config, credsFile string) error {
	n := 0
	for _, s := range []string{a.privateKey, a.file, a.from} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return Usage("give only one of --private-key, --assertion-file and --assertion-from")
	}
	if a.clientID != "" && credsFile != "" {
		return Usage("give --client-id or --credentials-file, not both")
	}
	if n == 1 && credsFile != "" {
		return Usage("--credentials-file holds a client secret: give it or --private-key/--assertion-file/--assertion-from, not both")
	}
	if a.audience != "" && a.from == "" {
		return Usage("--assertion-audience is for --assertion-from")
	}
	if a.clientID != "" {
		c.ClientID = a.clientID
	}
	switch a.grant {
	case "client-credentials":
		c.AssertionGrant = clientcred.AssertionClientAuth
	case "jwt-bearer":
		c.AssertionGrant = clientcred.AssertionJWTBearer
	case "token-exchange":
		c.AssertionGrant = clientcred.AssertionTokenExchange
	default:
		return Usage("--grant %q: want client-credentials, jwt-bearer or token-exchange", a.grant)
	}
	if a.grant != "client-credentials" && n == 0 {
		return Usage("--grant %s needs --assertion-file or --assertion-from", a.grant)
	}
	switch {
	case a.privateKey != "":
		if a.grant != "client-credentials" {
			return Usage("--private-key signs a client assertion: --grant must be client-credentials")
		}
		k, err := a.key()
		if err != nil {
			return err
		}
		c.Assertion = &clientcred.PrivateKeyAssertion{Key: k}
	case a.file != "":
		c.Assertion = &clientcred.TokenFileAssertion{Path: a.file}
	case a.from == "github-actions":
		c.Assertion = &clientcred.GitHubActionsAssertion{Audience: a.audience, LookupEnv: c.LookupEnv}
	case a.from != "":
		return Usage("--assertion-from %q: want github-actions", a.from)
	}
	return nil
}

// key reads --private-key, checked as a secret file (private, size
// capped).
func (a *assertionFlags) key() (*clientcred.PrivateKey, error) {
	b, err := readSecretFile(a.privateKey)
	if err != nil {
		return nil, Rejected(errors.New("--private-key: " + err.Error()))
	}
	k, err := clientcred.ParsePrivateKey(b)
	if err != nil {
		return nil, Usage("--private-key %s: %v", a.privateKey, err)
	}
	return k, nil
}
