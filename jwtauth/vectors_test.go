package jwtauth_test

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"
	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/basic"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/internal/vectors"
	"github.com/m2mkit/m2m/jwtauth"
)

// TestVectorsMicrodot runs the microdot + PyJWT 2.12 vectors
// (../shared/vectors/SCHEMA.md section 4): encode through jwtauth.Sign,
// decode through jwtauth.Validator, and http_request through an app built
// from the file's http_app description with TokenAuth, LoginHandler,
// DeviceTokens and basic.Verifier.
func TestVectorsMicrodot(t *testing.T) {
	vectors.Run(t, "microdot_pyjwt", microdotHandler())
}

// FuzzVectorsMicrodot runs the microdot harness on mutated vectors: it
// must never panic (see [vectors.Fuzz]).
func FuzzVectorsMicrodot(f *testing.F) {
	vectors.Fuzz(f, "microdot_pyjwt", func(t testing.TB, file *vectors.File, v *vectors.Vector) {
		microdotHandler()(t, file, v)
	})
}

// microdotHandler returns the harness's handler, which builds each file's
// app once.
func microdotHandler() vectors.Handler {
	apps := map[*vectors.File]*microdotApp{}
	return func(t testing.TB, f *vectors.File, v *vectors.Vector) {
		if len(v.Extra) != 0 {
			t.Fatalf("unknown vector fields: %v", keys(v.Extra))
		}
		switch v.Op {
		case "encode":
			runEncode(t, v)
		case "decode":
			runDecode(t, v)
		case "http_request":
			app, ok := apps[f]
			if !ok {
				app = newMicrodotApp(t, f)
				apps[f] = app
			}
			app.run(t, v)
		default:
			t.Fatalf("unknown op %q", v.Op)
		}
	}
}

func keys(m map[string]json.RawMessage) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// key returns the HMAC key of a vector: raw bytes from hex, or a str's
// UTF-8 bytes (as PyJWT uses it).
func key(t testing.TB, keyHex, keyStr *string) []byte {
	t.Helper()
	switch {
	case keyHex != nil && keyStr == nil:
		b, err := hex.DecodeString(*keyHex)
		if err != nil {
			t.Fatalf("key_hex: %v", err)
		}
		return b
	case keyStr != nil && keyHex == nil:
		return []byte(*keyStr)
	}
	t.Fatalf("want exactly one of key_hex and key_str")
	return nil
}

func seconds(t testing.TB, n json.Number) time.Time {
	t.Helper()
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		t.Fatalf("time %q: %v", n, err)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e9)))
}

// --- encode ---

type encodeInput struct {
	Payload               json.RawMessage `json:"payload"`
	PayloadDatetimeClaims []string        `json:"payload_datetime_claims"`
	KeyHex                *string         `json:"key_hex"`
	KeyStr                *string         `json:"key_str"`
	Algorithm             string          `json:"algorithm"`
	Headers               *struct {
		Kid *string `json:"kid"`
		Typ *string `json:"typ"`
	} `json:"headers"`
}

type encodeExpected struct {
	Outcome     string `json:"outcome"`
	Token       string `json:"token"`
	HeaderJSON  string `json:"header_json"`
	PayloadJSON string `json:"payload_json"`
}

func runEncode(t testing.TB, v *vectors.Vector) {
	var in encodeInput
	var want encodeExpected
	vectors.MustDecode(t, v.Input, &in)
	vectors.MustDecode(t, v.Expected, &want)
	if want.Outcome != "accept" {
		t.Fatalf("encode outcome %q: want accept", want.Outcome)
	}
	payload, err := pyDumpsObject(in.Payload, in.PayloadDatetimeClaims)
	if err != nil {
		t.Fatalf("payload: %v", err)
	}
	h := jwtauth.Header{Alg: in.Algorithm}
	if in.Headers != nil {
		if in.Headers.Kid != nil {
			h.Kid = *in.Headers.Kid
		}
		if in.Headers.Typ != nil {
			h.Typ = *in.Headers.Typ
		}
	}
	got, err := jwtauth.Sign(h, key(t, in.KeyHex, in.KeyStr), payload)
	if err != nil {
		t.Fatalf("Sign = %v", err)
	}
	parts := strings.Split(got, ".")
	if len(parts) != 3 {
		t.Fatalf("Sign = %q; not three segments", got)
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	pl, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if string(hdr) != want.HeaderJSON {
		t.Errorf("header = %s; want %s", hdr, want.HeaderJSON)
	}
	if string(pl) != want.PayloadJSON {
		t.Errorf("payload = %s; want %s", pl, want.PayloadJSON)
	}
	if got != want.Token {
		t.Errorf("Sign(%s) = %s; want %s", payload, got, want.Token)
	}
}

// pyDumpsObject re-serializes a JSON object the way Python's
// json.dumps(obj, separators=(",", ":")) does (keys in their order, ASCII
// only), after replacing the top-level datetime claims (str() of an aware
// datetime) with their unix seconds, as PyJWT does.
func pyDumpsObject(raw json.RawMessage, datetimeClaims []string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("payload is not an object")
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for first := true; dec.More(); first = false {
		k, err := dec.Token()
		if err != nil {
			return nil, err
		}
		if !first {
			b.WriteByte(',')
		}
		pyString(&b, k.(string))
		b.WriteByte(':')
		if slices.Contains(datetimeClaims, k.(string)) {
			var s string
			if err := dec.Decode(&s); err != nil {
				return nil, fmt.Errorf("datetime claim %s: %v", k, err)
			}
			tm, err := time.Parse("2006-01-02 15:04:05.999999999-07:00", s)
			if err != nil {
				return nil, fmt.Errorf("datetime claim %s: %v", k, err)
			}
			b.WriteString(strconv.FormatInt(tm.Unix(), 10))
			continue
		}
		if err := pyValue(&b, dec); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func pyValue(b *bytes.Buffer, dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok := tok.(type) {
	case json.Delim:
		open, close := byte(tok), byte(']')
		if tok == '{' {
			close = '}'
		}
		b.WriteByte(open)
		for first := true; dec.More(); first = false {
			if !first {
				b.WriteByte(',')
			}
			if tok == '{' {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				pyString(b, k.(string))
				b.WriteByte(':')
			}
			if err := pyValue(b, dec); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
		b.WriteByte(close)
	case string:
		pyString(b, tok)
	case json.Number:
		b.WriteString(string(tok))
	case bool:
		b.WriteString(strconv.FormatBool(tok))
	case nil:
		b.WriteString("null")
	}
	return nil
}

// pyString writes s as Python's json.dumps does with ensure_ascii=True.
func pyString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || (r > 0x7f && r < 0x10000):
			fmt.Fprintf(b, `\u%04x`, r)
		case r >= 0x10000:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(b, `\u%04x\u%04x`, r1, r2)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// --- decode ---

type decodeInput struct {
	Token      string          `json:"token"`
	KeyHex     *string         `json:"key_hex"`
	KeyStr     *string         `json:"key_str"`
	Algorithms []string        `json:"algorithms"`
	Leeway     json.Number     `json:"leeway"`
	Options    *decodeOptions  `json:"options"`
	Now        json.Number     `json:"now"`
	Audience   json.RawMessage `json:"audience"`
	Issuer     *string         `json:"issuer"`
}

type decodeOptions struct {
	Require []string `json:"require"`
}

type decodeExpected struct {
	Outcome string          `json:"outcome"`
	Result  string          `json:"result"`
	Claims  json.RawMessage `json:"claims"`
	Message *string         `json:"message"`
}

// pyjwtReasons maps PyJWT's exception classes to the reasons that agree
// with them. A signature segment that is not base64url is
// InvalidSignatureError in PyJWT (its decoder drops junk characters) and
// malformed here (strict base64url); a non-string aud with no audience
// configured is InvalidAudienceError there and malformed here.
var pyjwtReasons = map[string][]m2m.Reason{
	"ExpiredSignatureError":     {m2m.ReasonExpired},
	"InvalidSignatureError":     {m2m.ReasonBadSignature, m2m.ReasonMalformed},
	"InvalidAudienceError":      {m2m.ReasonWrongAudience, m2m.ReasonMalformed},
	"InvalidIssuerError":        {m2m.ReasonWrongIssuer},
	"ImmatureSignatureError":    {m2m.ReasonNotYetValid},
	"DecodeError":               {m2m.ReasonMalformed},
	"InvalidAlgorithmError":     {m2m.ReasonBadAlgorithm},
	"MissingRequiredClaimError": {m2m.ReasonMissingClaim},
	"InvalidSubjectError":       {m2m.ReasonMalformed},
	"InvalidJTIError":           {m2m.ReasonMalformed},
	"InvalidIssuedAtError":      {m2m.ReasonMalformed},
}

func runDecode(t testing.TB, v *vectors.Vector) {
	var in decodeInput
	var want decodeExpected
	vectors.MustDecode(t, v.Input, &in)
	vectors.MustDecode(t, v.Expected, &want)
	val := &jwtauth.Validator{
		Algorithms:                 in.Algorithms,
		InsecureAllowMissingExpiry: true,
		SkipIssuerCheck:            in.Issuer == nil,
		Leeway:                     jwtauth.NoLeeway,
	}
	now := seconds(t, in.Now)
	val.Now = func() time.Time { return now }
	if l, err := strconv.ParseFloat(string(in.Leeway), 64); err != nil {
		t.Fatalf("leeway %q: %v", in.Leeway, err)
	} else if l != 0 {
		val.Leeway = time.Duration(l * float64(time.Second))
	}
	if in.Options != nil {
		for _, c := range in.Options.Require {
			if c == "exp" {
				val.InsecureAllowMissingExpiry = false
			} else {
				val.RequiredClaims = append(val.RequiredClaims, c)
			}
		}
	}
	if in.Issuer != nil {
		val.Issuer = *in.Issuer
	}
	switch {
	case len(in.Audience) == 0 || string(in.Audience) == "null":
		val.SkipAudienceCheck = true
	case in.Audience[0] == '"':
		var a string
		vectors.MustDecode(t, in.Audience, &a)
		val.Audience = []string{a}
	default:
		vectors.MustDecode(t, in.Audience, &val.Audience)
	}
	c, err := val.Verify(context.Background(), in.Token, jwtauth.Secrets(key(t, in.KeyHex, in.KeyStr)))
	got := "accept"
	if err != nil {
		got = "reject"
	}
	if got != want.Outcome {
		t.Fatalf("Verify = %v; want outcome %s (%s: %v)", err, want.Outcome, want.Result, deref(want.Message))
	}
	if err != nil {
		reasons, ok := pyjwtReasons[want.Result]
		if !ok {
			t.Fatalf("unknown PyJWT result %q", want.Result)
		}
		if r := m2m.ReasonOf(err); !slices.Contains(reasons, r) {
			t.Errorf("Verify reason = %q (%v); want one of %v for %s", r, err, reasons, want.Result)
		}
		return
	}
	if want.Result != "ok" {
		t.Fatalf("accept with result %q", want.Result)
	}
	assertJSONEqual(t, "claims", c.Raw, want.Claims)
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// assertJSONEqual compares got (any Go value) with want (JSON) as JSON
// values, numbers compared by value.
func assertJSONEqual(t testing.TB, what string, got any, want json.RawMessage) {
	t.Helper()
	gb, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	vectors.MustDecode(t, gb, &g)
	vectors.MustDecode(t, want, &w)
	if diff := cmp.Diff(normalize(w), normalize(g)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

func normalize(v any) any {
	switch v := v.(type) {
	case json.Number:
		f, _ := strconv.ParseFloat(string(v), 64)
		return f
	case []any:
		for i := range v {
			v[i] = normalize(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = normalize(v[k])
		}
	}
	return v
}

// --- http_request ---

type microdotTop struct {
	Schema     string          `json:"schema"`
	System     string          `json:"system"`
	ProducedBy string          `json:"produced_by"`
	SecretHex  string          `json:"secret_hex"`
	HTTPApp    json.RawMessage `json:"http_app"`
	Notes      []string        `json:"notes"`
}

type httpApp struct {
	Framework                string            `json:"framework"`
	SecretHex                string            `json:"secret_hex"`
	BasicUsers               map[string]string `json:"basic_users"`
	Callbacks                map[string]string `json:"callbacks"`
	ProtectedHandlerResponse string            `json:"protected_handler_response"`
	Routes                   []struct {
		Method string  `json:"method"`
		Path   string  `json:"path"`
		Auth   *string `json:"auth"`
		Params *struct {
			Realm       *string `json:"realm"`
			Charset     *string `json:"charset"`
			Scheme      *string `json:"scheme"`
			Header      *string `json:"header"`
			ErrorStatus int     `json:"error_status"`
		} `json:"params"`
		Callback     *string `json:"callback"`
		Errorhandler *struct {
			Status  int               `json:"status"`
			Body    json.RawMessage   `json:"body"`
			Headers map[string]string `json:"headers"`
		} `json:"errorhandler"`
		Handler *string `json:"handler"`
	} `json:"routes"`
}

// microdotApp is the file's http_app rebuilt with m2m: microdot's
// response shapes (text "<status> error" bodies, errorhandler overrides,
// BasicAuth's empty body with error_status) come from OnError hooks, and
// microdot's lenient Basic decoding from basic.Verifier's Lenient option.
type microdotApp struct {
	mux *http.ServeMux
	now time.Time // the frozen clock of the current vector
}

const microdotJSON = "application/json; charset=UTF-8"

func writeMicrodotJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", microdotJSON)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func newMicrodotApp(t testing.TB, f *vectors.File) *microdotApp {
	t.Helper()
	b, _ := json.Marshal(f.Top)
	var tp microdotTop
	vectors.MustDecode(t, b, &tp)
	var desc httpApp
	vectors.MustDecode(t, tp.HTTPApp, &desc)
	secret, err := hex.DecodeString(desc.SecretHex)
	if err != nil {
		t.Fatalf("http_app.secret_hex: %v", err)
	}
	app := &microdotApp{mux: http.NewServeMux()}
	clock := func() time.Time { return app.now }

	userCheck := func(user, pass string) bool {
		want, ok := desc.BasicUsers[user]
		return ok && subtle.ConstantTimeCompare([]byte(pass), []byte(want)) == 1
	}
	// The callbacks, by fixture name; each returns microdot's current_user
	// as the Principal's Claims.
	basicCallbacks := map[string]func(r *http.Request, user, pass string) (*m2m.Principal, error){
		"basic_users": func(r *http.Request, user, pass string) (*m2m.Principal, error) {
			if !userCheck(user, pass) {
				return nil, nil
			}
			return &m2m.Principal{Subject: user, Claims: map[string]any{"username": user}}, nil
		},
	}
	// PyJWT 2.12 defaults: no leeway, exp optional, no audience or issuer.
	pyjwt := &jwtauth.Validator{Algorithms: []string{"HS256"}, SkipIssuerCheck: true, SkipAudienceCheck: true,
		InsecureAllowMissingExpiry: true, Leeway: jwtauth.NoLeeway, Now: clock}
	tokenCallbacks := map[string]func(r *http.Request, token string) (*m2m.Principal, error){
		"jwt_hs256": func(r *http.Request, token string) (*m2m.Principal, error) {
			c, err := pyjwt.Verify(r.Context(), token, jwtauth.Secrets(secret))
			if err != nil {
				return nil, err
			}
			return &m2m.Principal{Subject: c.Subject, Claims: map[string]any{"username": c.Subject}}, nil
		},
		"static_key": func(r *http.Request, token string) (*m2m.Principal, error) {
			if subtle.ConstantTimeCompare([]byte(token), []byte("k-123")) != 1 {
				return nil, nil
			}
			return &m2m.Principal{Claims: map[string]any{"key": token}}, nil
		},
	}
	protected := func(w http.ResponseWriter, r *http.Request) {
		var user any
		if p, ok := m2m.FromContext(r.Context()); ok {
			user = p.Claims
		}
		writeMicrodotJSON(w, http.StatusOK, map[string]any{"user": user})
	}

	for _, rt := range desc.Routes {
		pattern := rt.Method + " " + rt.Path
		if rt.Auth == nil {
			// The only unprotected handler of the schema: the recipe's login.
			if rt.Handler == nil {
				t.Fatalf("route %s: no auth and no handler", pattern)
			}
			register(t, app.mux, pattern, &jwtauth.LoginHandler{
				Users: jwtauth.PasswordFunc(func(_ context.Context, u, p string) (bool, error) { return userCheck(u, p), nil }),
				Tokens: &jwtauth.DeviceTokens{Keys: []m2m.Secret{secret}, TTL: time.Hour, OmitIssuedAt: true,
					Now: clock},
				OnError: func(w http.ResponseWriter, r *http.Request, err error) {
					if m2m.ReasonOf(err) == m2m.ReasonBadCredentials {
						writeMicrodotJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid credentials"})
						return
					}
					httpauth.WriteRefusal(w, err)
				},
			})
			continue
		}
		if rt.Params == nil || rt.Callback == nil {
			t.Fatalf("route %s: protected without params or callback", pattern)
		}
		prm := rt.Params
		status := prm.ErrorStatus
		var verifier m2m.Verifier
		var challenge func(error) httpauth.Challenge
		switch *rt.Auth {
		case "BasicAuth":
			cb, ok := basicCallbacks[*rt.Callback]
			if !ok {
				t.Fatalf("route %s: unknown basic callback %q", pattern, *rt.Callback)
			}
			bv := &basic.Verifier{Realm: str(prm.Realm), Charset: str(prm.Charset), Scheme: str(prm.Scheme), Lenient: true, Check: cb}
			verifier, challenge = bv, bv.Challenge
		case "TokenAuth", "TokenAuth.optional":
			cb, ok := tokenCallbacks[*rt.Callback]
			if !ok {
				t.Fatalf("route %s: unknown token callback %q", pattern, *rt.Callback)
			}
			verifier = &jwtauth.TokenAuth{Scheme: str(prm.Scheme), Header: str(prm.Header), Check: cb}
		default:
			t.Fatalf("route %s: unknown auth %q", pattern, *rt.Auth)
		}
		eh := rt.Errorhandler
		// net/http panics on a status outside 100..999.
		if status < 100 || status > 999 || eh != nil && (eh.Status < 100 || eh.Status > 999) {
			t.Fatalf("route %s: invalid error status", pattern)
		}
		mw := &httpauth.Middleware{
			Verifiers: []m2m.Verifier{verifier},
			OnError: func(w http.ResponseWriter, r *http.Request, err error) {
				switch {
				case eh != nil:
					for k, v := range eh.Headers {
						w.Header().Set(k, v)
					}
					w.Header().Set("Content-Type", microdotJSON)
					w.WriteHeader(eh.Status)
					w.Write(eh.Body)
				case challenge != nil: // BasicAuth: empty body, challenge
					w.Header().Set("WWW-Authenticate", challenge(err).String())
					w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
					w.WriteHeader(status)
				default: // microdot's abort(status)
					w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
					w.WriteHeader(status)
					fmt.Fprintf(w, "%d error", status)
				}
			},
		}
		if *rt.Auth == "TokenAuth.optional" {
			// microdot runs an optional route with current_user None both
			// without a token and with a refused one.
			register(t, app.mux, pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if p, err := mw.Check(r); err == nil {
					r = r.WithContext(m2m.NewContext(r.Context(), p))
				}
				protected(w, r)
			}))
			continue
		}
		register(t, app.mux, pattern, mw.Handler(http.HandlerFunc(protected)))
	}
	return app
}

// register is mux.Handle failing the test, instead of panicking, on a
// pattern ServeMux refuses (malformed, or in conflict with another route).
func register(t testing.TB, mux *http.ServeMux, pattern string, h http.Handler) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("route %q: %v", pattern, p)
		}
	}()
	mux.Handle(pattern, h)
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

type httpInput struct {
	Method   string            `json:"method"`
	Path     string            `json:"path"`
	Headers  map[string]string `json:"headers"`
	JSONBody json.RawMessage   `json:"json_body"`
	Now      json.Number       `json:"now"`
	AppRef   string            `json:"app_ref"`
}

type httpExpected struct {
	Outcome         string          `json:"outcome"`
	Status          int             `json:"status"`
	Body            json.RawMessage `json:"body"`
	WWWAuthenticate *string         `json:"www_authenticate"`
	ContentType     *string         `json:"content_type"`
}

func (app *microdotApp) run(t testing.TB, v *vectors.Vector) {
	var in httpInput
	var want httpExpected
	vectors.MustDecode(t, v.Input, &in)
	vectors.MustDecode(t, v.Expected, &want)
	if in.AppRef != "http_app" {
		t.Fatalf("unknown app_ref %q", in.AppRef)
	}
	app.now = seconds(t, in.Now)
	var body []byte
	if len(in.JSONBody) > 0 && string(in.JSONBody) != "null" {
		body = in.JSONBody
	}
	h := http.Header{}
	for k, val := range in.Headers {
		h.Set(k, val) // Content-Length is set from the body
	}
	r, err := vectors.NewRequest(in.Method, in.Path, h, body)
	if err != nil {
		// What net/http answers with 400 before any handler runs.
		if want.Status != http.StatusBadRequest {
			t.Fatalf("net/http refuses the request (%v): 400; want %d", err, want.Status)
		}
		return
	}
	w := httptest.NewRecorder()
	app.mux.ServeHTTP(w, r)

	if w.Code != want.Status {
		t.Fatalf("status = %d (body %s); want %d", w.Code, w.Body, want.Status)
	}
	if got := map[bool]string{true: "accept", false: "reject"}[w.Code >= 200 && w.Code <= 299]; got != want.Outcome {
		t.Errorf("outcome = %s; want %s", got, want.Outcome)
	}
	if len(want.Body) > 0 && want.Body[0] == '"' {
		var s string
		vectors.MustDecode(t, want.Body, &s)
		if w.Body.String() != s {
			t.Errorf("body = %q; want %q", w.Body, s)
		}
	} else {
		assertJSONEqual(t, "body", json.RawMessage(w.Body.Bytes()), want.Body)
	}
	gotWWW := w.Header().Values("WWW-Authenticate")
	switch {
	case want.WWWAuthenticate == nil && len(gotWWW) != 0:
		t.Errorf("WWW-Authenticate = %q; want none", gotWWW)
	case want.WWWAuthenticate != nil && (len(gotWWW) != 1 || gotWWW[0] != *want.WWWAuthenticate):
		t.Errorf("WWW-Authenticate = %q; want %q", gotWWW, *want.WWWAuthenticate)
	}
	if want.ContentType != nil {
		// Compare media types, and the charset when ours names one:
		// application/json has no charset parameter (RFC 8259 section 11),
		// which microdot adds anyway.
		gmt, gp, err1 := mime.ParseMediaType(w.Header().Get("Content-Type"))
		wmt, wp, err2 := mime.ParseMediaType(*want.ContentType)
		if err1 != nil || err2 != nil || gmt != wmt || (gp["charset"] != "" && !strings.EqualFold(gp["charset"], wp["charset"])) {
			t.Errorf("Content-Type = %q; want %q", w.Header().Get("Content-Type"), *want.ContentType)
		}
	}
}
