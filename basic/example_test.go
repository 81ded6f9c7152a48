package basic_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/basic"
	"github.com/m2mkit/m2m/httpauth"
)

func ExampleVerifier() {
	// In a program: users, err := basic.LoadHtpasswd("/etc/myapp/htpasswd")
	// This hash of "U*U" is bcrypt cost 5 from the OpenBSD test set.
	users, err := basic.ParseHtpasswd(strings.NewReader("admin:$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{&basic.Verifier{Realm: "camera", Users: users}}}
	admin := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := m2m.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s", p.Subject)
	}))

	r := httptest.NewRequest("GET", "/admin", nil)
	r.SetBasicAuth("admin", "U*U")
	w := httptest.NewRecorder()
	admin.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Body)

	w = httptest.NewRecorder()
	admin.ServeHTTP(w, httptest.NewRequest("GET", "/admin", nil))
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	// Output:
	// 200 hello admin
	// 401 Basic realm="camera", charset="UTF-8"
}

func ExampleVerifier_check() {
	// Check is the callback form, like microdot's @basic_auth.authenticate.
	v := &basic.Verifier{Lenient: true, Check: func(r *http.Request, user, pass string) (*m2m.Principal, error) {
		if user == "bot" && pass == "a:b" { // use constant-time comparisons in real code
			return &m2m.Principal{Subject: user, Scopes: []string{"read"}}, nil
		}
		return nil, nil
	}}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Basic Ym90!OmE6Yg==") // junk '!' skipped in Lenient mode
	p, err := v.Verify(r)
	fmt.Println(p.Subject, p.Scheme, p.Scopes, err)
	// Output: bot basic [read] <nil>
}

func ExampleParseCredentials() {
	user, pass, err := basic.ParseCredentials("c3ZjOnA6YTpzcw==")
	fmt.Printf("%q %q %v\n", user, pass, err)
	_, _, err = basic.ParseCredentials("YWxpY2V3b25kZXJsYW5k")
	fmt.Println(err)
	// Output:
	// "svc" "p:a:ss" <nil>
	// basic: invalid credentials: malformed: basic credentials have no colon
}

func ExampleParseCredentialsLenient() {
	user, pass, err := basic.ParseCredentialsLenient("Y!W!x!p!Y!2!U!6!d!2!9!u!Z!G!V!y!b!G!F!u!Z!A!=!=")
	fmt.Println(user, pass, err)
	// Output: alice wonderland <nil>
}

func ExampleHashPassword() {
	hash, err := basic.HashPassword("correct horse battery staple")
	if err != nil {
		fmt.Println(err)
		return
	}
	// Write "user:hash" lines to an htpasswd file for LoadHtpasswd.
	path := filepath.Join(os.TempDir(), "example-htpasswd")
	defer os.Remove(path)
	if err := os.WriteFile(path, []byte("camera:"+hash+"\n"), 0o600); err != nil {
		fmt.Println(err)
		return
	}
	users, err := basic.LoadHtpasswd(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	ok, _ := users.Authenticate(context.Background(), "camera", "correct horse battery staple")
	fmt.Println(hash[:7], ok)
	// Output: $2a$10$ true
}

func ExampleHashArgon2id() {
	hash, _ := basic.HashArgon2id("correct horse battery staple", nil)
	users, _ := basic.NewHtpasswd(map[string]string{"camera": hash})
	ok, _ := users.Authenticate(context.Background(), "camera", "correct horse battery staple")
	fmt.Println(hash[:31], ok)
	// Output: $argon2id$v=19$m=19456,t=2,p=1$ true
}

func ExampleLoadHtpasswd() {
	dir, _ := os.MkdirTemp("", "htpasswd")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "htpasswd")
	// Made with "htpasswd -B" or "m2m basic hash --user alice"; this one is "U*U".
	_ = os.WriteFile(path, []byte("alice:$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW\n"), 0o600)
	users, err := basic.LoadHtpasswd(path)
	fmt.Println(users.Len(), err)
	// Output: 1 <nil>
}

func ExampleCheckUserName() {
	fmt.Println(basic.CheckUserName("alice"))
	fmt.Println(basic.CheckUserName("a:b"))
	// Output:
	// <nil>
	// basic: invalid user name "a:b" (UTF-8 without ':' or control characters)
}

func ExampleBounded() {
	users, _ := basic.NewHtpasswd(map[string]string{
		"bot": "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4", // "password"
	})
	// At most 4 password checks at a time, however many requests arrive.
	v := &basic.Verifier{Users: basic.Bounded(users, 4)}
	r := httptest.NewRequest("GET", "/", nil)
	r.SetBasicAuth("bot", "password")
	p, err := v.Verify(r)
	fmt.Println(p.Subject, err)
	// Output: bot <nil>
}

func ExampleNewHtpasswd() {
	hash, _ := basic.HashBcrypt("s3cret", 4) // cost 4 only to keep the example fast
	users, err := basic.NewHtpasswd(map[string]string{"alice": hash})
	if err != nil {
		fmt.Println(err)
		return
	}
	ok, _ := users.Authenticate(context.Background(), "alice", "s3cret")
	bad, _ := users.Authenticate(context.Background(), "mallory", "s3cret")
	fmt.Println(users.Len(), ok, bad)
	_, err = basic.NewHtpasswd(map[string]string{"bob": "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="})
	fmt.Println(err != nil)
	// Output:
	// 1 true false
	// true
}

func ExampleParseHtpasswd() {
	users, err := basic.ParseHtpasswd(strings.NewReader(`# user:hash lines, as "htpasswd -B" writes them
alice:$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	ok, _ := users.Authenticate(context.Background(), "alice", "U*U")
	fmt.Println(ok)
	// Output: true
}

func ExampleHashBcrypt() {
	hash, err := basic.HashBcrypt("s3cret", 11)
	fmt.Println(hash[:7], len(hash), err)
	// Output: $2a$11$ 60 <nil>
}

func ExampleHtpasswd_Authenticate() {
	users, _ := basic.NewHtpasswd(map[string]string{"alice": "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"})
	for _, pw := range []string{"U*U", "U*U*"} {
		ok, err := users.Authenticate(context.Background(), "alice", pw)
		fmt.Println(pw, ok, err)
	}
	// Output:
	// U*U true <nil>
	// U*U* false <nil>
}

func ExampleVerifier_Challenge() {
	v := &basic.Verifier{Realm: "Please login"}
	fmt.Println(v.Challenge(nil))
	// Output: Basic realm="Please login", charset="UTF-8"
}
