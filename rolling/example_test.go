package rolling_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/rolling"
)

// A secure code: HMAC-SHA-256 over 30-second steps, 12 alphanumerics.
func ExampleNewHMAC() {
	seed := []byte("a seed of at least 16 bytes, from crypto/rand")
	h, err := rolling.NewHMAC(seed, rolling.Config{})
	if err != nil {
		panic(err)
	}
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	code, _ := h.Generate(at)
	m, err := h.Match(code, at.Add(20*time.Second), 1)
	fmt.Println(len(code), h.Step(at), m.Offset, err)
	// Output: 12 59844720 0 <nil>
}

// RFC 6238 TOTP, as authenticator apps show it.
func ExampleTOTP() {
	h, _ := rolling.NewHMAC([]byte("12345678901234567890"), rolling.TOTP())
	code, _ := h.Generate(time.Unix(1111111109, 0))
	fmt.Println(code)
	// Output: 081804
}

// The code a Python bot running m2m_token.generate(seed, 3) sends.
func ExampleM2MToken() {
	m := &rolling.M2MToken{Seed: "VeryComplicatedSeedSoThatItIsReallyHardForTheAttackerToGuessIt", TTL: 3}
	code, _ := m.Generate(time.Date(2024, 3, 10, 21, 30, 1, 250e6, time.UTC))
	fmt.Println(code)
	// Output: UK6mIx
}

func ExampleM2MToken_Validate() {
	m := &rolling.M2MToken{Seed: "seed", TTL: 0}
	fmt.Println(m.Validate())
	// Output: rolling: invalid ttl: must be a positive integer
}

func ExampleM2MToken_SeedTime() {
	m := &rolling.M2MToken{Seed: "seed", TTL: 5}
	at := time.Date(2024, 1, 1, 0, 0, 7, 600e6, time.UTC) // bucket 5..9, second half
	fmt.Println(m.SeedTime(at))
	// Output: 1704067206
}

// A bad parameter names itself, as the original's ConfigError does.
func ExampleConfigError() {
	_, err := (&rolling.M2MToken{Seed: "seed", TTL: 5, Sequence: "", TokenLen: 0, Explicit: true}).Generate(time.Now())
	var ce *rolling.ConfigError
	if errors.As(err, &ce) {
		fmt.Println(ce.Name)
	}
	// Output: sequence
}

func ExampleHMAC_Match() {
	h, _ := rolling.NewHMAC([]byte("12345678901234567890"), rolling.TOTP())
	m, err := h.Match("081804", time.Unix(1111111109+30, 0), 1) // the previous step's code
	fmt.Println(m.Step, m.Offset, err)
	_, err = h.Match("081804", time.Unix(1111111109+90, 0), 1)
	fmt.Println(err)
	// Output:
	// 37037036 -1 <nil>
	// rolling: code does not match
}

func ExampleM2MToken_Match() {
	m := &rolling.M2MToken{Seed: "VeryComplicatedSeedSoThatItIsReallyHardForTheAttackerToGuessIt", TTL: 3}
	// Sent at 21:30:00.1, received at 21:30:03.1: the previous bucket.
	res, err := m.Match("UK6mIx", time.Date(2024, 3, 10, 21, 30, 3, 100e6, time.UTC), 1)
	fmt.Println(res.Step, res.Offset, err)
	// Output: 1710106200 -1 <nil>
}

func ExampleHMAC_CodeAt() {
	h, _ := rolling.NewHMAC([]byte("12345678901234567890"), rolling.Config{Algorithm: rolling.SHA1, Alphabet: rolling.Digits, Length: 8})
	code, _ := h.CodeAt(1)
	fmt.Println(code)
	// Output: 94287082
}

// An API that accepts a bot's codes, each once.
func ExampleVerifier() {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	bot, _ := rolling.NewHMAC([]byte("bot-1 seed from crypto/rand....."), rolling.Config{})
	v := &rolling.Verifier{
		Keys:  []rolling.Key{{ID: "bot-1", Codec: bot}},
		Realm: "api",
		Now:   func() time.Time { return now },
	}
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{v}}
	api := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := m2m.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s", p.Subject)
	}))

	code, _ := bot.Generate(now)
	for range 2 {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", rolling.Wire{}.Format("bot-1", code))
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Body.String())
	}
	// Output:
	// 200 hello bot-1
	// 401 {"error":"replayed","error_description":"code already used"}
}

func ExampleVerifier_Check() {
	now := time.Date(2024, 3, 10, 21, 30, 0, 100e6, time.UTC)
	legacy := &rolling.M2MToken{Seed: "VeryComplicatedSeedSoThatItIsReallyHardForTheAttackerToGuessIt", TTL: 3}
	v := &rolling.Verifier{Keys: []rolling.Key{{ID: "legacy", Codec: legacy}}, Now: func() time.Time { return now }}
	res, err := v.Check(context.Background(), "", "UK6mIx")
	fmt.Println(res.KeyID, res.Step, err)
	_, err = v.Check(context.Background(), "", "UK6mIx")
	fmt.Println(err)
	// Output:
	// legacy 1710106200 <nil>
	// rolling: invalid credentials: replayed: code already used
}

func ExampleVerifier_Validate() {
	totp, _ := rolling.NewHMAC([]byte("12345678901234567890"), rolling.TOTP())
	v := &rolling.Verifier{Keys: []rolling.Key{{ID: "phone", Codec: totp}}, InsecureAllowReplay: true}
	fmt.Println(v.Validate())
	// Output: rolling: key "phone": codes of 20 bits need replay protection and throttling (or InsecureWeakCodes)
}

func ExampleVerifier_Challenge() {
	v := &rolling.Verifier{Realm: "api"}
	fmt.Println(v.Challenge(m2m.Invalid(m2m.SchemeRolling, m2m.ReasonReplayed, "code already used")))
	// Output: Rolling realm="api", error="replayed"
}

// A bot's HTTP client that sends a fresh code with every request.
func ExampleTransport() {
	bot, _ := rolling.NewHMAC([]byte("bot-1 seed from crypto/rand....."), rolling.Config{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, code, err := rolling.Wire{}.Parse(r)
		_, merr := bot.Match(code, time.Now(), 1)
		fmt.Fprint(w, err == nil && merr == nil)
	}))
	defer srv.Close()

	client := &http.Client{Transport: &rolling.Transport{Codec: bot, KeyID: "bot-1"}}
	resp, err := client.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: true
}

func ExampleWire_Format() {
	fmt.Println(rolling.Wire{}.Format("", "UK6mIx"))
	fmt.Println(rolling.Wire{}.Format("bot-1", `#-"!%`))
	fmt.Println(rolling.Wire{Header: "X-Token", Bare: true}.Format("bot-1", "UK6mIx"))
	// Output:
	// Rolling UK6mIx
	// Rolling kid="bot-1", code="#-\"!%"
	// UK6mIx
}

func ExampleWire_Parse() {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", `Rolling kid="bot-1", code="UK6mIx"`)
	kid, code, err := rolling.Wire{}.Parse(r)
	fmt.Println(kid, code, err)
	// Output: bot-1 UK6mIx <nil>
}

func ExampleParseCredentials() {
	kid, code, err := rolling.ParseCredentials(`code="αβγ"`)
	fmt.Printf("%q %q %v\n", kid, code, err)
	// Output: "" "αβγ" <nil>
}
