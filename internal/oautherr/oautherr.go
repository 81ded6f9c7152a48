// Package oautherr is the one definition of the OAuth 2.0 error response
// (RFC 6749 section 5.2): the token server writes it and the client reads
// it.
package oautherr

import (
	"bytes"
	"encoding/json"
)

// Body is the JSON error body of RFC 6749 section 5.2. Empty optional
// members are left out when it is encoded.
type Body struct {
	// Error is the error code ("invalid_client", "invalid_scope", ...).
	Error string `json:"error"`
	// ErrorDescription is human-readable text for the client developer.
	ErrorDescription string `json:"error_description,omitempty"`
	// ErrorURI names a page about the error.
	ErrorURI string `json:"error_uri,omitempty"`
}

// Parse reads an error body: RFC 6749's members, and for the shapes
// Auth0 also answers with (as the auth0-python SDK reads them) the code
// from "errorCode" or "code" and the description from "message". A member
// that is not a non-empty JSON string is ignored. ok is false when body is
// not a JSON object; Parse never fails otherwise.
func Parse(body []byte) (b Body, ok bool) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return Body{}, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return Body{}, false
	}
	str := func(keys ...string) string {
		for _, k := range keys {
			var s string
			if raw, found := m[k]; found && json.Unmarshal(raw, &s) == nil && s != "" {
				return s
			}
		}
		return ""
	}
	return Body{
		Error:            str("errorCode", "error", "code"),
		ErrorDescription: str("error_description", "message"),
		ErrorURI:         str("error_uri"),
	}, true
}
