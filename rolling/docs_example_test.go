package rolling_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/rolling"
)

// The README's rolling-code example, run: an API that accepts one code per
// step from bot-1, and the bot's client that sends a fresh code.
func Example_docsRolling() {
	seed := []byte("32 random bytes, from a file....") // m2m secret init --secret-file bot-1.seed
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := m2m.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s", p.Subject)
	})
	mux := http.NewServeMux()

	codec, err := rolling.NewHMAC(seed, rolling.Config{}) // HMAC-SHA-256, 30 s steps, 12 letters and digits
	if err != nil {
		log.Fatal(err)
	}
	v := &rolling.Verifier{Keys: []rolling.Key{{ID: "bot-1", Codec: codec}}}
	mux.Handle("/api/", (&httpauth.Middleware{Verifiers: []m2m.Verifier{v}}).Handler(api))

	// The bot: a fresh code in every request.
	bot := &http.Client{Transport: &rolling.Transport{Codec: codec, KeyID: "bot-1"}}

	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := bot.Get(srv.URL + "/api/hello")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(b))
	// Output: 200 hello bot-1
}

// docs/rolling.md: a server and a client sharing bot-1's seed. (Compiled,
// not run: it reads a seed file.)
func Example_docsSeedFile() {
	mux := http.NewServeMux()
	api := http.NotFoundHandler()

	seed, _ := os.ReadFile("bot-1.seed")                 // m2m secret init --secret-file bot-1.seed (32 random bytes)
	bot1, err := rolling.NewHMAC(seed, rolling.Config{}) // HMAC-SHA-256, 30 s, 12 of [A-Za-z0-9]
	if err != nil {
		log.Fatal(err)
	}

	// Server: "Authorization: Rolling kid=\"bot-1\", code=\"...\"" (or "Rolling <code>").
	v := &rolling.Verifier{Keys: []rolling.Key{{ID: "bot-1", Codec: bot1}}, Realm: "api"}
	m := &httpauth.Middleware{Verifiers: []m2m.Verifier{v}}
	mux.Handle("/api/", m.Handler(api)) // Principal: Subject = key id, Claims["step"], Claims["offset"]

	// Client: a fresh code on every request.
	client := &http.Client{Transport: &rolling.Transport{Codec: bot1, KeyID: "bot-1"}}
	_ = client
}

// docs/rolling.md and docs/migrating.md: accepting an m2m-token bot's
// codes. (Compiled, not run.)
func Example_docsLegacy() {
	legacy := &rolling.M2MToken{Seed: os.Getenv("BOT_SEED"), TTL: 3} // generate(seed, 3)
	code, _ := legacy.Generate(time.Now())                           // what the Python bot sends now

	v := &rolling.Verifier{
		Keys: []rolling.Key{{ID: "legacy-bot", Codec: legacy}},
		Wire: rolling.Wire{Header: "X-Token", Bare: true}, // wherever the bot puts its code
	}
	_, _ = code, v
}
