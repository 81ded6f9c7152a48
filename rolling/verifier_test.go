package rolling

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/ratelimit"
)

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func mustHMAC(t testing.TB, seed string, cfg Config) *HMAC {
	t.Helper()
	h, err := NewHMAC([]byte(seed), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestVerifierCheck(t *testing.T) {
	clk := &clock{time.Unix(1_700_000_000, 0)}
	bot1 := mustHMAC(t, "bot-1 seed, 32 bytes long......", Config{})
	bot2 := mustHMAC(t, "bot-2 seed, 32 bytes long......", Config{})
	legacy := &M2MToken{Seed: "VeryComplicatedSeedSoThatItIsReallyHardForTheAttackerToGuessIt", TTL: 3}
	code := func(c Codec, d time.Duration) string {
		s, err := c.Generate(clk.t.Add(d))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	type attempt struct {
		kid, code string
		advance   time.Duration
		wantKID   string
		wantOff   int
		reason    m2m.Reason // "" means accepted
	}
	tests := []struct {
		name     string
		v        *Verifier
		attempts []attempt
	}{
		{"accepted once", &Verifier{Keys: []Key{{"bot-1", bot1}}}, []attempt{
			{"bot-1", code(bot1, 0), 0, "bot-1", 0, ""},
			{"bot-1", code(bot1, 0), 0, "", 0, m2m.ReasonReplayed},
			{"", code(bot1, 0), 0, "", 0, m2m.ReasonReplayed},
		}},
		{"window", &Verifier{Keys: []Key{{"bot-1", bot1}}}, []attempt{
			{"", code(bot1, -30*time.Second), 0, "bot-1", -1, ""},
			{"", code(bot1, 30*time.Second), 0, "bot-1", 1, ""},
			{"", code(bot1, -60*time.Second), 0, "", 0, m2m.ReasonBadCredentials},
		}},
		{"no window", &Verifier{Keys: []Key{{"bot-1", bot1}}, Window: NoWindow}, []attempt{
			{"", code(bot1, -30*time.Second), 0, "", 0, m2m.ReasonBadCredentials},
			{"", code(bot1, 0), 0, "bot-1", 0, ""},
		}},
		{"several keys", &Verifier{Keys: []Key{{"bot-1", bot1}, {"bot-2", bot2}}}, []attempt{
			{"bot-2", code(bot2, 0), 0, "bot-2", 0, ""},
			{"bot-1", code(bot2, 0), 0, "", 0, m2m.ReasonBadCredentials},
			{"", code(bot1, 0), 0, "bot-1", 0, ""}, // no kid: every key is tried
			{"bot-3", code(bot1, 0), 0, "", 0, m2m.ReasonUnknownKey},
		}},
		{"replay allowed", &Verifier{Keys: []Key{{"", bot1}}, InsecureAllowReplay: true}, []attempt{
			{"", code(bot1, 0), 0, "", 0, ""},
			{"", code(bot1, 0), 0, "", 0, ""},
		}},
		{"m2m_token", &Verifier{Keys: []Key{{"legacy", legacy}}}, []attempt{
			{"", code(legacy, 0), 0, "legacy", 0, ""},
			{"", code(legacy, 700*time.Millisecond), 0, "legacy", 0, ""},   // the half-second phase
			{"", code(legacy, -time.Second), 0, "", 0, m2m.ReasonReplayed}, // same bucket, same phase
			{"", code(legacy, -3*time.Second), 0, "legacy", -1, ""},        // previous bucket
			{"", code(legacy, -6*time.Second), 0, "", 0, m2m.ReasonBadCredentials},
			{"", code(legacy, 0), 0, "", 0, m2m.ReasonReplayed},
		}},
		{"throttled", &Verifier{Keys: []Key{{"bot-1", bot1}}, Throttle: &ratelimit.Throttle{
			Limiter: &ratelimit.Memory{Now: clk.Now}, Limit: ratelimit.Limit{Rate: 1.0 / 60, Burst: 2}}}, []attempt{
			{"", "AAAAAAAAAAAA", 0, "", 0, m2m.ReasonBadCredentials},
			{"", "AAAAAAAAAAAA", 0, "", 0, m2m.ReasonBadCredentials},
			{"", code(bot1, 0), 0, "", 0, m2m.ReasonThrottled}, // even the right code
			{"", code(bot1, 61*time.Second), 61 * time.Second, "bot-1", 0, ""},
		}},
	}
	start := clk.t
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := clk
			c.t = start
			tt.v.Now = c.Now
			for i, a := range tt.attempts {
				c.t = c.t.Add(a.advance)
				res, err := tt.v.Check(context.Background(), a.kid, a.code)
				if a.reason != "" {
					if got := m2m.ReasonOf(err); got != a.reason {
						t.Fatalf("attempt %d: Check(%q, %q) = %+v, %v; want %s", i, a.kid, a.code, res, err, a.reason)
					}
					continue
				}
				if err != nil || res.KeyID != a.wantKID || res.Offset != a.wantOff {
					t.Fatalf("attempt %d: Check(%q, %q) = %+v, %v; want key %q offset %d", i, a.kid, a.code, res, err, a.wantKID, a.wantOff)
				}
			}
		})
	}
}

func TestVerifierThrottledRetryAfter(t *testing.T) {
	clk := &clock{time.Unix(1_700_000_000, 0)}
	v := &Verifier{Keys: []Key{{"k", mustHMAC(t, string(testSeed), Config{})}}, Now: clk.Now,
		Throttle: &ratelimit.Throttle{Limiter: &ratelimit.Memory{Now: clk.Now}, Limit: ratelimit.Limit{Rate: 0.1, Burst: 1}}}
	v.Check(context.Background(), "k", "x")
	_, err := v.Check(context.Background(), "k", "x")
	var ce *m2m.CredentialError
	if !errors.As(err, &ce) || ce.Reason != m2m.ReasonThrottled || ce.RetryAfter != 10 {
		t.Fatalf("Check after a failure = %v; want throttled with RetryAfter 10", err)
	}
}

func TestVerifierValidate(t *testing.T) {
	h := mustHMAC(t, string(testSeed), Config{})
	totp := mustHMAC(t, string(testSeed), TOTP())
	tests := []struct {
		name string
		v    *Verifier
		want []string // substrings of the error; none means valid
	}{
		{"zero", &Verifier{}, []string{"no keys"}},
		{"one key", &Verifier{Keys: []Key{{"", h}}}, nil},
		{"several keys need ids", &Verifier{Keys: []Key{{"", h}, {"b", h}}}, []string{"key 0 has no id"}},
		{"repeated id", &Verifier{Keys: []Key{{"a", h}, {"a", h}}}, []string{"repeated"}},
		{"nil codec", &Verifier{Keys: []Key{{"a", nil}}}, []string{"no codec"}},
		{"bad key id", &Verifier{Keys: []Key{{"a\nb", h}}}, []string{"control characters"}},
		{"bad m2m_token", &Verifier{Keys: []Key{{"a", &M2MToken{TTL: 3}}}}, []string{"invalid seed"}},
		{"weak code with protection", &Verifier{Keys: []Key{{"a", totp}}}, nil},
		{"weak code without replay protection", &Verifier{Keys: []Key{{"a", totp}}, InsecureAllowReplay: true}, []string{"20 bits need replay protection"}},
		{"weak code without throttle", &Verifier{Keys: []Key{{"a", totp}}, InsecureNoThrottle: true}, []string{"need replay protection"}},
		{"weak code accepted on purpose", &Verifier{Keys: []Key{{"a", totp}}, InsecureNoThrottle: true, InsecureWeakCodes: true}, nil},
		{"strong code without replay protection", &Verifier{Keys: []Key{{"a", h}}, InsecureAllowReplay: true}, nil},
		{"HMAC not from NewHMAC", &Verifier{Keys: []Key{{"a", &HMAC{}}}}, []string{"not created with NewHMAC"}},
		{"window too large", &Verifier{Keys: []Key{{"a", h}}, Window: MaxWindow + 1}, []string{"window 1001 above 1000"}},
		{"largest window", &Verifier{Keys: []Key{{"a", h}}, Window: MaxWindow}, nil},
		{"space in a bare code", &Verifier{Keys: []Key{{"a", mustHMAC(t, string(testSeed), Config{Alphabet: "ab cdefgh"})}}, Wire: Wire{Header: "X-Code", Bare: true}}, []string{"U+0020"}},
		{"space in a quoted code", &Verifier{Keys: []Key{{"a", mustHMAC(t, string(testSeed), Config{Alphabet: "ab cdefgh"})}}}, nil},
		{"control in an m2m_token sequence", &Verifier{Keys: []Key{{"a", &M2MToken{Seed: "s", TTL: 3, Sequence: "ab\x01"}}}}, []string{"U+0001"}},
		{"tab in a quoted m2m_token sequence", &Verifier{Keys: []Key{{"a", &M2MToken{Seed: "s", TTL: 3, Sequence: "ab\t"}}}}, nil},
		{"every problem at once", &Verifier{Keys: []Key{{"a", nil}, {"", h}}}, []string{"no codec", "key 1 has no id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.v.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v; want nil", err)
				}
				return
			}
			for _, w := range tt.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Fatalf("Validate() = %v; want an error containing %q", err, w)
				}
			}
			// An invalid Verifier refuses every request as a technical failure.
			_, err = tt.v.Check(context.Background(), "", "abc")
			if err == nil || m2m.ReasonOf(err) != "" {
				t.Fatalf("Check on an invalid Verifier = %v; want a technical error", err)
			}
		})
	}
}

func TestVerifierHTTP(t *testing.T) {
	clk := &clock{time.Unix(1_700_000_000, 0)}
	h := mustHMAC(t, string(testSeed), Config{})
	code, _ := h.Generate(clk.t)
	tests := []struct {
		name    string
		wire    Wire
		header  string
		value   string
		status  int
		subject string
	}{
		{"default form", Wire{}, "Authorization", "Rolling " + code, 200, "bot"},
		{"kid form", Wire{}, "Authorization", `Rolling kid="bot", code="` + code + `"`, 200, "bot"},
		{"lower-case scheme", Wire{}, "Authorization", "rolling " + code, 200, "bot"},
		{"wrong code", Wire{}, "Authorization", "Rolling AAAAAAAAAAAA", 401, ""},
		{"unknown kid", Wire{}, "Authorization", `Rolling kid="x", code="` + code + `"`, 401, ""},
		{"malformed", Wire{}, "Authorization", `Rolling code="`, 401, ""},
		{"absent", Wire{}, "", "", 401, ""},
		{"other scheme", Wire{}, "Authorization", "Bearer " + code, 401, ""},
		{"bare header", Wire{Header: "X-Token", Bare: true}, "X-Token", code, 200, "bot"},
		{"too large", Wire{}, "Authorization", "Rolling " + strings.Repeat("a", 9000), 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &Verifier{Keys: []Key{{"bot", h}}, Wire: tt.wire, Realm: "api", Now: clk.Now}
			m := &httpauth.Middleware{Verifiers: []m2m.Verifier{v}}
			var subject string
			srv := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				p, _ := m2m.FromContext(r.Context())
				subject = p.Subject
				if p.Scheme != m2m.SchemeRolling || p.Claims["step"] != h.Step(clk.t) {
					t.Errorf("Principal = %+v; want scheme rolling, step %d", p, h.Step(clk.t))
				}
			}))
			r := httptest.NewRequest("GET", "/", nil)
			if tt.header != "" {
				r.Header.Set(tt.header, tt.value)
			}
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, r)
			if w.Code != tt.status || subject != tt.subject {
				t.Fatalf("status, subject = %d, %q; want %d, %q (body %s)", w.Code, subject, tt.status, tt.subject, w.Body)
			}
			if w.Code == 401 && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), `Rolling realm="api"`) {
				t.Fatalf("WWW-Authenticate = %q; want the Rolling challenge", w.Header().Get("WWW-Authenticate"))
			}
			if strings.Contains(w.Body.String(), code) {
				t.Fatalf("body %s contains the code", w.Body)
			}
		})
	}
}

type failingCache struct{}

func (failingCache) Use(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("backend down")
}

func TestVerifierReplayCacheFailure(t *testing.T) {
	h := mustHMAC(t, string(testSeed), Config{})
	v := &Verifier{Keys: []Key{{"", h}}, Replay: failingCache{}}
	code, _ := h.Generate(time.Now())
	_, err := v.Check(context.Background(), "", code)
	if !errors.Is(err, m2m.ErrUnavailable) || m2m.ReasonOf(err) != "" {
		t.Fatalf("Check with a failing cache = %v; want a technical ErrUnavailable", err)
	}
}

// TestVerifierConcurrentReplay presents one code from many goroutines at
// once: exactly one is accepted (run with -race).
func TestVerifierConcurrentReplay(t *testing.T) {
	clk := &clock{time.Unix(1_700_000_000, 0)}
	tests := []struct {
		name  string
		codec Codec
	}{
		{"hmac", mustHMAC(t, string(testSeed), Config{})},
		{"m2m_token", &M2MToken{Seed: "seed", TTL: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &Verifier{Keys: []Key{{"bot", tt.codec}}, Now: clk.Now}
			code, err := tt.codec.Generate(clk.t)
			if err != nil {
				t.Fatal(err)
			}
			const n = 32
			results := make(chan error, n)
			for range n {
				go func() {
					_, err := v.Check(context.Background(), "bot", code)
					results <- err
				}()
			}
			accepted := 0
			for range n {
				err := <-results
				switch {
				case err == nil:
					accepted++
				case m2m.ReasonOf(err) != m2m.ReasonReplayed:
					t.Errorf("Check = %v; want nil or replayed", err)
				}
			}
			if accepted != 1 {
				t.Fatalf("accepted %d of %d concurrent uses; want 1", accepted, n)
			}
		})
	}
}
