package clientcred

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// auth0 is an httptest stand-in for an Auth0 tenant's token endpoint: it
// takes JSON or form bodies, answers Auth0's JSON error bodies, and can be
// told to answer 429 with x-ratelimit-* headers or 5xx a number of times.
type auth0 struct {
	t        *testing.T
	srv      *httptest.Server
	id       string
	secret   string
	audience string
	lifetime int

	mu        sync.Mutex
	fail      []failure // answered in order before succeeding
	requests  atomic.Int64
	issued    atomic.Int64
	lastForm  map[string]string
	lastBasic bool
	gate      chan struct{} // when set, token requests wait on it
}

type failure struct {
	status int
	header map[string]string
	body   string
}

func newAuth0(t *testing.T) *auth0 {
	a := &auth0{t: t, id: "client-1", secret: "s3cret/+&=", audience: "https://api.example.com", lifetime: 3600}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", a.token)
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

func (a *auth0) config() Config {
	return Config{
		ClientID: a.id, ClientSecret: a.secret, Audience: a.audience,
		TokenURL:  a.srv.URL + "/oauth/token",
		LookupEnv: func(string) (string, bool) { return "", false },
	}
}

var inProcessSeq atomic.Int64

// inProcess returns a's configuration with token requests served by a's
// handler in-process, without the network, so that a test can run in a
// testing/synctest bubble (whose clock only moves when every goroutine
// waits). The token URL is new on every call, so that the token cache
// is the test's own, even under -count.
func (a *auth0) inProcess(t *testing.T) Config {
	c := a.config()
	host := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(t.Name()))
	c.TokenURL = fmt.Sprintf("https://%s-%d.idp.test/oauth/token", host, inProcessSeq.Add(1))
	c.HTTPClient = &http.Client{Transport: handlerTransport(a.srv.Config.Handler.ServeHTTP)}
	return c
}

func (a *auth0) failWith(f ...failure) {
	a.mu.Lock()
	a.fail = append(a.fail, f...)
	a.mu.Unlock()
}

func (a *auth0) token(w http.ResponseWriter, r *http.Request) {
	a.requests.Add(1)
	if a.gate != nil {
		<-a.gate
	}
	a.mu.Lock()
	var f *failure
	if len(a.fail) > 0 {
		f = &a.fail[0]
		a.fail = a.fail[1:]
	}
	a.mu.Unlock()
	if f != nil {
		for k, v := range f.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.status)
		fmt.Fprint(w, f.body)
		return
	}
	form := map[string]string{}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := json.NewDecoder(r.Body).Decode(&form); err != nil {
			a.refuse(w, 400, "invalid_request", "bad JSON")
			return
		}
	} else {
		if err := r.ParseForm(); err != nil {
			a.refuse(w, 400, "invalid_request", "bad form")
			return
		}
		for k := range r.PostForm {
			form[k] = r.PostForm.Get(k)
		}
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 section 2.3.1: both are form-encoded before Basic.
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		form["client_id"], form["client_secret"] = id, secret
	}
	a.mu.Lock()
	a.lastForm, a.lastBasic = form, basic
	a.mu.Unlock()
	switch {
	case form["grant_type"] != "client_credentials":
		a.refuse(w, 403, "unauthorized_client", "Grant type not allowed for the client.")
	case form["client_id"] != a.id || form["client_secret"] != a.secret:
		a.refuse(w, 401, "access_denied", "Unauthorized")
	case form["audience"] != a.audience:
		a.refuse(w, 403, "access_denied", "Service not found: "+form["audience"])
	default:
		n := a.issued.Add(1)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"access_token": fmt.Sprintf("tok-%d", n),
			"token_type":   "Bearer",
			"expires_in":   a.lifetime,
			"scope":        form["scope"],
		})
	}
}

func (a *auth0) refuse(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// fakeClock is a settable clock.
type fakeClock struct{ ns atomic.Int64 }

func newClock() *fakeClock {
	c := new(fakeClock)
	c.ns.Store(time.Unix(1_700_000_000, 0).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// sleeps records the waits a source asked for instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}
