package vectors

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// NewRequest returns the request a net/http server hands to its handler
// when a client sends method, target (path and query, as on the request
// line), header and body; or the error for which the server answers 400
// Bad Request: a method that is not a token, a target that does not parse
// (an invalid percent-escape in the path), a header name or value the
// server refuses. Unlike httptest.NewRequest it never panics, so a vector
// holding such a request expects 400. Header values are handed on exactly
// as given (not trimmed); Content-Length is set from body.
func NewRequest(method, target string, header http.Header, body []byte) (*http.Request, error) {
	var b strings.Builder
	if strings.ContainsAny(method+target, " \r\n") {
		return nil, fmt.Errorf("vectors: malformed request line %q %q", method, target)
	}
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: example.test\r\n", method, target)
	for k, vs := range header {
		if !validHeaderName(k) {
			return nil, fmt.Errorf("vectors: invalid header name %q", k)
		}
		if http.CanonicalHeaderKey(k) == "Content-Length" || http.CanonicalHeaderKey(k) == "Host" {
			continue
		}
		for _, v := range vs {
			if !validHeaderValue(v) {
				return nil, fmt.Errorf("vectors: invalid value for header %q", k)
			}
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	if len(body) > 0 {
		b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(body)
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(b.String())))
	if err != nil {
		return nil, err
	}
	if r.URL == nil {
		return nil, errors.New("vectors: no URL")
	}
	for k, vs := range header {
		ck := http.CanonicalHeaderKey(k)
		if ck != "Content-Length" && ck != "Host" {
			r.Header[ck] = append([]string(nil), vs...)
		}
	}
	r.RemoteAddr = "192.0.2.1:1234"
	return r, nil
}

// validHeaderName is RFC 9110's token, as net/http's server checks it.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue refuses control characters other than horizontal tab,
// as net/http's server does.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
