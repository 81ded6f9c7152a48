package m2m_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/m2mkit/m2m"
)

// A Verifier built from a function: no header means "try the next
// scheme", a wrong key is a refusal with a stable reason.
func ExampleVerifierFunc() {
	v := m2m.VerifierFunc(func(r *http.Request) (*m2m.Principal, error) {
		key := r.Header.Get("X-Api-Key")
		switch {
		case key == "":
			return nil, m2m.ErrNoCredentials
		case key != "k1": // a real verifier compares in constant time
			return nil, m2m.Invalid("apikey", m2m.ReasonBadCredentials, "unknown key")
		}
		return &m2m.Principal{Subject: "bot-1", Scheme: "apikey"}, nil
	})
	for _, key := range []string{"", "nope", "k1"} {
		r, _ := http.NewRequest("GET", "/", nil)
		if key != "" {
			r.Header.Set("X-Api-Key", key)
		}
		p, err := v.Verify(r)
		switch {
		case errors.Is(err, m2m.ErrNoCredentials):
			fmt.Println("no credentials")
		case err != nil:
			fmt.Println("refused:", m2m.ReasonOf(err))
		default:
			fmt.Println("subject:", p.Subject)
		}
	}
	// Output:
	// no credentials
	// refused: bad_credentials
	// subject: bot-1
}

func ExampleInvalid() {
	err := m2m.Invalid(m2m.SchemeRolling, m2m.ReasonReplayed, "code already used")
	fmt.Println(err)
	fmt.Println(errors.Is(err, m2m.ErrInvalidCredentials), err.HTTPStatus())
	// Output:
	// rolling: invalid credentials: replayed: code already used
	// true 401
}

func ExampleReasonOf() {
	wrapped := fmt.Errorf("verify: %w", m2m.Invalid(m2m.SchemeBearer, m2m.ReasonExpired, "token expired"))
	fmt.Println(m2m.ReasonOf(wrapped))
	fmt.Println(m2m.ReasonOf(m2m.ErrNoCredentials))
	fmt.Printf("%q\n", m2m.ReasonOf(errors.New("database down"))) // a technical failure
	// Output:
	// expired
	// missing_credentials
	// ""
}

func ExampleNewContext() {
	ctx := m2m.NewContext(context.Background(), &m2m.Principal{Subject: "bot-1", Scheme: m2m.SchemeBearer})
	if p, ok := m2m.FromContext(ctx); ok {
		fmt.Println(p.Subject, p.Scheme)
	}
	_, ok := m2m.FromContext(context.Background())
	fmt.Println(ok)
	// Output:
	// bot-1 bearer
	// false
}

func ExamplePrincipal_HasScope() {
	p := &m2m.Principal{Subject: "bot-1", Scopes: []string{"read", "write"}}
	fmt.Println(p.HasScope("read"), p.HasScope("read", "admin"))
	// Output: true false
}

func ExampleSecret() {
	key := m2m.Secret("hunter2")
	fmt.Println(key)
	fmt.Printf("%x %d\n", key, key)
	fmt.Println(len(key)) // the bytes are there for whoever needs them
	// Output:
	// [REDACTED]
	// [REDACTED] [REDACTED]
	// 7
}
