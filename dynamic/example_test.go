package dynamic_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/dynamic"
	"github.com/m2mkit/m2m/httpauth"
)

var secret = m2m.Secret("a 32-byte secret from a file....")

// A sealed token is accepted once.
func ExampleSealed() {
	s := &dynamic.Sealed{Keys: []dynamic.Key{{Secret: secret}}}
	tok, err := s.Encode("6061f78686f34f52da3ef464")
	if err != nil {
		panic(err)
	}
	r, _ := s.Accept(context.Background(), tok)
	fmt.Println(r.Valid, r.UUID, r.Status)
	r, _ = s.Accept(context.Background(), tok)
	fmt.Println(r.Valid, r.Status)
	// Output:
	// true 6061f78686f34f52da3ef464 ok
	// false replayed
}

func ExampleSealed_Encode() {
	s := &dynamic.Sealed{Keys: []dynamic.Key{{ID: "2026-11", Secret: secret}}}
	tok, _ := s.Encode("acde070d-8c4c-4f0d-9d8a-162843c10333")
	fmt.Println(len(tok))
	// Output: 111
}

// Decode inspects a token without using it up.
func ExampleSealed_Decode() {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	issuer := &dynamic.Sealed{Keys: []dynamic.Key{{Secret: secret}}, Now: func() time.Time { return now }}
	tok, _ := issuer.Encode("")
	verifier := &dynamic.Sealed{Keys: []dynamic.Key{{Secret: secret}}, Now: func() time.Time { return now.Add(6 * time.Minute) }}
	r := verifier.Decode(tok)
	fmt.Println(r.Valid, r.Status, r.AgeMS)
	// Output: false timed_out 360000
}

func ExampleSealed_Accept() {
	s := &dynamic.Sealed{Keys: []dynamic.Key{{Secret: secret}}, RequireUUID: true}
	tok, _ := s.Encode("")
	r, err := s.Accept(context.Background(), tok)
	fmt.Println(r.Valid, r.Status, err)
	// Output: false uuid_required <nil>
}

// The crate's README token, decoded at its own timestamp.
func ExampleCompat_Decode() {
	c := &dynamic.Compat{
		APIKey:    m2m.Secret("Opus;Magna-897"),
		CheckUUID: true,
		Now:       func() time.Time { return time.UnixMilli(1710105367868) },
	}
	r := c.Decode("OHR5a09wdXM7TWFnbmEtODk3MG10bDAwLDAwcjRfXzExa2JxOGloMnJfdXd6MjU2M2o4LjAwazk=")
	fmt.Println(r.Valid, r.UUID, r.AgeMS, r.Status, r.HasUser())
	// Output: true 6061f78686f34f52da3ef464 0 ok true
}

// The crate's suggested configurations.
func ExampleCompat() {
	key := m2m.Secret("Opus;Magna-897")
	lightweight := &dynamic.Compat{APIKey: key, Tolerance: 15 * time.Second}
	uploads := &dynamic.Compat{APIKey: key, Tolerance: 5 * time.Minute}
	custom := &dynamic.Compat{APIKey: key, RandChars: "∑㌀◐"}
	withUser := &dynamic.Compat{APIKey: key, CheckUUID: true}
	for _, c := range []*dynamic.Compat{lightweight, uploads, custom, withUser} {
		tok, err := c.Encode("6061f78686f34f52da3ef464")
		fmt.Println(err == nil && c.Decode(tok).Valid)
	}
	// Output:
	// true
	// true
	// true
	// true
}

func ExampleCompat_Encode() {
	c := &dynamic.Compat{APIKey: m2m.Secret("Opus;Magna-897"), Now: func() time.Time { return time.UnixMilli(1710105367868) }}
	tok, _ := c.Encode("")
	fmt.Println(dynamic.DecodeBase64(tok)[:18])
	// Output: 8tykOpus;Magna-897
}

// Quirks reproduces the crate's release build, bypasses included.
func ExampleCompat_quirks() {
	forged := dynamic.EncodeBase64("0bOpus;Magna-897cdef%") // no timestamp suffix
	strict := &dynamic.Compat{APIKey: m2m.Secret("Opus;Magna-897")}
	quirks := &dynamic.Compat{APIKey: m2m.Secret("Opus;Magna-897"), Quirks: true}
	fmt.Println(strict.Decode(forged).Valid, strict.Decode(forged).Status)
	fmt.Println(quirks.Decode(forged).Valid, quirks.Decode(forged).AgeKnown)
	// Output:
	// false invalid_imestamp
	// true false
}

func ExampleCompat_Accept() {
	c := &dynamic.Compat{APIKey: m2m.Secret("Opus;Magna-897")}
	tok, _ := c.Encode("")
	r, err := c.Accept(context.Background(), tok)
	fmt.Println(r.Valid, err)
	// Output: true <nil>
}

func ExampleCrateRandChars() {
	fmt.Println(dynamic.CrateRandChars("∑㌀◐"), dynamic.CrateRandChars("a#!"))
	// Output: ∑㌀◐ %.,
}

func ExampleEncodeBase64() {
	fmt.Println(dynamic.EncodeBase64("8tykk?>~0mtl00%0000"))
	fmt.Printf("%q\n", dynamic.DecodeBase64("OHR5a2s_Pn4wbXRsMDAlMDAwMA==")) // URL-safe: refused
	// Output:
	// OHR5a2s/Pn4wbXRsMDAlMDAwMA==
	// ""
}

func ExampleDecodeBase64() {
	fmt.Println(dynamic.DecodeBase64("OHR5a2s/Pn4wbXRsMDAlMDAwMA=="))
	// Output: 8tykk?>~0mtl00%0000
}

func ExampleStatus_CrateName() {
	fmt.Println(dynamic.StatusInvalidTimestamp, dynamic.StatusInvalidTimestamp.CrateName())
	// Output: invalid_imestamp InvalidTimestamp
}

func ExampleResult_HasUser() {
	fmt.Println(dynamic.Result{Valid: true, UUID: "6061f78686f34f52da3ef464"}.HasUser())
	// Output: true
}

// The server accepts "Authorization: Dynamic <token>"; the client's
// Transport adds a fresh token to every request.
func ExampleVerifier() {
	s := &dynamic.Sealed{Keys: []dynamic.Key{{Secret: secret}}}
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{&dynamic.Verifier{Codec: s}}}
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := m2m.FromContext(r.Context())
		fmt.Fprintf(w, "user %s via %s", p.Subject, p.Scheme)
	})))
	defer srv.Close()

	client := &http.Client{Transport: &dynamic.Transport{Codec: s, UUID: "6061f78686f34f52da3ef464"}}
	resp, err := client.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(b))
	// Output: 200 user 6061f78686f34f52da3ef464 via dynamic
}

// Existing Rust or Node clients send the bare token in a header of their
// choice.
func ExampleVerifier_Verify() {
	c := &dynamic.Compat{APIKey: m2m.Secret("Opus;Magna-897"), CheckUUID: true}
	v := &dynamic.Verifier{Codec: c, Header: "X-Dynamic-Token"}
	tok, _ := c.Encode("6061f78686f34f52da3ef464")
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Dynamic-Token", tok)
	p, err := v.Verify(r)
	fmt.Println(p.Subject, err)
	// Output: 6061f78686f34f52da3ef464 <nil>
}

func ExampleVerifier_Challenge() {
	v := &dynamic.Verifier{Realm: "api"}
	fmt.Println(v.Challenge(nil))
	// Output: Dynamic realm="api"
}

func ExampleTransport() {
	s := &dynamic.Sealed{Keys: []dynamic.Key{{Secret: secret}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := (&dynamic.Verifier{Codec: s}).Verify(r)
		fmt.Println("server:", err)
	}))
	defer srv.Close()
	client := &http.Client{Transport: &dynamic.Transport{Codec: s}}
	resp, _ := client.Get(srv.URL)
	resp.Body.Close()
	// Output: server: <nil>
}

func ExampleTransport_RoundTrip() {
	tr := &dynamic.Transport{Codec: &dynamic.Sealed{}} // no key
	_, err := tr.RoundTrip(httptest.NewRequest("GET", "http://example.com/", nil))
	fmt.Println(err)
	// Output: dynamic: sealed: no key
}
