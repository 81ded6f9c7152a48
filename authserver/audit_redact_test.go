package authserver_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/store"
)

// TestWebhookAuditSinkHidesCredentials: a webhook URL commonly carries
// its credential (user information, a token or key in the query), and
// the URL a webhook redirects to may carry another. No failure of the
// sink shows either in its error, which the server logs.
func TestWebhookAuditSinkHidesCredentials(t *testing.T) {
	const secret = "S3cret-hook-token"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	defer failing.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+closed+"/ingest?sig="+secret, http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	tests := []struct {
		name, url string
	}{
		{"token in the query, unreachable", "http://" + closed + "/hook?token=" + secret},
		{"key in the query, unreachable", "http://" + closed + "/services/T000/B000?key=" + secret + "&v=1"},
		{"user information, unreachable", "http://hook:" + secret + "@" + closed + "/hook"},
		{"token as user name, unreachable", "http://" + secret + "@" + closed + "/hook"},
		{"token in the query, status 500", failing.URL + "/hook?access_token=" + secret},
		{"redirect to a signed URL, unreachable", redirect.URL + "/hook"},
		{"unparseable", "http://" + closed + "/h%zz?token=" + secret},
	}
	events := []store.AuditEvent{{ID: 1, Time: time.Unix(1_800_000_000, 0), Code: authserver.AuditClientUpdated, Actor: "admin-token", ClientID: "c1"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &authserver.WebhookAuditSink{URL: tt.url}
			err := s.WriteAudit(t.Context(), events)
			if err == nil {
				t.Fatal("WriteAudit = nil error; want a failure")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("WriteAudit = %q; the error shows the credential", err)
			}
		})
	}
}

// TestWebhookAuditSinkRefusesRedirects: a webhook that answers with a
// redirect has failed; the events are not sent on to where it points.
func TestWebhookAuditSinkRefusesRedirects(t *testing.T) {
	got := make(chan string, 8)
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.Path
	}))
	defer elsewhere.Close()
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, elsewhere.URL+"/collect", code)
		}))
		s := &authserver.WebhookAuditSink{URL: hook.URL + "/hook"}
		err := s.WriteAudit(t.Context(), []store.AuditEvent{{ID: 1, Time: time.Unix(1_800_000_000, 0), Code: authserver.AuditClientUpdated}})
		hook.Close()
		if err == nil || !strings.Contains(err.Error(), http.StatusText(code)) {
			t.Errorf("redirect %d: WriteAudit = %v; want a failure naming the status", code, err)
		}
	}
	select {
	case p := <-got:
		t.Fatalf("the redirect's target received %s", p)
	default:
	}
}
