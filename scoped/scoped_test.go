package scoped

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/scoped/djangosign"
)

var testSecret = m2m.Secret("fn)t*+$)ugeyip6-#txyy$5wf2ervc0d2n#h)qb)y5@ly$t*@w")

const t0 = 1700000000

func clockAt(sec int64) func() time.Time { return func() time.Time { return time.Unix(sec, 0) } }

// signPayload signs raw payload JSON as drf would (for tokens our Issuer
// refuses to write).
func signPayload(t testing.TB, payload string, at int64) string {
	t.Helper()
	tok, err := (&djangosign.Signer{Key: testSecret, Now: clockAt(at)}).Sign([]byte(payload), false)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerifierStrictDefaults(t *testing.T) {
	basic := `{"user":1,"max_age":360,"endpoints":{"GET":["/api/v1/foo"],"POST":["/api/v1/foo/bar/"]}}`
	tests := []struct {
		name         string
		payload      string
		signedAt     int64
		method, path string
		compat       bool
		reason       m2m.Reason // "" means accepted
		status       int
	}{
		{"allowed", basic, t0, "GET", "/api/v1/foo/123", false, "", 0},
		{"exact prefix", basic, t0, "GET", "/api/v1/foo", false, "", 0},
		{"segment boundary", basic, t0, "GET", "/api/v1/foobar", false, m2m.ReasonForbidden, 403},
		{"drf plain prefix in compat", basic, t0, "GET", "/api/v1/foobar", true, "", 0},
		{"dot segments never match", basic, t0, "GET", "/api/v1/foo/../../admin", false, m2m.ReasonForbidden, 403},
		{"trailing slash prefix", basic, t0, "POST", "/api/v1/foo/bar/x", false, "", 0},
		{"prefix's trailing slash is required", basic, t0, "POST", "/api/v1/foo/bar", false, m2m.ReasonForbidden, 403},
		{"case matters", basic, t0, "GET", "/API/v1/foo", false, m2m.ReasonForbidden, 403},
		{"percent-encoded dot segments", basic, t0, "GET", "/api/v1/foo/%2e%2E/%2E./admin", false, m2m.ReasonForbidden, 403},
		{"encoded slash", basic, t0, "POST", "/api/v1/foo/bar/x%2Fy", false, m2m.ReasonForbidden, 403},
		{"encoded slash hiding dots", basic, t0, "GET", "/api/v1/foo%2F..%2Fadmin", false, m2m.ReasonForbidden, 403},
		{"encoded backslash", basic, t0, "GET", "/api/v1/foo/x%5c..%5cadmin", false, m2m.ReasonForbidden, 403},
		{"encoded slash in compat (drf decodes it)", basic, t0, "POST", "/api/v1/foo/bar/x%2Fy", true, "", 0},
		{"encoded space", `{"user":1,"max_age":60,"endpoints":{"GET":["/a b"]}}`, t0, "GET", "/a%20b/x", false, "", 0},
		{"encoded percent reads as the encoded space", `{"user":1,"max_age":60,"endpoints":{"GET":["/a b"]}}`, t0, "GET", "/a%2520b/x", false, m2m.ReasonForbidden, 403},
		{"encoded percent, lower case", `{"user":1,"max_age":60,"endpoints":{"GET":["/a b"]}}`, t0, "GET", "/a%2520b%2f", false, m2m.ReasonForbidden, 403},
		{"encoded percent in compat (drf's iri_to_uri)", `{"user":1,"max_age":60,"endpoints":{"GET":["/a b"]}}`, t0, "GET", "/a%2520b/x", true, "", 0},
		{"head not implied", basic, t0, "HEAD", "/api/v1/foo", false, m2m.ReasonForbidden, 403},
		{"lower-case request method", basic, t0, "get", "/api/v1/foo", false, m2m.ReasonForbidden, 403},
		{"mixed-case request method", basic, t0, "Post", "/api/v1/foo/bar/x", false, m2m.ReasonForbidden, 403},
		{"lower-case request method in compat", basic, t0, "get", "/api/v1/foo", true, m2m.ReasonForbidden, 401},
		{"not permitted is 401 in compat", basic, t0, "PUT", "/api/v1/foo", true, m2m.ReasonForbidden, 401},
		{"expired", basic, t0 - 361, "GET", "/api/v1/foo", false, m2m.ReasonExpired, 401},
		{"age equal to max_age", basic, t0 - 360, "GET", "/api/v1/foo", false, "", 0},
		{"future beyond skew", basic, t0 + 31, "GET", "/api/v1/foo", false, m2m.ReasonNotYetValid, 401},
		{"future within skew", basic, t0 + 30, "GET", "/api/v1/foo", false, "", 0},
		{"future accepted in compat", basic, t0 + 86400, "GET", "/api/v1/foo", true, "", 0},
		{"zero max_age", `{"user":1,"max_age":0,"endpoints":{"GET":["/"]}}`, t0, "GET", "/", false, m2m.ReasonMalformed, 401},
		{"zero max_age same second in compat", `{"user":1,"max_age":0,"endpoints":{"GET":["/"]}}`, t0, "GET", "/", true, "", 0},
		{"max_age above the bound", `{"user":1,"max_age":86401,"endpoints":{"GET":["/"]}}`, t0, "GET", "/", false, m2m.ReasonMalformed, 401},
		{"max_age as float", `{"user":1,"max_age":60.0,"endpoints":{"GET":["/"]}}`, t0, "GET", "/", false, m2m.ReasonMalformed, 401},
		{"max_age as string", `{"user":1,"max_age":"60","endpoints":{"GET":["/"]}}`, t0, "GET", "/", false, m2m.ReasonMalformed, 401},
		{"max_age as string in compat is drf's 500", `{"user":1,"max_age":"60","endpoints":{"GET":["/"]}}`, t0, "GET", "/", true, "", 500},
		{"unknown field", `{"user":1,"max_age":60,"endpoints":{"GET":["/"]},"admin":true}`, t0, "GET", "/", false, m2m.ReasonMalformed, 401},
		{"unknown field in compat is drf's 500", `{"user":1,"max_age":60,"endpoints":{"GET":["/"]},"admin":true}`, t0, "GET", "/", true, "", 500},
		{"payload not an object", `[1,2]`, t0, "GET", "/", false, m2m.ReasonMalformed, 401},
		{"user missing", `{"max_age":60,"endpoints":{"GET":["/"]}}`, t0, "GET", "/", false, m2m.ReasonMalformed, 401},
		{"user as bool", `{"user":true,"max_age":60,"endpoints":{"GET":["/"]}}`, t0, "GET", "/", false, m2m.ReasonMalformed, 401},
		{"string user", `{"user":"svc-a","max_age":60,"endpoints":{"GET":["/"]}}`, t0, "GET", "/x", false, "", 0},
		{"lower-case method", `{"user":1,"max_age":60,"endpoints":{"get":["/"]}}`, t0, "GET", "/", false, m2m.ReasonMalformed, 401},
		{"endpoint without slash", `{"user":1,"max_age":60,"endpoints":{"GET":["x"]}}`, t0, "GET", "/", false, m2m.ReasonMalformed, 401},
		{"recipient as number", `{"user":1,"max_age":60,"endpoints":{"GET":["/"]},"recipient":5}`, t0, "GET", "/", false, m2m.ReasonMalformed, 401},
		{"recipient as number in compat", `{"user":1,"max_age":60,"endpoints":{"GET":["/"]},"recipient":5}`, t0, "GET", "/", true, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &Verifier{Secret: testSecret, Now: clockAt(t0), InsecureDRFCompat: tt.compat}
			r := httptest.NewRequest(tt.method, tt.path, nil)
			r.Header.Set("Authorization", "TmpToken "+signPayload(t, tt.payload, tt.signedAt))
			p, err := v.Verify(r)
			var ce *m2m.CredentialError
			switch {
			case tt.status == 500:
				if err == nil || errors.As(err, &ce) || errors.Is(err, m2m.ErrNoCredentials) {
					t.Errorf("Verify = %v, %v; want a technical error", p, err)
				}
			case tt.reason == "":
				if err != nil || p == nil || p.Scheme != m2m.SchemeScoped {
					t.Errorf("Verify = %v, %v; want a principal", p, err)
				}
			case !errors.As(err, &ce) || ce.Reason != tt.reason || ce.HTTPStatus() != tt.status:
				t.Errorf("Verify = %v, %v; want %s (%d)", p, err, tt.reason, tt.status)
			}
		})
	}
}

func TestVerifierCredentials(t *testing.T) {
	tok := signPayload(t, `{"user":1,"max_age":60,"endpoints":{"GET":["/"]},"recipient":"svc"}`, t0)
	tests := []struct {
		name   string
		auth   []string
		query  string
		v      Verifier
		result string // "ok", "none", or the description
	}{
		{"header", []string{"TmpToken " + tok}, "", Verifier{}, "ok"},
		{"keyword any case, tabs", []string{"tMPtOKEN\t" + tok + " "}, "", Verifier{}, "ok"},
		{"query", nil, "TOKEN=" + tok, Verifier{}, "ok"},
		{"query name is case-sensitive", nil, "token=" + tok, Verifier{}, "none"},
		{"empty query value", nil, "TOKEN=", Verifier{}, "none"},
		{"last query value wins", nil, "TOKEN=x&TOKEN=" + tok, Verifier{}, "ok"},
		{"query disabled", nil, "TOKEN=" + tok, Verifier{NoQuery: true}, "none"},
		{"custom query name", nil, "t=" + tok, Verifier{QueryParam: "t"}, "ok"},
		{"other scheme falls back to query", []string{"Bearer abc"}, "TOKEN=" + tok, Verifier{}, "ok"},
		{"other scheme, no query", []string{"Bearer abc"}, "", Verifier{}, "none"},
		{"bad header does not fall back", []string{"TmpToken bad"}, "TOKEN=" + tok, Verifier{}, MsgBadToken},
		{"keyword only", []string{"TmpToken"}, "", Verifier{}, MsgHeaderNoToken},
		{"spaces", []string{"TmpToken a b"}, "", Verifier{}, MsgHeaderSpaces},
		{"not UTF-8", []string{"TmpToken \xff"}, "", Verifier{}, MsgHeaderBadChars},
		{"custom keyword", []string{"Scoped " + tok}, "", Verifier{Keyword: "Scoped"}, "ok"},
		{"custom keyword ignores TmpToken", []string{"TmpToken " + tok}, "", Verifier{Keyword: "Scoped"}, "none"},
		{"two headers", []string{"TmpToken " + tok, "TmpToken " + tok}, "", Verifier{}, "more than one Authorization header"},
		{"query name percent-decoded", nil, "%54OKEN=" + tok, Verifier{}, "ok"},
		{"plus in query name is a space", nil, "TOKEN+=" + tok, Verifier{}, "none"},
		{"bare query name", nil, "TOKEN", Verifier{}, "none"},
		{"empty last query value hides a good one", nil, "TOKEN=" + tok + "&TOKEN=", Verifier{}, "none"},
		{"semicolon is not a separator", nil, "x=1;TOKEN=" + tok, Verifier{}, "none"},
		{"semicolon stays in the value", nil, "TOKEN=" + tok + ";x=1", Verifier{}, MsgBadToken},
		{"encoded colons", nil, "TOKEN=" + strings.ReplaceAll(tok, ":", "%3a"), Verifier{}, "ok"},
		{"1000 query fields", nil, strings.Repeat("&", 999) + "TOKEN=" + tok, Verifier{}, "ok"},
		{"1001 query fields", nil, strings.Repeat("&", 1000) + "TOKEN=" + tok, Verifier{}, "too many query parameters"},
		{"1001 query fields, header token", []string{"TmpToken " + tok}, strings.Repeat("&", 1000), Verifier{}, "too many query parameters"},
		{"1001 query fields, query disabled", []string{"TmpToken " + tok}, strings.Repeat("&", 1000), Verifier{NoQuery: true}, "ok"},
		{"too large", []string{"TmpToken " + strings.Repeat("a", 5000)}, "", Verifier{}, "token too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.v
			v.Secret, v.Now = testSecret, clockAt(t0)
			r := httptest.NewRequest("GET", "/?"+tt.query, nil)
			r.Header["Authorization"] = tt.auth
			p, err := v.Verify(r)
			var ce *m2m.CredentialError
			got := "ok"
			switch {
			case errors.Is(err, m2m.ErrNoCredentials):
				got = "none"
			case errors.As(err, &ce):
				got = ce.Description
			case err != nil:
				got = err.Error()
			}
			if got != tt.result {
				t.Errorf("Verify = %v, %v; want %s", p, err, tt.result)
			}
			if got == "ok" && (p.Subject != "1" || p.Claims["recipient"] != "svc") {
				t.Errorf("principal = %+v; want subject 1, recipient svc", p)
			}
		})
	}
}

func TestForwardRecipient(t *testing.T) {
	tok := signPayload(t, `{"user":1,"max_age":60,"endpoints":{"GET":["/"]},"recipient":"svc"}`, t0)
	noRec := signPayload(t, `{"user":1,"max_age":60,"endpoints":{"GET":["/"]}}`, t0)
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{&Verifier{Secret: testSecret, Now: clockAt(t0)}}}
	var seen []string
	h := m.Handler(ForwardRecipient(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Values(RecipientHeader)
	})))
	for _, tt := range []struct {
		name, tok string
		spoof     []string // the client's own X-API-Token-Recipient values
		want      []string
	}{
		{"recipient handed on", tok, nil, []string{"svc"}},
		{"client header replaced", tok, []string{"evil"}, []string{"svc"}},
		{"client headers replaced", tok, []string{"evil", "worse"}, []string{"svc"}},
		{"client header removed", noRec, []string{"evil"}, nil},
		{"empty client header removed", noRec, []string{""}, nil},
		{"empty client header before a real one removed", noRec, []string{"", "evil"}, nil},
	} {
		r := httptest.NewRequest("GET", "/x", nil)
		r.Header.Set("Authorization", "TmpToken "+tt.tok)
		if tt.spoof != nil {
			r.Header[http.CanonicalHeaderKey(RecipientHeader)] = tt.spoof
		}
		seen = []string{"handler not called"}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if tt.want == nil && seen != nil || strings.Join(seen, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%s: %s = %q; want %q", tt.name, RecipientHeader, seen, tt.want)
		}
		if strings.Join(r.Header.Values(RecipientHeader), ",") != strings.Join(tt.spoof, ",") {
			t.Errorf("%s: the caller's request was modified", tt.name)
		}
	}
}

func TestIssuerPolicy(t *testing.T) {
	iss := &Issuer{Secret: testSecret, Now: clockAt(t0)}
	ep := []Endpoint{{"get", "/a"}}
	tests := []struct {
		name string
		tok  Token
		ok   bool
	}{
		{"default max age", Token{User: 1, Endpoints: ep}, true},
		{"no endpoints", Token{User: 1}, false},
		{"below a second", Token{User: 1, Endpoints: ep, MaxAge: time.Millisecond}, false},
		{"fractional seconds", Token{User: 1, Endpoints: ep, MaxAge: 1500 * time.Millisecond}, false},
		{"above the bound", Token{User: 1, Endpoints: ep, MaxAge: 25 * time.Hour}, false},
		{"user zero", Token{User: 0, Endpoints: ep}, false},
		{"empty user", Token{User: "", Endpoints: ep}, false},
		{"float user", Token{User: 1.5, Endpoints: ep}, false},
		{"bad method", Token{User: 1, Endpoints: []Endpoint{{"TRACE", "/"}}}, false},
		{"relative prefix", Token{User: 1, Endpoints: []Endpoint{{"GET", "a"}}}, false},
	}
	for _, tt := range tests {
		tok, err := iss.Issue(tt.tok)
		if (err == nil) != tt.ok {
			t.Errorf("%s: Issue = %q, %v; want ok %v", tt.name, tok, err, tt.ok)
		}
	}
	tok, _ := iss.Issue(Token{User: 1, Endpoints: ep})
	got, err := (&Verifier{Secret: testSecret, Now: clockAt(t0 + 3600)}).ParseToken(context.Background(), tok)
	if err != nil || got.MaxAge != time.Hour || got.Endpoints[0] != (Endpoint{"GET", "/a"}) || !got.ExpiresAt().Equal(time.Unix(t0+3600, 0)) {
		t.Errorf("ParseToken(Issue(default)) = %+v, %v; want one hour, GET:/a", got, err)
	}
}

func TestUserFromString(t *testing.T) {
	for in, want := range map[string]any{"42": json.Number("42"), "-7": json.Number("-7"), "007": json.Number("7"), "alice": "alice", "4a": "4a", "-": "-", "": ""} {
		if got := UserFromString(in); got != want {
			t.Errorf("UserFromString(%q) = %#v; want %#v", in, got, want)
		}
	}
}

func TestIRIToURI(t *testing.T) {
	for in, want := range map[string]string{
		"/tést":            "/t%C3%A9st",
		"/a b?c=d#e":       "/a%20b?c=d#e",
		"/%41/[x]!$&'()*+": "/%41/[x]!$&'()*+",
		"/\xff":            "/%FF",
		"/~_.-":            "/~_.-",
		"/\"<>\\^`{|}":     "/%22%3C%3E%5C%5E%60%7B%7C%7D",
	} {
		if got := IRIToURI(in); got != want {
			t.Errorf("IRIToURI(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestMatchPrefix(t *testing.T) {
	tests := []struct {
		path, prefix string
		plain, want  bool
	}{
		{"/a/b", "/a/b", false, true},
		{"/a/b/c", "/a/b", false, true},
		{"/a/bc", "/a/b", false, false},
		{"/a/bc", "/a/b", true, true},
		{"/a/c", "/a/", false, true},
		{"/a/./b", "/a", false, false},
		{"/a/%2e%2E/b", "/a", false, false},
		{"/a/../b", "/a", true, true},
		{"/b", "/a", true, false},
	}
	for _, tt := range tests {
		if got := MatchPrefix(tt.path, tt.prefix, tt.plain); got != tt.want {
			t.Errorf("MatchPrefix(%q, %q, %v) = %v; want %v", tt.path, tt.prefix, tt.plain, got, tt.want)
		}
	}
}

func TestIssueHandler(t *testing.T) {
	iss := &Issuer{Secret: testSecret, Now: clockAt(t0)}
	caller := &m2m.Principal{Subject: "42", Scheme: m2m.SchemeBearer, Scopes: []string{"GET:/api/v1/projects/", "*:/api/v1/uploads"}}
	h := &IssueHandler{Issuer: iss, Allowed: AllowByScopes}
	tests := []struct {
		name   string
		h      *IssueHandler
		p      *m2m.Principal
		method string
		ctype  string
		body   string
		status int
		want   string
	}{
		{"granted", h, caller, "POST", "application/json", `{"endpoints":["GET:/api/v1/projects/7","post:/api/v1/uploads/x"],"max_age":300,"recipient":"thumbs"}`, 200, `"expires_in":300`},
		{"default lifetime", h, caller, "POST", "application/json; charset=utf-8", `{"endpoints":["GET:/api/v1/projects/"]}`, 200, `"expires_in":3600`},
		{"wider than the caller", h, caller, "POST", "application/json", `{"endpoints":["GET:/api/v1/"]}`, 403, `"refused":["GET:/api/v1/"]`},
		{"other method", h, caller, "POST", "application/json", `{"endpoints":["DELETE:/api/v1/projects/7"]}`, 403, `"refused":["DELETE:/api/v1/projects/7"]`},
		{"segment boundary", h, caller, "POST", "application/json", `{"endpoints":["PUT:/api/v1/uploadsX"]}`, 403, `"refused"`},
		{"dot segments", h, caller, "POST", "application/json", `{"endpoints":["GET:/api/v1/projects/../admin"]}`, 403, `"refused"`},
		{"nil Allowed refuses", &IssueHandler{Issuer: iss}, caller, "POST", "application/json", `{"endpoints":["GET:/api/v1/projects/"]}`, 403, `"forbidden"`},
		{"no principal", h, nil, "POST", "application/json", `{"endpoints":["GET:/api/v1/projects/"]}`, 401, `missing_credentials`},
		{"GET", h, caller, "GET", "application/json", ``, 405, `invalid_request`},
		{"form body", h, caller, "POST", "application/x-www-form-urlencoded", `endpoints=GET:/`, 415, `invalid_request`},
		{"unknown field", h, caller, "POST", "application/json", `{"endpoints":["GET:/api/v1/projects/"],"user":1}`, 400, `invalid_request`},
		{"bad endpoint", h, caller, "POST", "application/json", `{"endpoints":["GET"]}`, 400, `invalid_request`},
		{"too long", h, caller, "POST", "application/json", `{"endpoints":["GET:/api/v1/projects/"],"max_age":90000}`, 400, `exceeds`},
		{"capped by the caller's expiry", h, shortLived(caller, 100*time.Second), "POST", "application/json", `{"endpoints":["GET:/api/v1/projects/"],"max_age":300}`, 200, `"expires_in":100`},
		{"default capped by the caller's expiry", h, shortLived(caller, 90500*time.Millisecond), "POST", "application/json", `{"endpoints":["GET:/api/v1/projects/"]}`, 200, `"expires_in":90`},
		{"too long for a short-lived caller is still refused", h, shortLived(caller, 100*time.Second), "POST", "application/json", `{"endpoints":["GET:/api/v1/projects/"],"max_age":90000}`, 400, `exceeds`},
		{"caller about to expire", h, shortLived(caller, 999*time.Millisecond), "POST", "application/json", `{"endpoints":["GET:/api/v1/projects/"]}`, 403, `expires too soon`},
		{"huge body", h, caller, "POST", "application/json", `{"endpoints":["` + strings.Repeat("a", 20000) + `"]}`, 413, `too large`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/tokens", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", tt.ctype)
			if tt.p != nil {
				r = r.WithContext(m2m.NewContext(r.Context(), tt.p))
			}
			w := httptest.NewRecorder()
			tt.h.ServeHTTP(w, r)
			if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.want) {
				t.Fatalf("ServeHTTP = %d %s; want %d containing %s", w.Code, w.Body, tt.status, tt.want)
			}
			if w.Code != 200 {
				return
			}
			var out IssueResponse
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
				t.Fatal(err)
			}
			got, err := (&Verifier{Secret: testSecret, Now: clockAt(t0)}).ParseToken(context.Background(), out.Token)
			if err != nil || got.User != json.Number("42") {
				t.Errorf("issued token = %+v, %v; want user 42", got, err)
			}
			if e := tt.p.ExpiresAt; !e.IsZero() && got.ExpiresAt().After(e) {
				t.Errorf("issued token expires at %v; want no later than the caller's %v", got.ExpiresAt(), e)
			}
		})
	}
}

// shortLived returns a copy of p whose credential expires d after t0.
func shortLived(p *m2m.Principal, d time.Duration) *m2m.Principal {
	q := *p
	q.ExpiresAt = time.Unix(t0, 0).Add(d)
	return &q
}

// A scoped token's principal can only issue narrower tokens.
func TestAllowByScopesChains(t *testing.T) {
	v := &Verifier{Secret: testSecret, Now: clockAt(t0)}
	tok := signPayload(t, `{"user":1,"max_age":60,"endpoints":{"GET":["/api/v1/foo"]}}`, t0)
	r := httptest.NewRequest("GET", "/api/v1/foo", nil)
	r.Header.Set("Authorization", "TmpToken "+tok)
	p, err := v.Verify(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		method, prefix string
		want           bool
	}{{"GET", "/api/v1/foo", true}, {"GET", "/api/v1/foo/1", true}, {"GET", "/api/v1/foobar", false}, {"POST", "/api/v1/foo", false}, {"GET", "/api/v1", false}} {
		if got := AllowByScopes(p, tt.method, tt.prefix); got != tt.want {
			t.Errorf("AllowByScopes(%v, %s, %s) = %v; want %v", p.Scopes, tt.method, tt.prefix, got, tt.want)
		}
	}
}

func TestHeadAsGetAndChallenge(t *testing.T) {
	tok := signPayload(t, `{"user":1,"max_age":60,"endpoints":{"GET":["/a"]}}`, t0)
	v := &Verifier{Secret: testSecret, Now: clockAt(t0), HeadAsGet: true}
	r := httptest.NewRequest("HEAD", "/a", nil)
	r.Header.Set("Authorization", "TmpToken "+tok)
	if _, err := v.Verify(r); err != nil {
		t.Errorf("Verify(HEAD) with HeadAsGet = %v; want ok", err)
	}
	if got := v.Challenge(nil).String(); got != "TmpToken" {
		t.Errorf("Challenge = %q; want TmpToken", got)
	}
	if _, err := (&Verifier{}).Verify(r); err == nil || errors.As(err, new(*m2m.CredentialError)) {
		t.Errorf("Verify with no secret = %v; want a configuration error", err)
	}
}

func TestLookupUser(t *testing.T) {
	tok := signPayload(t, `{"user":"svc-a","max_age":60,"endpoints":{"GET":["/"]}}`, t0)
	for _, tt := range []struct {
		name   string
		lookup func(context.Context, any) (string, error)
		want   string
	}{
		{"mapped", func(_ context.Context, u any) (string, error) { return "user:" + u.(string), nil }, "ok"},
		{"unknown", func(context.Context, any) (string, error) { return "", ErrUnknownUser }, MsgNoSuchUser},
		{"refused", func(context.Context, any) (string, error) {
			return "", m2m.Invalid(m2m.SchemeScoped, m2m.ReasonDisabled, "user disabled")
		}, "user disabled"},
		{"down", func(context.Context, any) (string, error) { return "", errors.New("db down") }, "technical"},
	} {
		v := &Verifier{Secret: testSecret, Now: clockAt(t0), LookupUser: tt.lookup}
		_, err := v.ParseToken(context.Background(), tok)
		var ce *m2m.CredentialError
		got := "ok"
		switch {
		case errors.As(err, &ce):
			got = ce.Description
		case err != nil:
			got = "technical"
		}
		if got != tt.want {
			t.Errorf("%s: ParseToken = %v; want %s", tt.name, err, tt.want)
		}
	}
}

// TestZlibBombCapped: a validly signed, compressed payload that inflates
// past MaxPayloadBytes is refused as too_large, in both modes.
func TestZlibBombCapped(t *testing.T) {
	payload := `{"user":1,"max_age":60,"endpoints":{"GET":["/` + strings.Repeat("a", 1<<20) + `"]}}`
	tok, err := (&djangosign.Signer{Key: testSecret, Now: clockAt(t0)}).Sign([]byte(payload), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) > 4096 {
		t.Fatalf("compressed token is %d bytes; the test needs it under the 4096-byte token limit", len(tok))
	}
	for _, compat := range []bool{false, true} {
		v := &Verifier{Secret: testSecret, Now: clockAt(t0), InsecureDRFCompat: compat}
		_, err := v.ParseToken(context.Background(), tok)
		if m2m.ReasonOf(err) != m2m.ReasonTooLarge {
			t.Errorf("ParseToken(1 MiB bomb), compat %v = %v; want too_large", compat, err)
		}
	}
}

// TestHandlerSeesAuthorisedMethod: whatever the method's spelling, the
// handler behind the middleware runs only with a method the token granted,
// spelt as granted (Django upper-cases the method for drf and the view
// alike; Go hands r.Method on as sent).
func TestHandlerSeesAuthorisedMethod(t *testing.T) {
	tok := signPayload(t, `{"user":1,"max_age":60,"endpoints":{"GET":["/a"],"POST":["/a"]}}`, t0)
	tests := []struct {
		method string
		head   bool // HeadAsGet
		status int
		desc   string
	}{
		{"GET", false, 200, ""},
		{"POST", false, 200, ""},
		{"get", false, 403, MsgMethodCase},
		{"gEt", false, 403, MsgMethodCase},
		{"post", false, 403, MsgMethodCase},
		{"head", true, 403, MsgMethodCase},
		{"HEAD", true, 200, ""},
		{"HEAD", false, 403, MsgNotPermitted},
		{"PUT", false, 403, MsgNotPermitted},
		{"put", false, 403, MsgMethodCase},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/headAsGet=%v", tt.method, tt.head), func(t *testing.T) {
			v := &Verifier{Secret: testSecret, Now: clockAt(t0), HeadAsGet: tt.head}
			var gotErr error
			mw := &httpauth.Middleware{Verifiers: []m2m.Verifier{v}, OnError: func(w http.ResponseWriter, r *http.Request, err error) {
				gotErr = err
				httpauth.WriteRefusal(w, err)
			}}
			seen := ""
			h := mw.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.Method }))
			r := httptest.NewRequest(tt.method, "/a/1", nil)
			r.Header.Set("Authorization", "TmpToken "+tok)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("%s /a/1: status %d (%v); want %d", tt.method, w.Code, gotErr, tt.status)
			}
			if seen != "" && seen != "GET" && seen != "POST" && !(tt.head && seen == "HEAD") {
				t.Errorf("handler saw method %q, which the token does not grant", seen)
			}
			var ce *m2m.CredentialError
			if tt.desc != "" && (!errors.As(gotErr, &ce) || ce.Description != tt.desc) {
				t.Errorf("error = %v; want description %q", gotErr, tt.desc)
			}
		})
	}
}

// TestQueryTokenEveryMethod: the token is read from the URL's query for
// every method, never from a form or JSON body, as drf's
// request.GET.get("TOKEN") on Django 3.2 does (the wsgi_request vectors
// hold the original's answers).
func TestQueryTokenEveryMethod(t *testing.T) {
	all := `{"user":1,"max_age":60,"endpoints":{"GET":["/"],"POST":["/"],"PUT":["/"],"PATCH":["/"],"DELETE":["/"],"HEAD":["/"],"OPTIONS":["/"]}}`
	tok := signPayload(t, all, t0)
	tests := []struct {
		name, query, ctype, body string
		want                     string // "ok", "none" or the description
		status                   int
	}{
		{"query", "TOKEN=" + tok, "", "", "ok", 200},
		{"form body only", "", "application/x-www-form-urlencoded", "TOKEN=" + tok, "none", 401},
		{"JSON body only", "", "application/json", `{"TOKEN":"` + tok + `"}`, "none", 401},
		{"query wins over the body", "TOKEN=" + tok, "application/x-www-form-urlencoded", "TOKEN=bad", "ok", 200},
		{"bad query, good body", "TOKEN=bad", "application/x-www-form-urlencoded", "TOKEN=" + tok, MsgBadToken, 401},
		{"too many fields", strings.Repeat("a=1&", 1000) + "TOKEN=" + tok, "", "", "too many query parameters", 400},
	}
	v := &Verifier{Secret: testSecret, Now: clockAt(t0)}
	for _, m := range Methods {
		for _, tt := range tests {
			t.Run(m+"/"+tt.name, func(t *testing.T) {
				r := httptest.NewRequest(m, "/x?"+tt.query, strings.NewReader(tt.body))
				if tt.ctype != "" {
					r.Header.Set("Content-Type", tt.ctype)
				}
				p, err := v.Verify(r)
				got, status := "ok", 200
				var ce *m2m.CredentialError
				switch {
				case errors.Is(err, m2m.ErrNoCredentials):
					got, status = "none", 401
				case errors.As(err, &ce):
					got, status = ce.Description, ce.HTTPStatus()
				case err != nil:
					got, status = err.Error(), 500
				}
				if got != tt.want || status != tt.status {
					t.Errorf("Verify(%s) = %v, %v (%d); want %s (%d)", m, p, err, status, tt.want, tt.status)
				}
				if r.Form != nil || r.PostForm != nil {
					t.Errorf("Verify parsed the request's form")
				}
			})
		}
	}
}

// TestIssueErrorBodyBytes pins the refusal body byte for byte: the RFC
// 6749 members from oautherr.Body (error_uri left out when empty), then
// the refused extension member.
func TestIssueErrorBodyBytes(t *testing.T) {
	iss := &Issuer{Secret: testSecret, Now: clockAt(t0)}
	caller := &m2m.Principal{Subject: "42", Scheme: m2m.SchemeBearer, Scopes: []string{"GET:/api/v1/projects/"}}
	h := &IssueHandler{Issuer: iss, Allowed: AllowByScopes}
	for _, tc := range []struct{ name, body, want string }{
		{"refused endpoints", `{"endpoints":["DELETE:/api/v1/projects/7"]}`,
			`{"error":"forbidden","error_description":"the caller may not grant these endpoints","refused":["DELETE:/api/v1/projects/7"]}` + "\n"},
		{"no refused member", `{"endpoints":[]}`,
			`{"error":"invalid_request","error_description":"give 1 to 100 endpoints"}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/tokens", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			r = r.WithContext(m2m.NewContext(r.Context(), caller))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if got := w.Body.String(); got != tc.want {
				t.Errorf("body = %s; want %s", got, tc.want)
			}
		})
	}
}
