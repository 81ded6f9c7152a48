package rolling

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/internal/vectors"
)

// vectorSeeds returns the tokens, seeds and alphabets of the m2m_token
// vectors, to seed the fuzzers.
func vectorSeeds(f *testing.F) (tokens, seeds, sequences []string) {
	for _, file := range vectors.Load(f, "m2m_token") {
		for _, v := range file.Vectors {
			var in struct {
				Seed     any `json:"seed"`
				Sequence any `json:"sequence"`
			}
			var want struct {
				Token         *string `json:"token"`
				ReceiverToken *string `json:"receiver_token"`
			}
			// Only a few fields are wanted here; the vector test checks
			// the whole schema strictly.
			_ = jsonLoose(v.Input, &in)
			_ = jsonLoose(v.Expected, &want)
			for _, p := range []*string{want.Token, want.ReceiverToken} {
				if p != nil {
					tokens = append(tokens, *p)
				}
			}
			if s, ok := in.Seed.(string); ok {
				seeds = append(seeds, s)
			}
			if s, ok := in.Sequence.(string); ok {
				sequences = append(sequences, s)
			}
		}
	}
	return tokens, seeds, sequences
}

func FuzzParseCredentials(f *testing.F) {
	tokens, _, _ := vectorSeeds(f)
	for _, tok := range tokens {
		f.Add(Wire{}.Format("", tok))
		f.Add(Wire{}.Format("bot-1", tok))
	}
	f.Add(`kid=k, code="a\"b"`)
	f.Add(`code="unterminated`)
	f.Fuzz(func(t *testing.T, cred string) {
		kid, code, err := ParseCredentials(cred)
		if err != nil {
			var ce *m2m.CredentialError
			if !errors.As(err, &ce) || ce.Scheme != m2m.SchemeRolling {
				t.Fatalf("ParseCredentials(%q) = %v; want a CredentialError", cred, err)
			}
			if strings.Contains(err.Error(), cred) && len(cred) > 8 {
				t.Fatalf("error %q repeats the credentials", err)
			}
			return
		}
		if code == "" || len(code) > MaxCodeBytes || len(kid) > MaxKeyIDBytes {
			t.Fatalf("ParseCredentials(%q) = %q, %q", cred, kid, code)
		}
		// Whatever parses survives a Format/Parse round trip when the
		// values are printable.
		if strings.ContainsFunc(kid+code, func(r rune) bool { return r < 0x20 || r == 0x7f }) || !utf8.ValidString(kid+code) {
			return
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", Wire{}.Format(kid, code))
		kid2, code2, err := Wire{}.Parse(r)
		if err != nil || kid2 != kid || code2 != code {
			t.Fatalf("round trip of %q, %q = %q, %q, %v", kid, code, kid2, code2, err)
		}
	})
}

func FuzzVerify(f *testing.F) {
	tokens, _, _ := vectorSeeds(f)
	for _, tok := range tokens {
		f.Add("Rolling "+tok, false)
		f.Add(tok, true)
	}
	f.Add(`Rolling kid="legacy", code="UK6mIx"`, false)
	f.Add(`Rolling kid="x", code=""`, false)
	h, err := NewHMAC(testSeed, Config{Alphabet: "αβγδεζηθ😀ab", Length: 8})
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2024, 3, 10, 21, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, value string, bare bool) {
		wire := Wire{}
		if bare {
			wire = Wire{Header: "X-Token", Bare: true}
		}
		v := &Verifier{Now: func() time.Time { return now }, Wire: wire, Keys: []Key{
			{"legacy", &M2MToken{Seed: "VeryComplicatedSeedSoThatItIsReallyHardForTheAttackerToGuessIt", TTL: 3}},
			{"secure", h},
		}}
		r := httptest.NewRequest("GET", "/", nil)
		r.Header[wire.header()] = []string{value}
		p, err := v.Verify(r)
		switch {
		case err == nil:
			if p == nil || p.Scheme != m2m.SchemeRolling {
				t.Fatalf("Verify(%q) = %+v", value, p)
			}
		case errors.Is(err, m2m.ErrNoCredentials), errors.Is(err, m2m.ErrInvalidCredentials):
		default:
			t.Fatalf("Verify(%q) = %v; want a credential error", value, err)
		}
	})
}

func FuzzM2MToken(f *testing.F) {
	_, seeds, sequences := vectorSeeds(f)
	for i, s := range seeds {
		seq := ""
		if len(sequences) > 0 {
			seq = sequences[i%len(sequences)]
		}
		f.Add(s, 3, seq, 6, int64(1_710_106_200_000), 0, "UK6mIx")
	}
	f.Add("seed", 61, "", 0, int64(-1), -50400, "")
	f.Fuzz(func(t *testing.T, seed string, ttl int, seq string, n int, ms int64, offset int, code string) {
		if ms < -62135596800000 || ms > 253402300799000 || offset < -86400 || offset > 86400 {
			return // outside datetime's range
		}
		m := &M2MToken{Seed: seed, TTL: ttl, Sequence: seq, TokenLen: n % 100, UTCOffset: offset}
		now := time.UnixMilli(ms)
		got, err := m.Generate(now)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Generate = %v; want a ConfigError", err)
			}
			return
		}
		if _, err := m.Match(got, now, 0); err != nil {
			t.Fatalf("Match(Generate(now), now) = %v", err)
		}
		if _, err := m.Match(code, now, 1); err != nil && !errors.Is(err, ErrNoMatch) {
			t.Fatalf("Match(%q) = %v", code, err)
		}
	})
}

func jsonLoose(data []byte, v any) error { return json.Unmarshal(data, v) }
