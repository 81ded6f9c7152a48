package httpauth_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
)

// keyVerifier accepts "Authorization: Key <key>" for one fixed key.
type keyVerifier struct{ key string }

func (k keyVerifier) Verify(r *http.Request) (*m2m.Principal, error) {
	cred, err := httpauth.Credentials(r, "Key", "key")
	if err != nil {
		return nil, err
	}
	if cred != k.key {
		return nil, m2m.Invalid("key", m2m.ReasonBadCredentials, "unknown key")
	}
	return &m2m.Principal{Subject: "bot", Scheme: "key", Scopes: []string{"read"}}, nil
}

func (keyVerifier) Challenge(err error) httpauth.Challenge {
	return httpauth.Challenge{Scheme: "Key", Params: []httpauth.Param{{"realm", "api"}}}
}

type bearerStub struct{}

func (bearerStub) Verify(r *http.Request) (*m2m.Principal, error) {
	cred, err := httpauth.Credentials(r, "Bearer", m2m.SchemeBearer)
	if err != nil {
		return nil, err
	}
	switch cred {
	case "good":
		return &m2m.Principal{Subject: "svc", Scheme: m2m.SchemeBearer, Scopes: []string{"read", "write"}}, nil
	case "boom":
		return nil, errors.New("key store down")
	case "slow":
		return nil, errors.Join(m2m.ErrUnavailable, errors.New("timeout"))
	}
	return nil, m2m.Invalid(m2m.SchemeBearer, m2m.ReasonExpired, "token expired")
}

func (bearerStub) Challenge(err error) httpauth.Challenge {
	return httpauth.BearerChallenge("api", err)
}

func whoami(w http.ResponseWriter, r *http.Request) {
	p, ok := m2m.FromContext(r.Context())
	if !ok {
		w.Write([]byte("anonymous"))
		return
	}
	w.Write([]byte(p.Subject))
}

func TestMiddleware(t *testing.T) {
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{keyVerifier{"k1"}, bearerStub{}}}
	tests := []struct {
		name      string
		optional  bool
		headers   []string // Authorization values
		status    int
		body      string // handler body, or the JSON error code
		challenge []string
	}{
		{"no credentials", false, nil, 401, "missing_credentials", []string{`Key realm="api"`, `Bearer realm="api"`}},
		{"first scheme", false, []string{"Key k1"}, 200, "bot", nil},
		{"scheme case-insensitive", false, []string{"kEY k1"}, 200, "bot", nil},
		{"second scheme", false, []string{"Bearer good"}, 200, "svc", nil},
		{"bad key", false, []string{"Key nope"}, 401, "bad_credentials", []string{`Key realm="api"`, `Bearer realm="api"`}},
		{"expired bearer", false, []string{"Bearer old"}, 401, "expired",
			[]string{`Key realm="api"`, `Bearer realm="api", error="invalid_token", error_description="token expired"`}},
		{"unknown scheme", false, []string{"Digest x"}, 401, "missing_credentials", []string{`Key realm="api"`, `Bearer realm="api"`}},
		{"scheme without credentials", false, []string{"Bearer"}, 401, "malformed", nil},
		{"two headers", false, []string{"Key k1", "Key k1"}, 401, "malformed", nil},
		{"oversize header", false, []string{"Key " + strings.Repeat("a", httpauth.MaxAuthorizationBytes)}, 401, "too_large", nil},
		{"technical failure", false, []string{"Bearer boom"}, 500, "server_error", nil},
		{"unavailable", false, []string{"Bearer slow"}, 503, "temporarily_unavailable", nil},
		{"optional without credentials", true, nil, 200, "anonymous", nil},
		{"optional with good credentials", true, []string{"Bearer good"}, 200, "svc", nil},
		{"optional with bad credentials", true, []string{"Bearer old"}, 401, "expired", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := m.Handler(http.HandlerFunc(whoami))
			if tt.optional {
				h = m.Optional(http.HandlerFunc(whoami))
			}
			r := httptest.NewRequest("GET", "/x", nil)
			for _, v := range tt.headers {
				r.Header.Add("Authorization", v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status = %d; want %d (body %s)", w.Code, tt.status, w.Body)
			}
			got := w.Body.String()
			if w.Code != 200 {
				var eb httpauth.ErrorBody
				if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil {
					t.Fatalf("error body %q: %v", got, err)
				}
				got = eb.Error
				if w.Header().Get("Content-Type") != "application/json" {
					t.Errorf("Content-Type = %q", w.Header().Get("Content-Type"))
				}
			}
			if got != tt.body {
				t.Errorf("body = %q; want %q", got, tt.body)
			}
			if tt.challenge != nil {
				if diff := cmp.Diff(tt.challenge, w.Header().Values("WWW-Authenticate")); diff != "" {
					t.Errorf("WWW-Authenticate (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestZeroMiddlewareRefuses(t *testing.T) {
	var m httpauth.Middleware
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer good")
	m.Handler(http.HandlerFunc(whoami)).ServeHTTP(w, r)
	if w.Code != 401 {
		t.Fatalf("zero Middleware status = %d; want 401", w.Code)
	}
}

func TestOnErrorAndLogging(t *testing.T) {
	var logs bytes.Buffer
	m := &httpauth.Middleware{
		Verifiers: []m2m.Verifier{bearerStub{}},
		Logger:    slog.New(slog.NewJSONHandler(&logs, nil)),
		OnError: func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(http.StatusTeapot)
			w.Write([]byte(m2m.ReasonOf(err)))
		},
	}
	r := httptest.NewRequest("GET", "/x", nil)
	r.Header.Set("Authorization", "Bearer secret-old-token")
	w := httptest.NewRecorder()
	m.Handler(http.HandlerFunc(whoami)).ServeHTTP(w, r)
	if w.Code != http.StatusTeapot || w.Body.String() != "expired" {
		t.Errorf("OnError response = %d %q; want 418 expired", w.Code, w.Body)
	}
	if !strings.Contains(logs.String(), `"reason":"expired"`) || !strings.Contains(logs.String(), `"level":"INFO"`) {
		t.Errorf("log = %s; want an INFO record with reason expired", logs.String())
	}
	if strings.Contains(logs.String(), "secret-old-token") {
		t.Errorf("log contains the credential: %s", logs.String())
	}
}

func TestRequireScope(t *testing.T) {
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{bearerStub{}, keyVerifier{"k1"}}}
	tests := []struct {
		name, auth string
		scopes     []string
		status     int
	}{
		{"has scope", "Bearer good", []string{"write"}, 200},
		{"has all scopes", "Bearer good", []string{"read", "write"}, 200},
		{"lacks scope", "Key k1", []string{"write"}, 403},
		{"no principal", "", []string{"read"}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := m.Optional(httpauth.RequireScope(tt.scopes...)(http.HandlerFunc(whoami)))
			r := httptest.NewRequest("GET", "/", nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status = %d; want %d", w.Code, tt.status)
			}
			if tt.status == 403 && !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="insufficient_scope"`) {
				t.Errorf("WWW-Authenticate = %q", w.Header().Get("WWW-Authenticate"))
			}
		})
	}
}

// scopeStub refuses every Bearer token with a verifier-level 403
// insufficient_scope and challenges as jwtauth.AccessTokens does.
type scopeStub struct{}

func (scopeStub) Verify(r *http.Request) (*m2m.Principal, error) {
	if _, err := httpauth.Credentials(r, "Bearer", m2m.SchemeBearer); err != nil {
		return nil, err
	}
	return nil, m2m.Invalid(m2m.SchemeBearer, m2m.ReasonInsufficientScope, "the token lacks scope admin")
}

func (scopeStub) Challenge(err error) httpauth.Challenge {
	c := httpauth.Challenge{Scheme: "Bearer", Params: []httpauth.Param{{"realm", "api"}}}
	if m2m.ReasonOf(err) == m2m.ReasonInsufficientScope {
		c.Params = append(c.Params, httpauth.Param{"error", "insufficient_scope"}, httpauth.Param{"scope", "admin"})
	}
	return c
}

func TestRefuseInsufficientScopeChallenge(t *testing.T) {
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{keyVerifier{"k1"}, scopeStub{}}}
	h := m.Handler(http.HandlerFunc(whoami))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer narrow")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 403 {
		t.Fatalf("status = %d; want 403", w.Code)
	}
	// Only the verifier's insufficient_scope challenge: Key's could not help.
	want := []string{`Bearer realm="api", error="insufficient_scope", scope="admin"`}
	if diff := cmp.Diff(want, w.Header().Values("WWW-Authenticate")); diff != "" {
		t.Errorf("WWW-Authenticate (-want +got):\n%s", diff)
	}
}

func TestBearerChallenge(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"no credentials", m2m.ErrNoCredentials, `Bearer realm="api"`},
		{"expired", m2m.Invalid(m2m.SchemeBearer, m2m.ReasonExpired, "token expired"), `Bearer realm="api", error="invalid_token", error_description="token expired"`},
		{"insufficient scope", m2m.Invalid(m2m.SchemeBearer, m2m.ReasonInsufficientScope, "needs write"), `Bearer realm="api", error="insufficient_scope", error_description="needs write"`},
		{"another scheme's error", m2m.Invalid("basic", m2m.ReasonBadCredentials, "x"), `Bearer realm="api"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := httpauth.BearerChallenge("api", tt.err).String(); got != tt.want {
				t.Errorf("BearerChallenge(api, %v) = %s; want %s", tt.err, got, tt.want)
			}
		})
	}
}

func TestWriteRefusalChallenges(t *testing.T) {
	key := httpauth.Challenge{Scheme: "Key", Params: []httpauth.Param{{"realm", "api"}}}
	scope := httpauth.Challenge{Scheme: "Bearer", Params: []httpauth.Param{{"error", "insufficient_scope"}, {"scope", "w"}}}
	tests := []struct {
		name   string
		err    error
		status int
		want   []string
	}{
		{"401 gets all", m2m.ErrNoCredentials, 401, []string{key.String(), scope.String()}},
		{"403 insufficient_scope gets its own", m2m.Invalid("x", m2m.ReasonInsufficientScope, "d"), 403, []string{scope.String()}},
		{"403 forbidden gets none", m2m.Invalid("x", m2m.ReasonForbidden, "d"), 403, nil},
		{"429 gets none", m2m.Invalid("x", m2m.ReasonThrottled, "d"), 429, nil},
		{"500 gets none", errors.New("boom"), 500, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			httpauth.WriteRefusal(w, tt.err, key, scope)
			if w.Code != tt.status {
				t.Errorf("WriteRefusal(%v) status = %d; want %d", tt.err, w.Code, tt.status)
			}
			if diff := cmp.Diff(tt.want, w.Header().Values("WWW-Authenticate")); diff != "" {
				t.Errorf("WriteRefusal(%v) WWW-Authenticate (-want +got):\n%s", tt.err, diff)
			}
		})
	}
}

// TestZeroMiddlewareChallenge checks that a 401 always carries a
// challenge (RFC 7235 section 3.1), even without a Challenger.
func TestZeroMiddlewareChallenge(t *testing.T) {
	var m httpauth.Middleware
	w := httptest.NewRecorder()
	m.Handler(http.HandlerFunc(whoami)).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if got := w.Header().Values("WWW-Authenticate"); w.Code != 401 || !cmp.Equal(got, []string{"Bearer"}) {
		t.Errorf("zero Middleware = %d %q; want 401 [Bearer]", w.Code, got)
	}
}

func TestRequireScopeNoPrincipalChallenge(t *testing.T) {
	w := httptest.NewRecorder()
	httpauth.RequireScope("read")(http.HandlerFunc(whoami)).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if got := w.Header().Values("WWW-Authenticate"); w.Code != 401 || !cmp.Equal(got, []string{"Bearer"}) {
		t.Errorf("RequireScope without a Principal = %d %q; want 401 [Bearer]", w.Code, got)
	}
}

func TestMiddlewareRequireScope(t *testing.T) {
	tests := []struct {
		name      string
		verifiers []m2m.Verifier
		auth      string
		status    int
		challenge []string
		reason    string
	}{
		{"has scope", []m2m.Verifier{keyVerifier{"k1"}}, "Key k1", 200, nil, ""},
		{"lacks scope", []m2m.Verifier{keyVerifier{"k1"}}, "Key k1", 403, []string{`Bearer error="insufficient_scope", scope="write"`}, "insufficient_scope"},
		{"no principal", []m2m.Verifier{keyVerifier{"k1"}, bearerStub{}}, "", 401, []string{`Key realm="api"`, `Bearer realm="api"`}, "missing_credentials"},
		{"no principal, no challenger", nil, "", 401, []string{"Bearer"}, "missing_credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			m := &httpauth.Middleware{Verifiers: tt.verifiers, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
			scopes := []string{"write"}
			if tt.status == 200 {
				scopes = []string{"read"}
			}
			h := m.Optional(m.RequireScope(scopes...)(http.HandlerFunc(whoami)))
			r := httptest.NewRequest("GET", "/", nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status = %d; want %d", w.Code, tt.status)
			}
			if diff := cmp.Diff(tt.challenge, w.Header().Values("WWW-Authenticate")); diff != "" {
				t.Errorf("WWW-Authenticate (-want +got):\n%s", diff)
			}
			if tt.reason != "" && (!strings.Contains(logs.String(), `"reason":"`+tt.reason+`"`) || !strings.Contains(logs.String(), `"level":"INFO"`)) {
				t.Errorf("log = %s; want an INFO record with reason %s", logs.String(), tt.reason)
			}
			if tt.reason == "" && logs.Len() != 0 {
				t.Errorf("log = %s; want nothing for an accepted request", logs.String())
			}
		})
	}
	t.Run("OnError", func(t *testing.T) {
		var got error
		m := &httpauth.Middleware{Verifiers: []m2m.Verifier{keyVerifier{"k1"}},
			OnError: func(w http.ResponseWriter, r *http.Request, err error) { got = err; w.WriteHeader(418) }}
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Key k1")
		w := httptest.NewRecorder()
		m.Handler(m.RequireScope("write")(http.HandlerFunc(whoami))).ServeHTTP(w, r)
		if w.Code != 418 || m2m.ReasonOf(got) != m2m.ReasonInsufficientScope {
			t.Errorf("RequireScope refusal with OnError = %d, %v; want 418 from OnError with insufficient_scope", w.Code, got)
		}
	})
}

func TestParseAuthorization(t *testing.T) {
	tests := []struct {
		in, scheme, cred string
		ok               bool
	}{
		{"Bearer abc", "Bearer", "abc", true},
		{"bearer   abc  ", "bearer", "abc", true},
		{"Basic", "Basic", "", true},
		{`Digest a="b", c=d`, "Digest", `a="b", c=d`, true},
		{"", "", "", false},
		{" ", "", "", false},
		{"Bearer\tabc", "", "", false},
		{"Bea(rer abc", "", "", false},
		{"=abc", "", "", false},
	}
	for _, tt := range tests {
		s, c, ok := httpauth.ParseAuthorization(tt.in)
		if s != tt.scheme || c != tt.cred || ok != tt.ok {
			t.Errorf("ParseAuthorization(%q) = %q, %q, %v; want %q, %q, %v", tt.in, s, c, ok, tt.scheme, tt.cred, tt.ok)
		}
	}
}

func TestChallengeQuoting(t *testing.T) {
	c := httpauth.Challenge{Scheme: "Bearer", Params: []httpauth.Param{{"realm", "a\"b\\c\r\nd"}}}
	if got, want := c.String(), `Bearer realm="a\"b\\cd"`; got != want {
		t.Errorf("String() = %s; want %s", got, want)
	}
}

func TestIsToken68(t *testing.T) {
	for s, want := range map[string]bool{"abc": true, "a+/b==": true, "": false, "==": false, "a=b": false, "a b": false} {
		if got := httpauth.IsToken68(s); got != want {
			t.Errorf("IsToken68(%q) = %v; want %v", s, got, want)
		}
	}
}

// anyScopeStub grants the scopes named in its Bearer credential, split on
// "|", whatever they are.
type anyScopeStub struct{}

func (anyScopeStub) Verify(r *http.Request) (*m2m.Principal, error) {
	cred, err := httpauth.Credentials(r, "Bearer", m2m.SchemeBearer)
	if err != nil {
		return nil, err
	}
	return &m2m.Principal{Subject: "svc", Scheme: m2m.SchemeBearer, Scopes: strings.Split(cred, "|")}, nil
}

// TestRequireScopeInvalid: a required scope that is not an RFC 6749 scope
// token fails closed (500) even for a Principal that carries the very
// same string, through both RequireScope functions.
func TestRequireScopeInvalid(t *testing.T) {
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{anyScopeStub{}}}
	tests := []struct {
		name   string
		scopes []string
		status int
	}{
		{"valid", []string{"admin"}, 200},
		{"no-break space", []string{"read\u00a0admin"}, 500},
		{"space", []string{"read admin"}, 500},
		{"empty", []string{""}, 500},
		{"one bad among good", []string{"admin", "a\tb"}, 500},
	}
	for _, tt := range tests {
		for _, mw := range []struct {
			name string
			f    func(...string) func(http.Handler) http.Handler
		}{{"httpauth.RequireScope", httpauth.RequireScope}, {"Middleware.RequireScope", m.RequireScope}} {
			t.Run(tt.name+"/"+mw.name, func(t *testing.T) {
				h := m.Handler(mw.f(tt.scopes...)(http.HandlerFunc(whoami)))
				r := httptest.NewRequest("GET", "/", nil)
				r.Header.Set("Authorization", "Bearer "+strings.Join(append(tt.scopes, "admin"), "|"))
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != tt.status {
					t.Errorf("RequireScope(%q) for a Principal holding them: %d; want %d", tt.scopes, w.Code, tt.status)
				}
			})
		}
	}
}

// TestWriteRefusalBodyBytes pins the refusal body byte for byte now that
// it is oautherr.Body: error_uri is never written.
func TestWriteRefusalBodyBytes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{m2m.ErrNoCredentials, `{"error":"missing_credentials","error_description":"authentication required"}` + "\n"},
		{m2m.Invalid("key", m2m.ReasonExpired, ""), `{"error":"expired"}` + "\n"},
	} {
		w := httptest.NewRecorder()
		httpauth.WriteRefusal(w, tc.err)
		if got := w.Body.String(); got != tc.want {
			t.Errorf("WriteRefusal(%v) body = %s; want %s", tc.err, got, tc.want)
		}
	}
}
