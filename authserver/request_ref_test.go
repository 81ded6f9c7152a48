package authserver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/m2mkit/m2m/internal/benchcpu"
)

// referenceParseTokenRequest is ParseTokenRequest as it was written over
// url.ParseQuery and maps, kept as the definition of its semantics: the
// parser must answer every request as this does.
func referenceParseTokenRequest(r *http.Request, maxBody int64) (*TokenRequest, error) {
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	if r.ContentLength > maxBody {
		return nil, tooLarge()
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, errInvalidRequest("bad_content_type", "the body must be application/x-www-form-urlencoded or application/json")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, errInvalidRequest("bad_body", "the request body could not be read")
	}
	if int64(len(body)) > maxBody {
		return nil, tooLarge()
	}
	var params map[string]string
	switch ct {
	case "application/x-www-form-urlencoded":
		params, err = referenceParseForm(body)
	case "application/json":
		params, err = referenceParseJSON(body)
	default:
		return nil, errInvalidRequest("bad_content_type", "the body must be application/x-www-form-urlencoded or application/json")
	}
	if err != nil {
		return nil, err
	}
	tr := &TokenRequest{
		GrantType: params["grant_type"],
		Audience:  params["audience"],
		Resource:  params["resource"],

		Assertion:          params["assertion"],
		SubjectToken:       params["subject_token"],
		SubjectTokenType:   params["subject_token_type"],
		RequestedTokenType: params["requested_token_type"],
	}
	_, actor := params["actor_token"]
	_, actorType := params["actor_token_type"]
	tr.ActorTokenSet = actor || actorType
	tr.Scope, tr.ScopeSet = params["scope"]
	if err := tr.credentials(r, params); err != nil {
		return nil, err
	}
	if err := tr.checkLengths(); err != nil {
		return nil, err
	}
	return tr, nil
}

func referenceParseForm(body []byte) (map[string]string, error) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errInvalidRequest("bad_body", "the form body is not valid application/x-www-form-urlencoded")
	}
	params := make(map[string]string, numParams)
	for k, v := range vals {
		if paramIndex(k) < 0 {
			continue
		}
		if len(v) != 1 {
			return nil, errInvalidRequest("repeated_parameter", "parameter "+k+" is repeated")
		}
		params[k] = v[0]
	}
	return params, nil
}

func referenceParseJSON(body []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, errInvalidRequest("bad_body", "the JSON body must be an object")
	}
	params := make(map[string]string, numParams)
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, errInvalidRequest("bad_body", "the JSON body is malformed")
		}
		k, _ := kt.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, errInvalidRequest("bad_body", "the JSON body is malformed")
		}
		if paramIndex(k) < 0 {
			continue
		}
		if _, dup := params[k]; dup {
			return nil, errInvalidRequest("repeated_parameter", "parameter "+k+" is repeated")
		}
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, errInvalidRequest("bad_parameter", "parameter "+k+" must be a string")
		}
		params[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, errInvalidRequest("bad_body", "the JSON body is malformed")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errInvalidRequest("bad_body", "trailing data after the JSON object")
	}
	return params, nil
}

// checkSameAnswer parses one request with ParseTokenRequest and with the
// reference and fails unless both give the same TokenRequest or the same
// refusal. When several parameters are repeated, the reference names any
// one of them (it ranges over a map), so there the refusal only has to
// name one that is repeated.
func checkSameAnswer(t *testing.T, ct, body, auth string, maxBody int64) {
	t.Helper()
	newReq := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(body))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		return r
	}
	got, gotErr := ParseTokenRequest(newReq(), maxBody)
	want, wantErr := referenceParseTokenRequest(newReq(), maxBody)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("ParseTokenRequest(%q, %q, %q) = %+v, %v; want %+v, %v", ct, body, auth, got, gotErr, want, wantErr)
	}
	if gotErr == nil {
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("ParseTokenRequest(%q, %q, %q) (-want +got):\n%s", ct, body, auth, diff)
		}
		return
	}
	g, w := asError(gotErr), asError(wantErr)
	if *g == *w {
		return
	}
	if g.Reason == "repeated_parameter" && w.Reason == "repeated_parameter" {
		name := strings.TrimSuffix(strings.TrimPrefix(g.Description, "parameter "), " is repeated")
		if vals, err := url.ParseQuery(body); err == nil && len(vals[name]) > 1 {
			return
		}
	}
	t.Fatalf("ParseTokenRequest(%q, %q, %q) = %+v; want %+v", ct, body, auth, g, w)
}

var referenceCases = []struct{ ct, body, auth string }{
	{mediaForm, "grant_type=client_credentials&client_id=a&client_secret=b&scope=x+y&audience=https%3A%2F%2Fapi&extra=1&extra=2", ""},
	{mediaForm, "grant_type=client_credentials&client_id=a&client_id=a", ""},
	{mediaForm, "client_id=a&client_id=b&scope=x&scope=y", ""},
	{mediaForm, "grant%5Ftype=client_credentials&client%5fid=a&client_secret=", ""},
	{mediaForm, "grant_type=client_credentials&grant%5Ftype=x", ""},
	{mediaForm, "grant_type=%zz", ""},
	{mediaForm, "grant_type=a%2", ""},
	{mediaForm, "x=%&grant_type=client_credentials", ""},
	{mediaForm, "a=1;b=2&grant_type=client_credentials", ""},
	{mediaForm, "&&=&=x&grant_type&scope&scope=", ""},
	{mediaForm, "scope=%E2%82%AC+%00&resource=%ff", ""},
	{mediaForm, "client+id=a&client%20id=b&client_assertion=x&client_assertion_type=y", ""},
	{mediaForm, "grant_type=client_credentials", "Basic " + base64.StdEncoding.EncodeToString([]byte("id%3Ax:s+%2Bt"))},
	{mediaForm, "client_secret=b", "Basic " + base64.StdEncoding.EncodeToString([]byte("a:b"))},
	{mediaForm, "client_id=" + strings.Repeat("a", 300) + "&client_secret=x", ""},
	{mediaForm, strings.Repeat("&", maxFormParams), ""},
	{mediaForm, strings.Repeat("&", maxFormParams-1), ""},
	{"Application/X-WWW-Form-URLEncoded", "grant_type=x", ""},
	{"application/x-www-form-urlencoded; charset=utf-8", "grant_type=x", ""},
	{"application/x-www-form-urlencoded ", "grant_type=x", ""},
	{"application/jſon", `{"grant_type":"x"}`, ""},
	{"APPLICATION/JSON", `{"grant_type":"x","client_id":"a","client_id":"b"}`, ""},
	{mediaJSON, `{"grant_type":"client_credentials","client_id":"a","client_secret":"b","resource":"https://r","organization":{"a":[1]}}`, ""},
	{mediaJSON, `{"scope":1}`, ""},
	{mediaJSON, `{"client_id":"a"}{}`, ""},
	{"text/plain", "grant_type=x", ""},
	{"", "grant_type=x", ""},
	{"application/", "grant_type=x", ""},
}

func TestParseTokenRequestMatchesReference(t *testing.T) {
	for _, tc := range referenceCases {
		for _, max := range []int64{0, 16, 1 << 20} {
			checkSameAnswer(t, tc.ct, tc.body, tc.auth, max)
		}
	}
}

// FuzzParseTokenRequestReference checks ParseTokenRequest against the
// reference implementation on arbitrary bodies, content types and
// Authorization headers.
func FuzzParseTokenRequestReference(f *testing.F) {
	for _, tc := range referenceCases {
		f.Add(tc.ct, tc.body, tc.auth, uint16(0))
	}
	f.Fuzz(func(t *testing.T, ct, body, auth string, max uint16) {
		switch max % 4 { // mostly the types the endpoint takes
		case 0:
			ct = mediaForm
		case 1:
			ct = mediaJSON
		}
		checkSameAnswer(t, ct, body, auth, int64(max))
	})
}

// TestReadBody checks readBody against io.ReadAll(io.LimitReader) on
// readers that return little at a time or fail.
func TestReadBody(t *testing.T) {
	data := strings.Repeat("0123456789", 300)
	tests := []struct {
		name string
		r    func() io.Reader
		max  int64
	}{
		{"empty", func() io.Reader { return strings.NewReader("") }, 10},
		{"under the limit", func() io.Reader { return strings.NewReader(data) }, 5000},
		{"at the limit", func() io.Reader { return strings.NewReader(data) }, int64(len(data))},
		{"over the limit", func() io.Reader { return strings.NewReader(data) }, 100},
		{"one byte at a time", func() io.Reader { return iotest.OneByteReader(strings.NewReader(data)) }, 2000},
		{"data with EOF", func() io.Reader { return iotest.DataErrReader(strings.NewReader(data)) }, 5000},
		{"error after data", func() io.Reader {
			return io.MultiReader(strings.NewReader(data[:50]), iotest.ErrReader(errors.New("reset")))
		}, 5000},
		{"timeout", func() io.Reader { return iotest.TimeoutReader(strings.NewReader(data)) }, 5000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, wantErr := io.ReadAll(io.LimitReader(tc.r(), tc.max+1))
			buf := make([]byte, 0, 64)
			got, err := readBody(tc.r(), tc.max, &buf)
			if (err != nil) != (wantErr != nil) || (err == nil && !bytes.Equal(got, want)) {
				t.Errorf("readBody = %d bytes, %v; want %d bytes, %v", len(got), err, len(want), wantErr)
			}
		})
	}
	if got, err := readBody(nil, 10, new([]byte)); len(got) != 0 || err != nil {
		t.Errorf("readBody(nil) = %q, %v; want empty", got, err)
	}
}

// BenchmarkParseTokenRequestReference compares ParseTokenRequest with the
// reference on one client_secret_post request, the request reused (only
// the parser is measured). cpu-ns/op is the benchmark thread's CPU time,
// steadier than ns/op on a shared machine.
func BenchmarkParseTokenRequestReference(b *testing.B) {
	body := "grant_type=client_credentials&client_id=jtpeTPCCuSDyv8o2QJuPDw&client_secret=MvTi695Kxm-RRpDpILTrvprnclW7Xd-6ByCkBACW_iY&audience=https%3A%2F%2Fapi.example.com&scope=read"
	for _, bc := range []struct {
		name  string
		parse func(*http.Request, int64) (*TokenRequest, error)
	}{{"parser", ParseTokenRequest}, {"reference", referenceParseTokenRequest}} {
		b.Run(bc.name, func(b *testing.B) {
			rd := strings.NewReader(body)
			r := httptest.NewRequest(http.MethodPost, "/oauth/token", rd)
			r.Header.Set("Content-Type", mediaForm)
			b.ReportAllocs()
			benchcpu.Loop(b, func() {
				rd.Reset(body)
				if _, err := bc.parse(r, 0); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// TestPutBodyBufferZeroes checks that a pooled buffer, which held a
// client secret or a token, is zeroed before it is reused.
func TestPutBodyBufferZeroes(t *testing.T) {
	b := getBodyBuffer()
	*b = append((*b)[:0], "client_secret=s3cret"...)
	backing := (*b)[:cap(*b)]
	*b = (*b)[:0]
	putBodyBuffer(b)
	if i := bytes.IndexFunc(backing, func(r rune) bool { return r != 0 }); i >= 0 {
		t.Errorf("after putBodyBuffer, byte %d of the buffer is %q; want all zero", i, backing[i])
	}
}
