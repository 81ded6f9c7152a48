package httpauth

import (
	"errors"
	"strings"

	"github.com/m2mkit/m2m"
)

// Challenge is one WWW-Authenticate challenge (RFC 7235 section 4.1).
type Challenge struct {
	Scheme string  // the auth-scheme, such as "Bearer" or "Basic"
	Params []Param // auth-params, written in order as name="value"
}

// Param is one auth-param of a [Challenge].
type Param struct{ Name, Value string }

// String formats c as a header value: the scheme followed by its
// parameters as quoted strings. Control characters in values are dropped,
// so a value can never split the header.
func (c Challenge) String() string {
	var b strings.Builder
	b.WriteString(c.Scheme)
	for i, p := range c.Params {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteString(", ")
		}
		b.WriteString(p.Name)
		b.WriteString(`="`)
		for _, r := range p.Value {
			switch {
			case r < 0x20 || r == 0x7f:
				continue
			case r == '"' || r == '\\':
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		b.WriteByte('"')
	}
	return b.String()
}

// hasParam reports whether c has the auth-param name (compared without
// regard to case, RFC 7235 section 2.1) with exactly the value value.
func (c Challenge) hasParam(name, value string) bool {
	for _, p := range c.Params {
		if strings.EqualFold(p.Name, name) && p.Value == value {
			return true
		}
	}
	return false
}

// A Challenger is a Verifier that can describe the challenge for its
// scheme. err is nil when the request carried no credentials, or the error
// the Verifier returned; a Bearer verifier, for example, adds the RFC 6750
// error and error_description attributes for its own errors.
type Challenger interface {
	Challenge(err error) Challenge
}

// BearerChallenge returns the RFC 6750 challenge for a Bearer verifier: the
// realm alone when err is nil or reports missing credentials,
// error="insufficient_scope" with a description for a token refused for
// its scope (section 3.1; a caller that knows the scope needed adds a
// "scope" param), and error="invalid_token" with a description for any
// other refused token.
func BearerChallenge(realm string, err error) Challenge {
	c := Challenge{Scheme: "Bearer"}
	if realm != "" {
		c.Params = append(c.Params, Param{"realm", realm})
	}
	var ce *m2m.CredentialError
	if err != nil && errors.As(err, &ce) && ce.Scheme == m2m.SchemeBearer {
		code := "invalid_token"
		if ce.Reason == m2m.ReasonInsufficientScope {
			code = string(m2m.ReasonInsufficientScope)
		}
		c.Params = append(c.Params, Param{"error", code})
		if ce.Description != "" {
			c.Params = append(c.Params, Param{"error_description", ce.Description})
		}
	}
	return c
}
