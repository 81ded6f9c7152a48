package clientcred

import (
	"encoding/json"
	"testing"

	"github.com/m2mkit/m2m/authserver"
	"github.com/m2mkit/m2m/internal/oautherr"
)

// TestRetrieveErrorReadsTheServersBody checks that the client reads every
// error the token server writes: both use the one RFC 6749 body type.
func TestRetrieveErrorReadsTheServersBody(t *testing.T) {
	codes := []string{
		authserver.CodeInvalidRequest, authserver.CodeInvalidClient, authserver.CodeUnauthorizedClient,
		authserver.CodeUnsupportedGrantType, authserver.CodeInvalidScope, authserver.CodeInvalidTarget,
		authserver.CodeAccessDenied, authserver.CodeTooManyRequests, authserver.CodeServerError, authserver.CodeUnavailable,
	}
	for _, code := range codes {
		t.Run(code, func(t *testing.T) {
			want := oautherr.Body{Error: code, ErrorDescription: "why " + code, ErrorURI: "https://errors.example/" + code}
			body, err := json.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			re := parseErrorBody(400, body)
			got := oautherr.Body{Error: re.ErrorCode, ErrorDescription: re.Description, ErrorURI: re.ErrorURI}
			if got != want {
				t.Errorf("parseErrorBody(%s) = %+v; want %+v", body, got, want)
			}
		})
	}
}
