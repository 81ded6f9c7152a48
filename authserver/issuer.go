package authserver

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/m2mkit/m2m/store"
)

// IssuerSetting is the name of the [store.Settings] entry that holds the
// issuer a database serves.
const IssuerSetting = "issuer"

// IssuerMismatchError is the error of [CheckIssuer] when the database
// already serves another issuer.
type IssuerMismatchError struct {
	Stored     string // the issuer the database serves
	Configured string // the issuer this server was configured with
}

func (e *IssuerMismatchError) Error() string {
	return fmt.Sprintf("authserver: the database serves issuer %q, not %q: servers sharing a database must have the same issuer", e.Stored, e.Configured)
}

// CheckIssuer makes every server that shares a database agree on the
// issuer: tokens carry it in their iss claim, and resource servers accept
// only the issuer they were configured with, so two replicas behind one
// address with different issuers would issue tokens that fail at random.
//
// At the first start on a database (no issuer recorded), CheckIssuer
// records issuer. Later, it returns an [*IssuerMismatchError] when issuer
// differs from the recorded one (compared exactly: "https://a" and
// "https://a/" are different issuers) unless allowChange is set, which
// records the new issuer: the explicit admin action, after which the
// other replicas are refused until they are configured with the new
// issuer too. The check and the recording are one atomic
// [store.Settings.UpdateSetting], so of two replicas starting at once on
// a new database with different issuers, one records its issuer and the
// other is refused.
//
// CheckIssuer returns the issuer recorded before the call: "" at the
// first start, issuer when nothing changed, the old issuer after a
// change. An issuer that [Config.Validate] would refuse is refused before
// anything is recorded.
func CheckIssuer(ctx context.Context, s store.Settings, issuer string, allowChange bool) (previous string, err error) {
	if err := validateIssuer(issuer); err != nil {
		return "", err
	}
	_, err = s.UpdateSetting(ctx, IssuerSetting, func(stored string, found bool) (string, error) {
		previous = stored
		if found && stored != issuer && !allowChange {
			return "", &IssuerMismatchError{Stored: stored, Configured: issuer}
		}
		return issuer, nil
	})
	if err != nil {
		var mismatch *IssuerMismatchError
		if errors.As(err, &mismatch) {
			return previous, err
		}
		return "", fmt.Errorf("authserver: recording the issuer: %w", err)
	}
	return previous, nil
}

// validateIssuer is the rule for an issuer identifier (RFC 8414 section
// 2): an absolute http(s) URL without user information, query or
// fragment (an empty "?" or "#" included). The message never repeats a
// URL with user information, which may hold a password.
func validateIssuer(issuer string) error {
	if issuer == "" {
		return errors.New("authserver: Issuer is required")
	}
	u, err := url.Parse(issuer)
	if err == nil && u.User != nil {
		return errors.New("authserver: Issuer must not hold user information (USER:PASSWORD@)")
	}
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.HasSuffix(issuer, "#") {
		return fmt.Errorf("authserver: Issuer %q must be an absolute http(s) URL without query or fragment", issuer)
	}
	return nil
}
