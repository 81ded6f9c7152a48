package basic_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/basic"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/ratelimit"
)

// The README's HTTP Basic example, run: an admin page behind an htpasswd
// file.
func Example_docsBasic() {
	dir, err := os.MkdirTemp("", "m2m-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	hash, err := basic.HashPassword("correct horse") // what m2m basic hash prints
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte("admin:"+hash+"\n"), 0o600); err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	adminPage := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := m2m.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s", p.Subject)
	})

	users, err := basic.LoadHtpasswd(filepath.Join(dir, "htpasswd"))
	if err != nil {
		log.Fatal(err)
	}
	admin := &httpauth.Middleware{Verifiers: []m2m.Verifier{
		&basic.Verifier{Realm: "admin", Users: users, Throttle: &ratelimit.Throttle{}},
	}}
	mux.Handle("GET /admin", admin.Handler(adminPage))

	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, pw := range []string{"correct horse", "wrong"} {
		req, _ := http.NewRequest("GET", srv.URL+"/admin", nil)
		req.SetBasicAuth("admin", pw)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	// Output:
	// 200 []
	// 401 [Basic realm="admin", charset="UTF-8"]
}

// docs/device.md: the device's admin page behind HTTP Basic. (Compiled,
// not run: it names a system path.)
func Example_docsAdminPage() {
	mux := http.NewServeMux()
	adminPage := http.NotFoundHandler()

	users, err := basic.LoadHtpasswd("/etc/myapp/htpasswd")
	if err != nil {
		log.Fatal(err)
	}
	admin := &httpauth.Middleware{Verifiers: []m2m.Verifier{
		&basic.Verifier{Realm: "camera admin", Users: users, Throttle: &ratelimit.Throttle{}},
	}}
	mux.Handle("GET /admin", admin.Handler(adminPage)) // p.Subject is the user name
}
