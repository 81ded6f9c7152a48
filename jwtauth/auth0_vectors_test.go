package jwtauth_test

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/internal/vectors"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/jwtauth"
)

type auth0Input struct {
	AuthorizationHeader *string         `json:"authorization_header"`
	Now                 json.Number     `json:"now"`
	RequiredScope       *string         `json:"required_scope"`
	Audience            string          `json:"audience"`
	Issuer              string          `json:"issuer"`
	Algorithms          []string        `json:"algorithms"`
	Leeway              json.Number     `json:"leeway"`
	JWKSName            string          `json:"jwks_name"`
	JWKS                json.RawMessage `json:"jwks"`
	Token               *string         `json:"token"`
	DecodedHeader       json.RawMessage `json:"decoded_header"`
	DecodedClaims       json.RawMessage `json:"decoded_claims"`
}

type auth0Expected struct {
	Outcome      string  `json:"outcome"`
	PyJWTOutcome *string `json:"pyjwt_outcome"`
	Quickstart   struct {
		Status             int             `json:"status"`
		Body               json.RawMessage `json:"body"`
		JoseDetail         *string         `json:"jose_detail"`
		UnhandledException *string         `json:"unhandled_exception"`
	} `json:"auth0_quickstart_python_jose"`
	PyJWT *struct {
		Result  string  `json:"result"`
		Message *string `json:"message"`
	} `json:"pyjwt_2_12_same_params"`
}

// auth0Differences names the vectors where the Auth0 sample (python-jose
// behind the quickstart's requires_auth) accepts what it should not, and
// m2m deliberately refuses. For each, want is m2m's outcome; the test
// checks that the sample's outcome differs (so the entry cannot go stale
// silently) and that m2m refuses with a clean 401. Every other vector
// must match the sample's outcome and status, except that the sample's
// crashes (500) must be clean 401s here.
var auth0Differences = map[string]struct {
	why          string
	pyjwtRejects bool // PyJWT 2.12, the stricter reference, refuses it too
}{
	"at_exp":           {"now == exp: python-jose accepts, PyJWT (and m2m) treat exp <= now as expired", true},
	"audience_missing": {"no aud: python-jose accepts, RFC 8725 and m2m require aud", true},
	"iat_future":       {"iat in the future: python-jose only checks the type, PyJWT and m2m refuse", true},
	"exp_string":       {`exp "1700086400" as a JSON string: RFC 7519 NumericDate is a number; m2m refuses the malformed claim (python-jose and PyJWT coerce it with int())`, false},
}

// TestVectorsAuth0 runs the Auth0 vectors (../shared/vectors/SCHEMA.md
// section 5) through an AccessTokens verifier (ProfileAuth0) with each
// vector's JWKS, clock, issuer, audience and required scope, inside
// httpauth.Middleware, and compares the HTTP status with the Auth0
// sample's.
func TestVectorsAuth0(t *testing.T) {
	vectors.Run(t, "auth0", auth0Vector)
}

// FuzzVectorsAuth0 runs the Auth0 harness on mutated vectors: it must never
// panic (see [vectors.Fuzz]).
func FuzzVectorsAuth0(f *testing.F) {
	vectors.Fuzz(f, "auth0", auth0Vector)
}

func auth0Vector(t testing.TB, f *vectors.File, v *vectors.Vector) {
	if len(v.Extra) != 0 {
		t.Fatalf("unknown vector fields in %s", v.Name)
	}
	switch v.Op {
	case "validate_request":
		runAuth0Validate(t, v)
	default:
		t.Fatalf("unknown op %q", v.Op)
	}
}

func unixSeconds(t testing.TB, n json.Number) time.Time {
	t.Helper()
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		t.Fatalf("bad time %q", n)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e9)))
}

func runAuth0Validate(t testing.TB, v *vectors.Vector) {
	var in auth0Input
	var want auth0Expected
	vectors.MustDecode(t, v.Input, &in)
	vectors.MustDecode(t, v.Expected, &want)

	now := unixSeconds(t, in.Now)
	leeway := jwtauth.NoLeeway
	if l := unixSeconds(t, in.Leeway).Sub(time.Unix(0, 0)); l > 0 {
		leeway = l
	}
	set, err := jwk.ParseSet(in.JWKS)
	if err != nil {
		t.Fatalf("jwk.ParseSet(%s) = %v", in.JWKSName, err)
	}
	cfg := jwtauth.Config{
		Issuer:     in.Issuer,
		Audiences:  []string{in.Audience},
		Algorithms: in.Algorithms,
		Keys:       jwk.NewStaticKeySet(set),
		Leeway:     leeway,
		Profile:    jwtauth.ProfileAuth0,
		Now:        func() time.Time { return now },
	}
	if in.RequiredScope != nil {
		cfg.RequiredScopes = []string{*in.RequiredScope}
	}
	at, err := jwtauth.NewAccessTokens(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest("GET", "https://api.example.com/api/private", nil)
	if in.AuthorizationHeader != nil {
		r.Header.Set("Authorization", *in.AuthorizationHeader)
	}
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{at}}
	p, err := m.Check(r)
	status := http.StatusOK
	var ce *m2m.CredentialError
	switch {
	case err == nil && p != nil:
	case errors.As(err, &ce):
		status = ce.HTTPStatus()
	case errors.Is(err, m2m.ErrNoCredentials):
		status = http.StatusUnauthorized
	default:
		t.Fatalf("Check() technical failure %v; want a clean accept or refusal", err)
	}
	got := "reject"
	if status == http.StatusOK {
		got = "accept"
	}

	diff, differs := auth0Differences[v.Name]
	why := diff.why
	switch {
	case differs:
		if want.Outcome != "accept" || got != "reject" || status != http.StatusUnauthorized {
			t.Errorf("deliberate difference (%s): sample %s, m2m %s (%d); want sample accept and m2m 401", why, want.Outcome, got, status)
		}
		if pyjwt := want.PyJWTOutcome != nil && *want.PyJWTOutcome == "reject"; pyjwt != diff.pyjwtRejects {
			t.Errorf("PyJWT rejects = %v; the difference table says %v", pyjwt, diff.pyjwtRejects)
		}
		t.Logf("differs from the Auth0 sample on purpose: %s (reason %s)", why, m2m.ReasonOf(err))
	case want.Quickstart.Status == http.StatusInternalServerError:
		// The sample crashes (a KeyError on a missing kid or alg, an
		// IndexError on a blank header): m2m refuses cleanly.
		if status != http.StatusUnauthorized {
			t.Errorf("sample crashes (%v); m2m status %d, want a clean 401", ptr(want.Quickstart.UnhandledException), status)
		}
	default:
		if got != want.Outcome || status != want.Quickstart.Status {
			t.Errorf("m2m %s (%d, %v); want %s (%d) as the Auth0 sample", got, status, err, want.Outcome, want.Quickstart.Status)
		}
	}
	if got == "accept" && (p.Subject == "" || p.Audience == nil) {
		t.Errorf("Principal = %+v; want subject and audience", p)
	}
}

func ptr(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
