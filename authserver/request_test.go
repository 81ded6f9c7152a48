package authserver_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/store"
)

func TestParseTokenRequest(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		auth        string
		want        *authserver.TokenRequest
		wantCode    string
	}{
		{
			name: "form, post credentials", contentType: "application/x-www-form-urlencoded",
			body: "grant_type=client_credentials&client_id=a&client_secret=b&scope=x+y&audience=https%3A%2F%2Fapi&extra=1&extra=2",
			want: &authserver.TokenRequest{GrantType: "client_credentials", ClientID: "a", ClientSecret: "b", AuthMethod: "client_secret_post",
				Scope: "x y", ScopeSet: true, Audience: "https://api"},
		},
		{
			// RFC 6749 2.3.1: user and password are form-urlencoded before
			// Basic encoding, so "%3A" is a colon inside the id and "+" a space.
			name: "basic with encoded colon and space", contentType: "application/x-www-form-urlencoded",
			body: "grant_type=client_credentials&client_id=id%3Ax",
			auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("id%3Ax:s+%2Bt")),
			want: &authserver.TokenRequest{GrantType: "client_credentials", ClientID: "id:x", ClientSecret: "s +t", AuthMethod: "client_secret_basic"},
		},
		{
			name: "JSON with unknown fields", contentType: "application/json",
			body: `{"grant_type":"client_credentials","client_id":"a","client_secret":"b","resource":"https://r","organization":{"a":[1]}}`,
			want: &authserver.TokenRequest{GrantType: "client_credentials", ClientID: "a", ClientSecret: "b", AuthMethod: "client_secret_post", Resource: "https://r"},
		},
		{name: "JSON duplicate key", contentType: "application/json", body: `{"client_id":"a","client_id":"b"}`, wantCode: "invalid_request"},
		{name: "JSON array", contentType: "application/json", body: `["client_id"]`, wantCode: "invalid_request"},
		{name: "JSON trailing data", contentType: "application/json", body: `{"client_id":"a"}{}`, wantCode: "invalid_request"},
		{name: "bad percent-encoding", contentType: "application/x-www-form-urlencoded", body: "grant_type=%zz", wantCode: "invalid_request"},
		{name: "no content type", body: "grant_type=client_credentials", wantCode: "invalid_request"},
		{name: "basic not base64", contentType: "application/x-www-form-urlencoded", body: "grant_type=client_credentials", auth: "Basic !!!", wantCode: "invalid_client"},
		{name: "basic without colon", contentType: "application/x-www-form-urlencoded", body: "",
			auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("abc")), wantCode: "invalid_client"},
		{name: "client id too long", contentType: "application/x-www-form-urlencoded",
			body: "client_id=" + strings.Repeat("a", 300) + "&client_secret=x", wantCode: "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/oauth/token?client_id=fromquery", strings.NewReader(tc.body))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			got, err := authserver.ParseTokenRequest(r, 0)
			if tc.wantCode != "" {
				var e *authserver.Error
				if !errors.As(err, &e) || e.Code != tc.wantCode {
					t.Fatalf("ParseTokenRequest = %+v, %v; want error %s", got, err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTokenRequest = %v; want success", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseTokenRequest (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzParseTokenRequest checks that no body or Authorization header makes
// the parser panic, and that every refusal is an *Error with a code.
func FuzzParseTokenRequest(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=a&client_secret=b", "")
	f.Add("application/json", `{"grant_type":"client_credentials","client_id":"a","client_secret":"b","audience":"https://api.example.com"}`, "")
	f.Add("application/x-www-form-urlencoded", "grant_type=client_credentials", "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape("a:b")+":c")))
	f.Add("application/json", `{"a":{"b":[1,2,{"c":null}]},"scope":"x"}`, "Basic Og==")
	f.Fuzz(func(t *testing.T, ct, body, auth string) {
		r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		tr, err := authserver.ParseTokenRequest(r, 1024)
		if err != nil {
			var e *authserver.Error
			if !errors.As(err, &e) || e.Code == "" || e.Status < 400 {
				t.Fatalf("ParseTokenRequest error %v is not an *Error with a code", err)
			}
			return
		}
		if tr.AuthMethod == "" && (tr.ClientID != "" || tr.ClientSecret != "") {
			t.Fatalf("credentials %+v without an auth method", tr)
		}
	})
}

func BenchmarkParseTokenRequest(b *testing.B) {
	body := "grant_type=client_credentials&client_id=jtpeTPCCuSDyv8o2QJuPDw&client_secret=MvTi695Kxm-RRpDpILTrvprnclW7Xd-6ByCkBACW_iY&audience=https%3A%2F%2Fapi.example.com&scope=read"
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if _, err := authserver.ParseTokenRequest(r, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzTokenEndpoint drives the whole endpoint: any request gets a JSON
// answer that is either a token (200) or an RFC 6749 error, never a panic.
func FuzzTokenEndpoint(f *testing.F) {
	fx := newFixture(f, func(_ *authserver.Config, c *store.Client) { c.RateLimitPerSecond, c.RateLimitBurst = 1e6, 1e6 })
	f.Add("application/x-www-form-urlencoded", fx.creds("scope", "read").Encode(), "")
	f.Add("application/x-www-form-urlencoded", fx.creds("resource", "https://other.example.test", "scope", "write read write").Encode(), "")
	f.Add("application/json", `{"grant_type":"client_credentials","client_id":"`+fx.id+`","client_secret":"`+fx.secret+`","audience":"https://api.example.test"}`, "")
	f.Add("application/x-www-form-urlencoded", "grant_type=client_credentials&scope=read", "Basic "+base64.StdEncoding.EncodeToString([]byte(fx.id+":"+fx.secret)))
	f.Fuzz(func(t *testing.T, ct, body, auth string) {
		r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		fx.srv.ServeHTTP(w, r)
		resp := decodeResponse(t, w)
		switch {
		case w.Code == 200 && resp.AccessToken != "" && resp.Error == "":
			fx.signer.verify(t, resp.AccessToken)
		case w.Code >= 400 && w.Code < 500 && resp.Error != "" && resp.AccessToken == "":
		default:
			t.Fatalf("response %d %s", w.Code, w.Body)
		}
	})
}
