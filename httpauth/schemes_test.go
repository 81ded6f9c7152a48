package httpauth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
)

// popStub accepts "Pop good" and offers two schemes; a "Pop nonce"
// request is refused with use_dpop_nonce and a fresh DPoP-Nonce.
type popStub struct{}

func (popStub) Verify(r *http.Request) (*m2m.Principal, error) {
	cred, err := httpauth.Credentials(r, "Pop", m2m.SchemeDPoP)
	if err != nil {
		return nil, err
	}
	switch cred {
	case "good":
		return &m2m.Principal{Subject: "svc", Scheme: m2m.SchemeDPoP, Scopes: []string{"read"}}, nil
	case "nonce":
		return nil, m2m.Invalid(m2m.SchemeDPoP, m2m.ReasonUseDPoPNonce, "nonce needed")
	}
	return nil, m2m.Invalid(m2m.SchemeDPoP, m2m.ReasonInvalidDPoPProof, "bad proof")
}

func (popStub) Challenges(err error) []httpauth.Challenge {
	c := httpauth.Challenge{Scheme: "DPoP", Params: []httpauth.Param{{Name: "algs", Value: "ES256"}}}
	if r := m2m.ReasonOf(err); r == m2m.ReasonUseDPoPNonce || r == m2m.ReasonInvalidDPoPProof {
		c.Params = append(c.Params, httpauth.Param{Name: "error", Value: string(r)})
	}
	return []httpauth.Challenge{c, {Scheme: "Bearer"}}
}

func (popStub) ChallengeHeader(r *http.Request, err error, h http.Header) {
	if m2m.ReasonOf(err) == m2m.ReasonUseDPoPNonce {
		h.Set("DPoP-Nonce", "n-1")
	}
}

func TestMultiAndHeaderChallenger(t *testing.T) {
	tests := []struct {
		name, authz, path string
		onError, twice    bool
		status            int
		challenges, nonce string
	}{
		{name: "no credentials", authz: "", status: 401, challenges: `DPoP algs="ES256"|Bearer|Key realm="api"`},
		{name: "same challenge twice, written once", authz: "", twice: true, status: 401, challenges: `DPoP algs="ES256"|Bearer|Key realm="api"`},
		{name: "nonce", authz: "Pop nonce", status: 401, challenges: `DPoP algs="ES256", error="use_dpop_nonce"|Bearer|Key realm="api"`, nonce: "n-1"},
		{name: "nonce with OnError", authz: "Pop nonce", onError: true, status: 418, nonce: "n-1"},
		{name: "bad proof", authz: "Pop bad", status: 401, challenges: `DPoP algs="ES256", error="invalid_dpop_proof"|Bearer|Key realm="api"`},
		{name: "accepted", authz: "Pop good", status: 200},
		{name: "scope under its own scheme", authz: "Pop good", path: "/write", status: 403, challenges: `DPoP error="insufficient_scope", scope="write"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := &httpauth.Middleware{Verifiers: []m2m.Verifier{popStub{}, keyVerifier{"k1"}}}
			if tc.twice {
				m.Verifiers = append(m.Verifiers, popStub{})
			}
			if tc.onError {
				m.OnError = func(w http.ResponseWriter, r *http.Request, err error) { w.WriteHeader(418) }
			}
			ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
			mux := http.NewServeMux()
			mux.Handle("/", m.Handler(ok))
			mux.Handle("/write", m.Handler(m.RequireScope("write")(ok)))
			path := tc.path
			if path == "" {
				path = "/"
			}
			r := httptest.NewRequest("GET", path, nil)
			if tc.authz != "" {
				r.Header.Set("Authorization", tc.authz)
			}
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			got := strings.Join(w.Header().Values("WWW-Authenticate"), "|")
			if w.Code != tc.status || got != tc.challenges || w.Header().Get("DPoP-Nonce") != tc.nonce {
				t.Errorf("GET %s with %q = %d %q DPoP-Nonce %q; want %d %q %q", path, tc.authz, w.Code, got,
					w.Header().Get("DPoP-Nonce"), tc.status, tc.challenges, tc.nonce)
			}
		})
	}
}

// A verifier that accepts two schemes offers both challenges, and one
// that needs a nonce adds it to its refusal as a header.
func ExampleMultiChallenger() {
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{popStub{}}}
	api := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))

	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Pop nonce")
	w := httptest.NewRecorder()
	api.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Values("WWW-Authenticate"), w.Header().Get("DPoP-Nonce"))
	// Output:
	// 401 [DPoP algs="ES256", error="use_dpop_nonce" Bearer] n-1
}
