package basic_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/m2mkit/m2m/basic"
)

func BenchmarkParseCredentials(b *testing.B) {
	for b.Loop() {
		if _, _, err := basic.ParseCredentials("c3ZjOnA6YTpzcw=="); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStdlibBasicAuth is net/http's Request.BasicAuth on the same
// credentials, for comparison (it checks less: no UTF-8 or control
// character checks, CR/LF skipped, no size cap).
func BenchmarkStdlibBasicAuth(b *testing.B) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Basic c3ZjOnA6YTpzcw==")
	for b.Loop() {
		if _, _, ok := r.BasicAuth(); !ok {
			b.Fatal("not ok")
		}
	}
}

func BenchmarkParseCredentialsLenient(b *testing.B) {
	for b.Loop() {
		if _, _, err := basic.ParseCredentialsLenient("c3ZjOnA6YTpzcw=="); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify measures one request with each hash at its default cost:
// the price of Basic auth is the password hash.
func BenchmarkVerify(b *testing.B) {
	bc, err := basic.HashPassword("wonderland")
	if err != nil {
		b.Fatal(err)
	}
	a2, err := basic.HashArgon2id("wonderland", nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, hash string }{{"bcrypt10", bc}, {"argon2id_19MiB_t2", a2}} {
		users, err := basic.NewHtpasswd(map[string]string{"alice": c.hash})
		if err != nil {
			b.Fatal(err)
		}
		v := &basic.Verifier{Users: users}
		for _, u := range []struct{ name, user string }{{"known", "alice"}, {"unknown", "bob"}} {
			b.Run(c.name+"/"+u.name, func(b *testing.B) {
				r := httptest.NewRequest("GET", "/", nil)
				r.SetBasicAuth(u.user, "wonderland")
				for b.Loop() {
					_, _ = v.Verify(r)
				}
			})
		}
	}
}

func BenchmarkHtpasswdUnknownUser(b *testing.B) {
	users, _ := basic.NewHtpasswd(map[string]string{"alice": "$2a$04$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"})
	for b.Loop() {
		_, _ = users.Authenticate(context.Background(), "bob", "x")
	}
}
