package dynamic

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
)

func TestVerifier(t *testing.T) {
	c := &clock{t: time.UnixMilli(1710105367868)}
	s := newSealed(c)
	tok, _ := s.Encode("6061f78686f34f52da3ef464")
	used, _ := s.Encode("")
	if r, _ := s.Accept(t.Context(), used); !r.Valid {
		t.Fatal("setup: first use refused")
	}
	compat := &Compat{APIKey: m2m.Secret("Opus;Magna-897"), Now: c.Now, CheckUUID: true}
	ctok, _ := compat.Encode("6061f78686f34f52da3ef464")
	tests := []struct {
		name    string
		v       *Verifier
		header  string
		value   string
		subject string
		reason  m2m.Reason // "" means accepted; ReasonMissing means ErrNoCredentials
	}{
		{"sealed", &Verifier{Codec: s}, "Authorization", "Dynamic " + tok, "6061f78686f34f52da3ef464", ""},
		{"replayed", &Verifier{Codec: s}, "Authorization", "Dynamic " + used, "", m2m.ReasonReplayed},
		{"scheme case", &Verifier{Codec: s}, "Authorization", "dynamic " + used, "", m2m.ReasonReplayed},
		{"other scheme", &Verifier{Codec: s}, "Authorization", "Bearer x", "", m2m.ReasonMissing},
		{"no header", &Verifier{Codec: s}, "", "", "", m2m.ReasonMissing},
		{"garbage", &Verifier{Codec: s}, "Authorization", "Dynamic %%%", "", m2m.ReasonMalformed},
		{"custom scheme", &Verifier{Codec: compat, AuthScheme: "Token"}, "Authorization", "Token " + ctok, "6061f78686f34f52da3ef464", ""},
		{"bare header", &Verifier{Codec: compat, Header: "X-Dynamic-Token"}, "X-Dynamic-Token", ctok, "6061f78686f34f52da3ef464", ""},
		{"bare header absent", &Verifier{Codec: compat, Header: "X-Dynamic-Token"}, "Authorization", "Dynamic " + ctok, "", m2m.ReasonMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tt.header != "" {
				r.Header.Set(tt.header, tt.value)
			}
			p, err := tt.v.Verify(r)
			switch {
			case tt.reason == "" && (err != nil || p.Subject != tt.subject || p.Scheme != m2m.SchemeDynamic):
				t.Errorf("Verify = %+v, %v; want subject %q", p, err, tt.subject)
			case tt.reason == m2m.ReasonMissing && !errors.Is(err, m2m.ErrNoCredentials):
				t.Errorf("Verify error = %v; want ErrNoCredentials", err)
			case tt.reason != "" && tt.reason != m2m.ReasonMissing && m2m.ReasonOf(err) != tt.reason:
				t.Errorf("Verify error = %v; want reason %s", err, tt.reason)
			}
		})
	}
	if _, err := (&Verifier{}).Verify(httptest.NewRequest("GET", "/", nil)); err == nil || errors.Is(err, m2m.ErrNoCredentials) {
		t.Errorf("zero Verifier.Verify error = %v; want a configuration error", err)
	}
}

func TestMiddlewareAndTransport(t *testing.T) {
	s := &Sealed{Keys: []Key{{Secret: testSecret}}}
	v := &Verifier{Codec: s, Realm: "api"}
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{v}}
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := m2m.FromContext(r.Context())
		io.WriteString(w, p.Subject)
	})))
	defer srv.Close()

	client := &http.Client{Transport: &Transport{Codec: s, UUID: "6061f78686f34f52da3ef464", Base: srv.Client().Transport}}
	for i := range 3 { // a fresh token per request
		resp, err := client.Post(srv.URL, "text/plain", strings.NewReader("body"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "6061f78686f34f52da3ef464" {
			t.Errorf("request %d = %d %q; want 200 with the uuid", i, resp.StatusCode, b)
		}
	}
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != 401 || got != `Dynamic realm="api"` {
		t.Errorf("anonymous request = %d %q; want 401 Dynamic realm=\"api\"", resp.StatusCode, got)
	}
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestTransportClosesBodyOnError(t *testing.T) {
	body := &closeRecorder{Reader: strings.NewReader("x")}
	req := httptest.NewRequest("POST", "http://example.com/", body)
	tr := &Transport{Codec: &Sealed{}} // no key: Encode fails
	if _, err := tr.RoundTrip(req); err == nil {
		t.Fatal("RoundTrip without a key succeeded")
	}
	if !body.closed {
		t.Error("RoundTrip did not close the request body")
	}
	if req.Header.Get("Authorization") != "" {
		t.Error("RoundTrip modified the caller's request")
	}
}

func TestVerifierPrincipal(t *testing.T) {
	c := &clock{t: time.UnixMilli(1710105367868)}
	s := &Sealed{Keys: []Key{{ID: "k1", Secret: testSecret}}, Now: c.Now}
	tok, _ := s.Encode("")
	c.Add(1500 * time.Millisecond)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Dynamic "+tok)
	p, err := (&Verifier{Codec: s}).Verify(r)
	if err != nil {
		t.Fatal(err)
	}
	wantExp := time.UnixMilli(1710105367868).Add(DefaultTolerance + time.Millisecond)
	if p.Subject != "" || p.ClientID != "k1" || !p.ExpiresAt.Equal(wantExp) || p.Claims["age_ms"] != int64(1500) || p.Claims["mode"] != "sealed" {
		t.Errorf("Verify = %+v; want no subject, client k1, expiry %v, age 1500, mode sealed", p, wantExp)
	}

	q := &Compat{APIKey: m2m.Secret("Opus;Magna-897"), Quirks: true, Now: c.Now}
	r.Header.Set("Authorization", "Dynamic "+EncodeBase64("0bOpus;Magna-897cdef%"))
	p, err = (&Verifier{Codec: q}).Verify(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Claims["age_ms"]; ok || !p.ExpiresAt.IsZero() || p.Claims["mode"] != "compat" {
		t.Errorf("Verify(quirks bypass) = %+v; want no age and no expiry", p)
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		r    Result
		want string
	}{
		{Result{Status: StatusTimedOut, Reason: m2m.ReasonExpired}, "dynamic token expired"},
		{Result{Status: StatusTimedOut, Reason: m2m.ReasonNotYetValid}, "dynamic token timestamp is in the future"},
		{Result{Status: StatusReplayed}, "dynamic token already used"},
		{Result{Status: StatusUUIDRequired}, "dynamic token carries no valid user id"},
		{Result{Status: StatusInvalidTimestamp}, "dynamic token timestamp is invalid"},
		{Result{Status: StatusInvalid, Reason: m2m.ReasonTooLarge}, "dynamic token too large"},
		{Result{Status: StatusInvalid, Reason: m2m.ReasonBadSignature}, "invalid dynamic token"},
	}
	for _, tt := range tests {
		if got := describe(tt.r); got != tt.want {
			t.Errorf("describe(%+v) = %q; want %q", tt.r, got, tt.want)
		}
	}
}

// TestTransportRedirectKeepsTokenAtOrigin checks that a redirect followed
// by http.Client gets a token only while it stays at the origin of the
// first request: a compat token carries the API key, so another host must
// never see one.
func TestTransportRedirectKeepsTokenAtOrigin(t *testing.T) {
	var elsewhereAuth, homeAuth atomic.Value
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhereAuth.Store(r.Header.Get("Authorization"))
	}))
	defer elsewhere.Close()
	home := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, elsewhere.URL+"/landing", http.StatusFound)
		case "/here":
			http.Redirect(w, r, "/final", http.StatusFound)
		default:
			homeAuth.Store(r.Header.Get("Authorization"))
		}
	}))
	defer home.Close()
	client := &http.Client{Transport: &Transport{Codec: &Compat{APIKey: m2m.Secret("shared-api-key")}}}
	tests := []struct {
		name, path string
		got        *atomic.Value
		wantToken  bool
	}{
		{"same origin keeps the token", "/here", &homeAuth, true},
		{"other origin gets no token", "/away", &elsewhereAuth, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := client.Get(home.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got, _ := tc.got.Load().(string)
			if hasToken := strings.HasPrefix(got, "Dynamic "); hasToken != tc.wantToken {
				t.Errorf("Authorization after a redirect from %s = %q; want a token: %v", tc.path, got, tc.wantToken)
			}
		})
	}
}
