package clientcred

import (
	"net/http"
	"strings"
	"testing"
)

// TestClientDoHidesURLCredentials: a URL that cannot be parsed is not
// echoed in Do's error, whose parse error would quote it whole.
func TestClientDoHidesURLCredentials(t *testing.T) {
	c := &Client{HTTPClient: http.DefaultClient}
	for _, u := range []string{
		"https://api.example:port/v1?token=s3cret-pw",
		"https://bob:s3cret-pw@api example/v1",
		"https://api.example/v1\x7f?api_key=s3cret-pw",
	} {
		_, err := c.Get(t.Context(), u)
		if err == nil {
			t.Errorf("Get(%q) = nil error; want a parse error", u)
			continue
		}
		if strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("Get(%q) = %q; the error shows the credential", u, err)
		}
	}
}
