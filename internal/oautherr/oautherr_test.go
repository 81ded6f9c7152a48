package oautherr

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		want   Body
		wantOK bool
	}{
		{"rfc 6749", `{"error":"invalid_client","error_description":"bad","error_uri":"https://e.example/x"}`, Body{"invalid_client", "bad", "https://e.example/x"}, true},
		{"code only", `{"error":"invalid_scope"}`, Body{Error: "invalid_scope"}, true},
		{"auth0 errorCode and message", `{"statusCode":429,"errorCode":"too_many_requests","message":"slow down"}`, Body{"too_many_requests", "slow down", ""}, true},
		{"auth0 code", `{"code":"access_denied","error_description":"Unauthorized"}`, Body{"access_denied", "Unauthorized", ""}, true},
		{"errorCode wins over error", `{"error":"b","errorCode":"a"}`, Body{Error: "a"}, true},
		{"non-string members ignored", `{"error":7,"error_description":["x"],"code":"c"}`, Body{Error: "c"}, true},
		{"empty object", `{}`, Body{}, true},
		{"whitespace around", " \n{\"error\":\"x\"}\n", Body{Error: "x"}, true},
		{"not JSON", `<html>bad gateway</html>`, Body{}, false},
		{"JSON array", `[{"error":"x"}]`, Body{}, false},
		{"JSON string", `"invalid_client"`, Body{}, false},
		{"truncated", `{"error":"x"`, Body{}, false},
		{"empty", ``, Body{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Parse([]byte(tt.body))
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("Parse(%q) = %+v, %v; want %+v, %v", tt.body, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestEncode(t *testing.T) {
	tests := []struct {
		name string
		b    Body
		want string
	}{
		{"code only", Body{Error: "invalid_request"}, `{"error":"invalid_request"}`},
		{"all", Body{"invalid_client", "d", "https://e.example/"}, `{"error":"invalid_client","error_description":"d","error_uri":"https://e.example/"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.b)
			if err != nil || string(got) != tt.want {
				t.Errorf("json.Marshal(%+v) = %s, %v; want %s", tt.b, got, err, tt.want)
			}
			back, ok := Parse(got)
			if diff := cmp.Diff(tt.b, back); !ok || diff != "" {
				t.Errorf("Parse(Marshal(b)) differs (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"error":"invalid_client","error_description":"bad"}`))
	f.Add([]byte(`{"errorCode":"too_many_requests","message":"m"}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, body []byte) {
		b, ok := Parse(body)
		if !ok && b != (Body{}) {
			t.Fatalf("Parse(%q) = %+v, false; want a zero Body when not ok", body, b)
		}
		if ok {
			if _, err := json.Marshal(b); err != nil {
				t.Fatalf("Marshal(Parse(%q)) = %v", body, err)
			}
		}
	})
}
