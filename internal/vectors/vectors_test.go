package vectors

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestNewRequest(t *testing.T) {
	tests := []struct {
		name, method, target string
		header               http.Header
		body                 string
		ok                   bool
	}{
		{"plain", "GET", "/a/b?x=1", nil, "", true},
		{"escaped path", "GET", "/t%C3%A9st/%2F", nil, "", true},
		{"invalid escape in path", "GET", "/%zz", nil, "", false},
		{"truncated escape", "GET", "/a%", nil, "", false},
		{"invalid escape in query is kept", "GET", "/a?TOKEN=%zz", nil, "", true},
		{"lower-case method is a token", "get", "/", nil, "", true},
		{"method with a slash", "/%zz", "/", nil, "", false},
		{"empty method", "", "/", nil, "", false},
		{"space in target", "GET", "/a b", nil, "", false},
		{"empty target", "GET", "", nil, "", false},
		{"body", "POST", "/", http.Header{"Content-Type": {"application/json"}}, `{"a":1}`, true},
		{"header with a line break", "GET", "/", http.Header{"Authorization": {"a\r\nX-Evil: 1"}}, "", false},
		{"header with NUL", "GET", "/", http.Header{"Authorization": {"a\x00"}}, "", false},
		{"header name with a space", "GET", "/", http.Header{"Bad Name": {"x"}}, "", false},
		{"header value kept exactly", "GET", "/", http.Header{"Authorization": {" TmpToken x\t"}}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRequest(tt.method, tt.target, tt.header, []byte(tt.body))
			if (err == nil) != tt.ok {
				t.Fatalf("NewRequest(%q, %q) = %v, %v; want ok=%v", tt.method, tt.target, r, err, tt.ok)
			}
			if err != nil {
				return
			}
			if r.Method != tt.method || r.RequestURI != tt.target {
				t.Errorf("request = %s %s; want %s %s", r.Method, r.RequestURI, tt.method, tt.target)
			}
			for k, vs := range tt.header {
				if got := r.Header.Values(k); strings.Join(got, ",") != strings.Join(vs, ",") {
					t.Errorf("header %s = %q; want %q", k, got, vs)
				}
			}
			if r.ContentLength != int64(len(tt.body)) {
				t.Errorf("ContentLength = %d; want %d", r.ContentLength, len(tt.body))
			}
		})
	}
}

func TestRunQuietly(t *testing.T) {
	tests := []struct {
		name  string
		fn    func(testing.TB)
		crash string // substring of the report; "" means none
	}{
		{"passes", func(testing.TB) {}, ""},
		{"fails", func(t testing.TB) { t.Errorf("x") }, ""},
		{"fatal stops", func(t testing.TB) { t.Fatalf("x"); panic("not reached") }, ""},
		{"skip stops", func(t testing.TB) { t.Skip("x"); panic("not reached") }, ""},
		{"panics", func(testing.TB) { var m map[string]int; m["a"]++ }, "panic: assignment to entry in nil map"},
		{"panic(nil)", func(testing.TB) { panic(nil) }, "panic:"},
		{"hangs", func(testing.TB) { select {} }, "still running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RunQuietly(t, 200*time.Millisecond, tt.fn)
			if tt.crash == "" && got != "" || tt.crash != "" && !strings.Contains(got, tt.crash) {
				t.Errorf("RunQuietly = %.200q; want %q", got, tt.crash)
			}
		})
	}
}

func TestMutate(t *testing.T) {
	f := &File{Path: "x.json", Top: map[string]json.RawMessage{"users": json.RawMessage(`[{"id":1}]`)}}
	f.Vectors = []Vector{{Name: "v", Op: "op", Input: json.RawMessage(`{"a":1,"b":"x"}`), Expected: json.RawMessage(`{"outcome":"accept"}`), Extra: map[string]json.RawMessage{}}}
	orig := string(f.Vectors[0].Input)
	seen := map[string]bool{}
	for node := range 16 {
		for op := range uint8(mutations) {
			nf, v, err := mutate(f, &f.Vectors[0], []mutation{{node, op}}, `"q"`)
			if err != nil {
				t.Fatal(err)
			}
			if len(nf.Vectors) != 1 || v != &nf.Vectors[0] {
				t.Fatalf("mutate returned a vector outside its file")
			}
			seen[string(v.Input)+"|"+string(v.Expected)+"|"+string(nf.Top["users"])+"|"+v.Op] = true
		}
	}
	if string(f.Vectors[0].Input) != orig || string(f.Top["users"]) != `[{"id":1}]` {
		t.Errorf("mutate changed the original: %s %s", f.Vectors[0].Input, f.Top["users"])
	}
	for _, want := range []string{`{"a":null,"b":"x"}|`, `{"b":"x"}|`, `{"a":1e400,"b":"x"}|`, `{"a":1,"b":"/%zz%\"q\"%"}|`} {
		found := false
		for k := range seen {
			found = found || strings.HasPrefix(k, want)
		}
		if !found {
			t.Errorf("no mutation gave input %s", want)
		}
	}
	if _, v, _ := mutate(f, &f.Vectors[0], []mutation{{0, 255}}, ""); string(v.Input) != `{"a":1,"b":"x"}` {
		t.Errorf("op 255 changed the input to %s", v.Input)
	}
}
