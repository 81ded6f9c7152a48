package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeyRevoke revokes the active key of a data directory: it is
// revoked, another key is active, a second revoke changes nothing, and
// unknown or malformed key ids are refused.
func TestKeyRevoke(t *testing.T) {
	data := filepath.Join(t.TempDir(), "d")
	if code, _, stderr := run(t, nil, "", "init", "--data", data); code != 0 {
		t.Fatalf("m2m init = %d, %s", code, stderr)
	}
	keys := func(args ...string) map[string]string {
		t.Helper()
		code, out, stderr := run(t, nil, "", append(args, "--data", data, "--json")...)
		if code != 0 {
			t.Fatalf("m2m %v = %d, %s", args, code, stderr)
		}
		var set struct {
			Keys []keyJSON `json:"keys"`
		}
		if err := json.Unmarshal([]byte(out), &set); err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, k := range set.Keys {
			m[k.KID] = k.State
		}
		return m
	}
	var active string
	for kid, state := range keys("key", "list") {
		if state == "active" {
			active = kid
		}
	}
	if active == "" {
		t.Fatal("no active key after m2m init")
	}
	after := keys("key", "revoke", active)
	if after[active] != "revoked" {
		t.Errorf("after key revoke, %s is %q; want revoked", active, after[active])
	}
	n := 0
	for kid, state := range after {
		if state == "active" && kid != active {
			n++
		}
	}
	if n != 1 {
		t.Errorf("after key revoke: %v; want one other active key", after)
	}
	if again := keys("key", "revoke", active); len(again) != len(after) {
		t.Errorf("a second revoke changed the keys: %v -> %v", after, again)
	}
	for _, tc := range []struct {
		kid  string
		code int
		want string
	}{
		{"no-such-key", 1, `key "no-such-key" not found`},
		{"a/b", 2, "not a key id"},
		{"a\nb", 2, "not a key id"},
		{strings.Repeat("k", 200), 2, "not a key id"},
	} {
		code, _, stderr := run(t, nil, "", "key", "revoke", tc.kid, "--data", data)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("m2m key revoke %.20q = %d, %q; want %d, %q", tc.kid, code, stderr, tc.code, tc.want)
		}
	}
}

// TestKeyRevokeServer checks the admin API path of key revoke: the kid
// is escaped into POST /admin/keys/{kid}/revoke with the admin token, and
// the server's 404 is a refusal naming the key.
func TestKeyRevokeServer(t *testing.T) {
	token := strings.Repeat("A", 43)
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.EscapedPath()+" "+r.Header.Get("Authorization"))
		if strings.Contains(r.URL.Path, "gone") {
			http.Error(w, `{"error":"not_found"}`, http.StatusNotFound)
			return
		}
		w.Write([]byte(`{"keys":[{"kid":"k2","alg":"ES256"}]}`))
	}))
	defer srv.Close()
	env := map[string]string{"M2M_ADMIN_TOKEN": token}
	code, out, stderr := run(t, env, "", "key", "revoke", "k1~x", "--server", srv.URL)
	if code != 0 || !strings.Contains(out, "k2\tES256\tpublished") {
		t.Errorf("key revoke --server = %d, %q, %q", code, out, stderr)
	}
	code, _, stderr = run(t, env, "", "key", "revoke", "gone", "--server", srv.URL)
	if code != 1 || !strings.Contains(stderr, `key "gone" not found`) {
		t.Errorf("key revoke --server (404) = %d, %q; want exit 1, not found", code, stderr)
	}
	if len(got) != 2 || got[0] != "POST /admin/keys/k1~x/revoke Bearer "+token {
		t.Errorf("requests = %q", got)
	}
}
