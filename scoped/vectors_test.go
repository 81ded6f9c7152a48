package scoped

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/internal/vectors"
	"github.com/m2mkit/m2m/scoped/djangosign"
	"github.com/m2mkit/m2m/scoped/internal/pyjson"
)

// unixTime turns a vector's unix_time (seconds, maybe fractional) into a
// time.Time the way the CLI's --now does.
func unixTime(t testing.TB, n json.Number) time.Time {
	t.Helper()
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		t.Fatalf("unix_time %q: %v", n, err)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e9)))
}

func fixed(tm time.Time) func() time.Time { return func() time.Time { return tm } }

// canonical parses JSON text as Python would and re-serialises it, so
// that two texts compare equal iff Python sees equal values in the same
// order.
func canonical(t testing.TB, raw []byte) string {
	t.Helper()
	v, err := pyjson.Parse(string(raw))
	if err != nil {
		t.Fatalf("pyjson.Parse(%.100s): %v", raw, err)
	}
	return string(pyjson.Encode(v))
}

type dumpsIn struct {
	Obj           json.RawMessage `json:"obj"`
	Key           string          `json:"key"`
	Salt          string          `json:"salt"`
	SaltEffective string          `json:"salt_effective"`
	Compress      bool            `json:"compress"`
	Algorithm     string          `json:"algorithm"`
	UnixTime      json.Number     `json:"unix_time"`
}

type tokenOut struct {
	Outcome           string `json:"outcome"`
	Token             string `json:"token"`
	PayloadB64        string `json:"payload_b64"`
	Compressed        bool   `json:"compressed"`
	TimestampB62      string `json:"timestamp_b62"`
	Timestamp         int64  `json:"timestamp"`
	JSON              string `json:"json"`
	SignatureB64      string `json:"signature_b64"`
	SignedValue       string `json:"signed_value"`
	HMACKeyDerivation string `json:"hmac_key_derivation"`
}

type loadsIn struct {
	Token              string       `json:"token"`
	Key                string       `json:"key"`
	Salt               string       `json:"salt"`
	SaltEffective      string       `json:"salt_effective"`
	MaxAge             *json.Number `json:"max_age"`
	UnixTime           json.Number  `json:"unix_time"`
	Verifier           string       `json:"verifier"`
	VerifierAlgorithm  string       `json:"verifier_algorithm"`
	LegacySHA1Fallback bool         `json:"legacy_sha1_fallback"`
}

type loadsOut struct {
	Outcome          string          `json:"outcome"`
	Result           string          `json:"result"`
	Obj              json.RawMessage `json:"obj"`
	ObjNonfiniteJSON *string         `json:"obj_nonfinite_json"`
	Message          *string         `json:"message"`
	Note             *string         `json:"note"`
}

type generateIn struct {
	UserID    json.RawMessage `json:"user_id"`
	Endpoints json.RawMessage `json:"endpoints"`
	MaxAge    *int64          `json:"max_age"`
	Recipient *string         `json:"recipient"`
	UnixTime  json.Number     `json:"unix_time"`
	SecretKey string          `json:"SECRET_KEY"`
	Algorithm string          `json:"algorithm"`
}

type ctorIn struct {
	UserID              json.RawMessage `json:"user_id"`
	Endpoints           json.RawMessage `json:"endpoints"`
	MaxAge              json.RawMessage `json:"max_age"`
	EndpointsPythonType *string         `json:"endpoints_python_type"`
}

type ctorOut struct {
	Outcome string  `json:"outcome"`
	Result  string  `json:"result"`
	Message *string `json:"message"`
}

type requestIn struct {
	Method              string             `json:"method"`
	Path                string             `json:"path"`
	RequestPathDecoded  string             `json:"request_path_decoded"`
	Query               map[string]*string `json:"query"`
	AuthorizationHeader *string            `json:"authorization_header"`
	UnixTime            json.Number        `json:"unix_time"`
	SiteAlgorithm       string             `json:"site_DEFAULT_HASHING_ALGORITHM"`
	LegacySHA1Fallback  bool               `json:"legacy_sha1_fallback"`
	SecretKey           string             `json:"SECRET_KEY"`
	UserDBRef           string             `json:"user_db_ref"`
}

type requestOut struct {
	Outcome         string          `json:"outcome"`
	Status          int             `json:"status"`
	Body            json.RawMessage `json:"body"`
	WWWAuthenticate *string         `json:"www_authenticate"`
	Exception       *string         `json:"exception"`
	Message         *string         `json:"message"`
}

type dbUser struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	IsActive bool   `json:"is_active"`
}

func outcome(ok bool) string {
	if ok {
		return "accept"
	}
	return "reject"
}

func TestVectorsDjangoSigning(t *testing.T) {
	vectors.Run(t, "django_signing", djangoSigningVector)
}

// FuzzVectorsDjangoSigning runs the drf-tmp-scoped-token harness on mutated vectors: it must never
// panic (see [vectors.Fuzz]).
func FuzzVectorsDjangoSigning(f *testing.F) {
	vectors.Fuzz(f, "django_signing", djangoSigningVector)
}

func djangoSigningVector(t testing.TB, f *vectors.File, v *vectors.Vector) {
	switch v.Op {
	case "dumps":
		vectorDumps(t, v)
	case "loads":
		vectorLoads(t, v)
	case "generate_token":
		vectorGenerate(t, v)
	case "TokenManager.__init__":
		vectorCtor(t, v)
	case "http_request":
		vectorRequest(t, f, v)
	case "wsgi_request":
		vectorWSGIRequest(t, f, v)
	default:
		t.Fatalf("unknown op %q", v.Op)
	}
}

func checkPieces(t testing.TB, got string, want tokenOut) {
	t.Helper()
	if got != want.Token {
		t.Errorf("token = %q; want %q", got, want.Token)
	}
	parts := strings.Split(got, ":")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts; want 3", got, len(parts))
	}
	if parts[0] != want.PayloadB64 || parts[1] != want.TimestampB62 || parts[2] != want.SignatureB64 {
		t.Errorf("pieces = %q; want %q %q %q", parts, want.PayloadB64, want.TimestampB62, want.SignatureB64)
	}
	if sv := parts[0] + ":" + parts[1]; sv != want.SignedValue {
		t.Errorf("signed value = %q; want %q", sv, want.SignedValue)
	}
	if c := strings.HasPrefix(parts[0], "."); c != want.Compressed {
		t.Errorf("compressed = %v; want %v", c, want.Compressed)
	}
	if ts, err := djangosign.B62Decode(parts[1]); err != nil || ts.Int64() != want.Timestamp {
		t.Errorf("B62Decode(%q) = %v, %v; want %d", parts[1], ts, err, want.Timestamp)
	}
}

func vectorDumps(t testing.TB, v *vectors.Vector) {
	var in dumpsIn
	var want tokenOut
	vectors.MustDecode(t, v.Input, &in)
	vectors.MustDecode(t, v.Expected, &want)
	j, err := djangosign.PythonizeJSON(in.Obj)
	if err != nil {
		t.Fatal(err)
	}
	if string(j) != want.JSON {
		t.Errorf("PythonizeJSON = %s; want %s", j, want.JSON)
	}
	s := &djangosign.Signer{Key: []byte(in.Key), Salt: in.SaltEffective, Algorithm: djangosign.Algorithm(in.Algorithm), Now: fixed(unixTime(t, in.UnixTime))}
	got, err := s.Sign(j, in.Compress)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	checkPieces(t, got, want)
	if want.Outcome != "accept" {
		t.Errorf("outcome %q for dumps", want.Outcome)
	}
}

func vectorLoads(t testing.TB, v *vectors.Vector) {
	var in loadsIn
	var want loadsOut
	vectors.MustDecode(t, v.Input, &in)
	vectors.MustDecode(t, v.Expected, &want)
	s := &djangosign.Signer{Key: []byte(in.Key), Salt: in.SaltEffective, Algorithm: djangosign.Algorithm(in.VerifierAlgorithm),
		LegacySHA1: in.LegacySHA1Fallback, Now: fixed(unixTime(t, in.UnixTime))}
	maxAge := djangosign.NoMaxAge
	if in.MaxAge != nil {
		f, err := strconv.ParseFloat(string(*in.MaxAge), 64)
		if err != nil {
			t.Fatal(err)
		}
		maxAge = f
	}
	got, err := s.Loads(in.Token, maxAge)
	result := "ok"
	var de *djangosign.Error
	if err != nil {
		if !errors.As(err, &de) {
			t.Fatalf("Loads: %v is not a *djangosign.Error", err)
		}
		result = de.Class
	}
	if result != want.Result || outcome(err == nil) != want.Outcome {
		t.Fatalf("Loads(%q) = %s, %v; want %s (%s)", in.Token, got, err, want.Result, want.Outcome)
	}
	if err == nil {
		switch {
		case want.ObjNonfiniteJSON != nil:
			if string(got) != *want.ObjNonfiniteJSON {
				t.Errorf("Loads = %s; want %s", got, *want.ObjNonfiniteJSON)
			}
		case string(got) != canonical(t, want.Obj):
			t.Errorf("Loads = %s; want %s", got, canonical(t, want.Obj))
		}
		return
	}
	msg := de.DjangoMessage()
	if de.Class == "SignatureExpired" && in.MaxAge != nil {
		// Python prints max_age with its own type: 10 or 10.0.
		ma, _ := pyjson.Parse(string(*in.MaxAge))
		msg = "Signature age " + pyjson.FloatRepr(de.Age) + " > " + string(pyjson.Encode(ma)) + " seconds"
	}
	if (de.Class == "BadSignature" || de.Class == "SignatureExpired") && want.Message != nil && msg != *want.Message {
		t.Errorf("DjangoMessage() = %q; want %q", msg, *want.Message)
	}
}

func vectorGenerate(t testing.TB, v *vectors.Vector) {
	var in generateIn
	var want tokenOut
	vectors.MustDecode(t, v.Input, &in)
	vectors.MustDecode(t, v.Expected, &want)
	uv, err := pyjson.Parse(string(in.UserID))
	if err != nil || uv.Kind != pyjson.Int {
		t.Fatalf("user_id %s: want an int", in.UserID)
	}
	tok := &Token{User: json.Number(uv.Int.String()), MaxAge: 360 * time.Second, Recipient: in.Recipient}
	if in.MaxAge != nil {
		tok.MaxAge = time.Duration(*in.MaxAge) * time.Second
	}
	ev, err := pyjson.Parse(string(in.Endpoints))
	if err != nil || ev.Kind != pyjson.Object {
		t.Fatalf("endpoints %s: want an object", in.Endpoints)
	}
	for _, m := range ev.Members {
		for _, p := range m.Value.Items {
			tok.Endpoints = append(tok.Endpoints, Endpoint{Method: m.Key, Prefix: p.Str})
		}
	}
	s := &djangosign.Signer{Key: []byte(in.SecretKey), Algorithm: djangosign.Algorithm(in.Algorithm), Now: fixed(unixTime(t, in.UnixTime))}
	got, err := Encode(s, tok)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	checkPieces(t, got, want)
	payload, err := encodePayload(tok)
	if err != nil || string(payload) != want.JSON {
		t.Errorf("encodePayload = %s, %v; want %s", payload, err, want.JSON)
	}
}

func vectorCtor(t testing.TB, v *vectors.Vector) {
	var in ctorIn
	var want ctorOut
	vectors.MustDecode(t, v.Input, &in)
	vectors.MustDecode(t, v.Expected, &want)
	msg := ""
	uv, err := pyjson.Parse(string(in.UserID))
	if err != nil {
		t.Fatal(err)
	}
	if !uv.Truthy() {
		msg = "user must have id attribute"
	}
	mv := &pyjson.Value{Kind: pyjson.Int, Int: big.NewInt(360)} // not passed: drf's default
	if string(in.MaxAge) != "null" {
		if mv, err = pyjson.Parse(string(in.MaxAge)); err != nil {
			t.Fatal(err)
		}
	}
	ev, err := pyjson.Parse(string(in.Endpoints))
	if err != nil {
		t.Fatal(err)
	}
	seq := ""
	if in.EndpointsPythonType != nil {
		switch *in.EndpointsPythonType {
		case "tuple", "set":
			seq = *in.EndpointsPythonType
		case "list":
			// endpoints itself is a list of pairs: its JSON form is an array.
		default:
			t.Fatalf("unknown endpoints_python_type %q", *in.EndpointsPythonType)
		}
	}
	if msg == "" {
		msg = validateFields(mv, ev, seq)
	}
	result := "ok"
	if msg != "" {
		result = "AssertionError"
	}
	if result != want.Result || outcome(msg == "") != want.Outcome {
		t.Fatalf("validate = %q; want %s %v", msg, want.Result, want.Message)
	}
	if want.Message != nil && msg != *want.Message {
		t.Errorf("message = %q; want %q", msg, *want.Message)
	}
}

// djangoUserLookup emulates User.objects.get(id=value) over the vector
// file's user table: int(value) as Django's AutoField does, None finds
// nothing, and a value int() refuses raises (ValueError: 401 with its
// text; TypeError or OverflowError: 500).
func djangoUserLookup(users []dbUser) func(context.Context, any) (string, error) {
	return func(_ context.Context, u any) (string, error) {
		var id *big.Int
		switch x := u.(type) {
		case nil:
			return "", ErrUnknownUser
		case bool:
			id = big.NewInt(0)
			if x {
				id.SetInt64(1)
			}
		case json.Number:
			id, _ = new(big.Int).SetString(string(x), 10)
		case float64:
			if math.IsNaN(x) {
				return "", m2m.Invalid(m2m.SchemeScoped, m2m.ReasonMalformed, "Field 'id' expected a number but got nan.")
			}
			if math.IsInf(x, 0) {
				return "", errors.New("OverflowError: cannot convert float infinity to integer")
			}
			id, _ = new(big.Float).SetFloat64(math.Trunc(x)).Int(nil)
		case string:
			n, ok := new(big.Int).SetString(strings.TrimSpace(strings.ReplaceAll(x, "_", "")), 10)
			if !ok {
				return "", m2m.Invalid(m2m.SchemeScoped, m2m.ReasonMalformed, fmt.Sprintf("Field 'id' expected a number but got '%s'.", x))
			}
			id = n
		default:
			return "", fmt.Errorf("TypeError: Field 'id' expected a number but got %v", x)
		}
		if id == nil || !id.IsInt64() {
			// SQLite cannot bind it: OverflowError escapes (500).
			return "", errors.New("OverflowError: Python int too large to convert to SQLite INTEGER")
		}
		for _, row := range users {
			if id.Int64() == row.ID {
				return strconv.FormatInt(row.ID, 10), nil
			}
		}
		return "", ErrUnknownUser
	}
}

// wsgiRequestIn is the input of a wsgi_request vector (this package's
// testdata/django_signing_wsgi.json): a request as Django's WSGIHandler
// received it, with the raw query string and body.
type wsgiRequestIn struct {
	Method              string      `json:"method"`
	PathInfo            string      `json:"path_info"`
	QueryString         string      `json:"query_string"`
	AuthorizationHeader *string     `json:"authorization_header"`
	ContentType         *string     `json:"content_type"`
	Body                string      `json:"body"`
	UnixTime            json.Number `json:"unix_time"`
	SiteAlgorithm       string      `json:"site_DEFAULT_HASHING_ALGORITHM"`
	LegacySHA1Fallback  bool        `json:"legacy_sha1_fallback"`
	SecretKey           string      `json:"SECRET_KEY"`
	UserDBRef           string      `json:"user_db_ref"`
}

type wsgiRequestOut struct {
	Outcome         string          `json:"outcome"`
	Status          int             `json:"status"`
	Body            json.RawMessage `json:"body"`
	WWWAuthenticate *string         `json:"www_authenticate"`
}

// djangoView is the vectors' APIView(authentication_classes=[TokenAuth],
// permission_classes=[IsAuthenticated]) behind ver: drf's refusal bodies,
// and on success {"user", "token_endpoints", "recipient_meta"}. *gotErr
// receives the refusal.
func djangoView(t testing.TB, ver *Verifier, gotErr *error) http.Handler {
	mw := &httpauth.Middleware{
		Verifiers: []m2m.Verifier{ver},
		OnError: func(w http.ResponseWriter, r *http.Request, err error) {
			*gotErr = err
			var ce *m2m.CredentialError
			switch {
			case errors.As(err, &ce) && ce.HTTPStatus() == http.StatusBadRequest:
				// Django's own 400 (SuspiciousOperation), not a drf answer.
				w.WriteHeader(http.StatusBadRequest)
			case errors.As(err, &ce):
				w.Header().Set("WWW-Authenticate", ver.Challenge(err).String())
				httpauth.WriteJSON(w, ce.HTTPStatus(), map[string]string{"detail": ce.Description})
			case errors.Is(err, m2m.ErrNoCredentials):
				w.Header().Set("WWW-Authenticate", ver.Challenge(err).String())
				httpauth.WriteJSON(w, http.StatusUnauthorized, map[string]string{"detail": MsgNoCredentials})
			default:
				w.WriteHeader(http.StatusInternalServerError)
			}
		},
	}
	return mw.Handler(ForwardRecipient(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := m2m.FromContext(r.Context())
		id, _ := strconv.ParseInt(p.Subject, 10, 64)
		var eps strings.Builder
		eps.WriteByte('{')
		var groups []methodGroup
		for _, s := range p.Scopes {
			e, _ := ParseEndpoint(s)
			g, _ := group([]Endpoint{e})
			if n := len(groups); n > 0 && groups[n-1].method == e.Method {
				groups[n-1].prefixes = append(groups[n-1].prefixes, e.Prefix)
			} else {
				groups = append(groups, g[0])
			}
		}
		for i, g := range groups {
			if i > 0 {
				eps.WriteByte(',')
			}
			pj, _ := json.Marshal(g.prefixes)
			fmt.Fprintf(&eps, "%q:%s", g.method, pj)
		}
		eps.WriteByte('}')
		rec := "null"
		if x, ok := p.Claims["recipient"]; ok {
			b, _ := json.Marshal(x)
			rec = string(b)
			if s, ok := x.(string); ok && r.Header.Get(RecipientHeader) != s {
				t.Errorf("%s header = %q; want %q", RecipientHeader, r.Header.Get(RecipientHeader), s)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"user":%d,"token_endpoints":%s,"recipient_meta":%s}`, id, eps.String(), rec)
	})))
}

func vectorVerifier(secret, alg string, legacy bool, users []dbUser, now time.Time) *Verifier {
	return &Verifier{
		Secret:            m2m.Secret(secret),
		Algorithm:         djangosign.Algorithm(alg),
		LegacySHA1:        legacy,
		InsecureDRFCompat: true,
		LookupUser:        djangoUserLookup(users),
		Now:               fixed(now),
	}
}

// checkAnswer compares the view's answer with a vector's expected status,
// WWW-Authenticate and (when not null) JSON body.
func checkAnswer(t testing.TB, w *httptest.ResponseRecorder, gotErr error, status int, outcomeWant string, www *string, body json.RawMessage) {
	t.Helper()
	if w.Code != status || outcome(w.Code/100 == 2) != outcomeWant {
		t.Fatalf("status = %d (%v); want %d", w.Code, gotErr, status)
	}
	var gotWWW *string
	if s := w.Header().Get("WWW-Authenticate"); s != "" {
		gotWWW = &s
	}
	if (gotWWW == nil) != (www == nil) || gotWWW != nil && *gotWWW != *www {
		t.Errorf("WWW-Authenticate = %v; want %v", gotWWW, www)
	}
	if len(body) == 0 || string(body) == "null" {
		return
	}
	if got, wantBody := canonical(t, w.Body.Bytes()), canonical(t, body); got != wantBody {
		t.Errorf("body = %s; want %s", got, wantBody)
	}
}

func vectorRequest(t testing.TB, f *vectors.File, v *vectors.Vector) {
	var in requestIn
	var want requestOut
	vectors.MustDecode(t, v.Input, &in)
	vectors.MustDecode(t, v.Expected, &want)
	var users []dbUser
	vectors.MustDecode(t, f.Top[in.UserDBRef], &users)

	target := in.Path
	if in.Query != nil {
		q := url.Values{}
		for k, val := range in.Query {
			if val != nil {
				q.Set(k, *val)
			}
		}
		target += "?" + q.Encode()
	}
	h := http.Header{}
	if in.AuthorizationHeader != nil {
		h.Set("Authorization", *in.AuthorizationHeader)
	}
	r, err := vectors.NewRequest(in.Method, target, h, nil)
	if err != nil {
		// What net/http answers with 400 before any handler runs.
		if want.Status != http.StatusBadRequest {
			t.Fatalf("net/http refuses the request (%v): 400; want %d", err, want.Status)
		}
		return
	}
	// Django's request.path re-percent-encodes invalid UTF-8 where Go keeps
	// the bytes; iri_to_uri, which the match uses, makes them equal.
	if IRIToURI(r.URL.Path) != IRIToURI(in.RequestPathDecoded) {
		t.Fatalf("decoded path = %q; want %q", r.URL.Path, in.RequestPathDecoded)
	}
	ver := vectorVerifier(in.SecretKey, in.SiteAlgorithm, in.LegacySHA1Fallback, users, unixTime(t, in.UnixTime))
	var gotErr error
	w := httptest.NewRecorder()
	djangoView(t, ver, &gotErr).ServeHTTP(w, r)
	if want.Status == http.StatusInternalServerError {
		if w.Code != want.Status || want.Exception == nil || gotErr == nil {
			t.Errorf("status %d, error %v; want 500 with exception %v", w.Code, gotErr, want.Exception)
		}
		return
	}
	checkAnswer(t, w, gotErr, want.Status, want.Outcome, want.WWWAuthenticate, want.Body)
}

// vectorWSGIRequest runs a wsgi_request vector: the raw request through
// net/http's parsing into the view.
func vectorWSGIRequest(t testing.TB, f *vectors.File, v *vectors.Vector) {
	var in wsgiRequestIn
	var want wsgiRequestOut
	vectors.MustDecode(t, v.Input, &in)
	vectors.MustDecode(t, v.Expected, &want)
	var users []dbUser
	vectors.MustDecode(t, f.Top[in.UserDBRef], &users)
	target := in.PathInfo
	if in.QueryString != "" {
		target += "?" + in.QueryString
	}
	h := http.Header{}
	if in.AuthorizationHeader != nil {
		h.Set("Authorization", *in.AuthorizationHeader)
	}
	if in.ContentType != nil {
		h.Set("Content-Type", *in.ContentType)
	}
	r, err := vectors.NewRequest(in.Method, target, h, []byte(in.Body))
	if err != nil {
		if want.Status != http.StatusBadRequest {
			t.Fatalf("net/http refuses the request (%v): 400; want %d", err, want.Status)
		}
		return
	}
	ver := vectorVerifier(in.SecretKey, in.SiteAlgorithm, in.LegacySHA1Fallback, users, unixTime(t, in.UnixTime))
	var gotErr error
	w := httptest.NewRecorder()
	djangoView(t, ver, &gotErr).ServeHTTP(w, r)
	checkAnswer(t, w, gotErr, want.Status, want.Outcome, want.WWWAuthenticate, want.Body)
}
