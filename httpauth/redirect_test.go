package httpauth_test

import (
	"net/http"
	"testing"

	"github.com/m2mkit/m2m/httpauth"
)

func TestSameOriginAsFirst(t *testing.T) {
	first, _ := http.NewRequest("GET", "https://api.example.com/a", nil)
	hop := func(prev *http.Request, url string) *http.Request {
		r, _ := http.NewRequest("GET", url, nil)
		r.Response = &http.Response{Request: prev}
		return r
	}
	same := hop(first, "https://API.example.com/b")
	other := hop(same, "https://evil.example.net/c")
	back := hop(other, "https://api.example.com/d")
	downgrade := hop(first, "http://api.example.com/e")
	otherPort := hop(first, "https://api.example.com:8443/f")
	tests := []struct {
		name string
		req  *http.Request
		want bool
	}{
		{"first request", first, true},
		{"same origin, host case differs", same, true},
		{"another host", other, false},
		{"back to the first origin", back, true},
		{"scheme downgrade", downgrade, false},
		{"another port", otherPort, false},
	}
	for _, tt := range tests {
		if got := httpauth.SameOriginAsFirst(tt.req); got != tt.want {
			t.Errorf("%s: SameOriginAsFirst(%s) = %v; want %v", tt.name, tt.req.URL, got, tt.want)
		}
	}
}
