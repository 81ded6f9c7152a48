package authserver

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/m2mkit/m2m/jwtauth"
)

// referenceClaims is the claims set claims writes, built with
// json.Marshal for every string, and jti as given.
func referenceClaims(s *Server, profile jwtauth.Profile, clientID, aud, scope, jkt, x5t, jti string, iat, exp int64) []byte {
	q := func(v string) string { b, _ := json.Marshal(v); return string(b) }
	var b bytes.Buffer
	if profile == jwtauth.ProfileAuth0 {
		b.WriteString(`{"iss":` + q(s.auth0Issuer) + `,"sub":` + q(clientID+"@clients"))
	} else {
		b.WriteString(`{"iss":` + q(s.issuer) + `,"sub":` + q(clientID))
	}
	b.WriteString(`,"aud":` + q(aud) + `,"iat":` + strconv.FormatInt(iat, 10) + `,"exp":` + strconv.FormatInt(exp, 10) + `,"jti":` + q(jti))
	if scope != "" || profile == jwtauth.ProfileAuth0 {
		b.WriteString(`,"scope":` + q(scope))
	}
	if profile == jwtauth.ProfileAuth0 {
		b.WriteString(`,"gty":"client-credentials","azp":` + q(clientID))
	} else {
		b.WriteString(`,"client_id":` + q(clientID))
	}
	switch {
	case jkt != "":
		b.WriteString(`,"cnf":{"jkt":` + q(jkt) + `}`)
	case x5t != "":
		b.WriteString(`,"cnf":{"x5t#S256":` + q(x5t) + `}`)
	}
	b.WriteByte('}')
	return b.Bytes()
}

var jtiPattern = regexp.MustCompile(`"jti":"([A-Za-z0-9_-]{22})"`)

// FuzzClaimsJSON checks the hand-built claims set against one built with
// encoding/json, on arbitrary strings, for both profiles.
func FuzzClaimsJSON(f *testing.F) {
	f.Add("c1", "https://api.example.test", "read write", "", "", false)
	f.Add("c\"1<&>\u2028", "https://a/?b=c&d", "x", "jkt", "", true)
	f.Add("\xff\xc3", "aud\n", "", "", "x5t", false)
	s := &Server{issuer: "https://auth.example.test", auth0Issuer: "https://auth.example.test/"}
	now := time.Unix(1700000000, 5)
	f.Fuzz(func(t *testing.T, clientID, aud, scope, jkt, x5t string, auth0 bool) {
		profile := jwtauth.ProfileRFC9068
		if auth0 {
			profile = jwtauth.ProfileAuth0
		}
		got, err := s.claims(nil, profile, clientID, aud, scope, jkt, x5t, now, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		m := jtiPattern.FindSubmatch(got)
		if m == nil {
			t.Fatalf("claims = %s; want a jti of 22 base64url characters", got)
		}
		want := referenceClaims(s, profile, clientID, aud, scope, jkt, x5t, string(m[1]), now.Unix(), now.Add(time.Hour).Unix())
		if !bytes.Equal(got, want) {
			t.Fatalf("claims =\n%s\nwant\n%s", got, want)
		}
	})
}

// FuzzTokenResponseJSON checks the hand-built token response against
// one built with encoding/json in the same field order.
func FuzzTokenResponseJSON(f *testing.F) {
	f.Add("a.b.c", int64(3600), "read write", "", "")
	f.Add("a.b.c", int64(1), "", "jkt", TokenTypeAccessToken)
	f.Add("x", int64(0), "<&>\"\\\x00\xff\u2029", "", "")
	f.Fuzz(func(t *testing.T, token string, ttl int64, scope, jkt, issuedType string) {
		if ttl < 0 || ttl > 1<<32 {
			return
		}
		tokenJSON, _ := json.Marshal(token)
		if string(tokenJSON) != `"`+token+`"` {
			return // tokens are base64url and dots, never escaped
		}
		w := httptest.NewRecorder()
		(&Server{}).writeToken(w, &issued{token: token, ttl: time.Duration(ttl) * time.Second, scope: scope, jkt: jkt, issuedTokenType: issuedType})
		typ := "Bearer"
		if jkt != "" {
			typ = "DPoP"
		}
		q := func(v string) string { b, _ := json.Marshal(v); return string(b) }
		want := `{"access_token":` + q(token) + `,"token_type":"` + typ + `","expires_in":` + strconv.FormatInt(ttl, 10)
		if scope != "" {
			want += `,"scope":` + q(scope)
		}
		if issuedType != "" {
			want += `,"issued_token_type":` + q(issuedType)
		}
		want += "}\n"
		if got := w.Body.String(); got != want {
			t.Fatalf("writeToken body = %q; want %q", got, want)
		}
		if got := w.Header().Get("Content-Length"); got != strconv.Itoa(len(want)) {
			t.Fatalf("Content-Length = %s; want %d", got, len(want))
		}
	})
}
