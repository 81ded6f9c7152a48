package rolling

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/ratelimit"
)

// atomicClock is a clock that attacker goroutines may read while the
// test advances it.
type atomicClock struct{ ns atomic.Int64 }

func (c *atomicClock) Now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *atomicClock) Add(d time.Duration) { c.ns.Add(int64(d)) }
func newAtomicClock(t time.Time) *atomicClock {
	c := &atomicClock{}
	c.ns.Store(t.UnixNano())
	return c
}

// TestVerifierNoLockoutOfTheDevice checks the rule that a correct code is
// not refused because others sent wrong ones, within what keeps guessing
// slow: attackers sending wrong codes for the device's key id, at once and
// concurrently with the device, from another address, from many
// addresses, and from the device's own address.
func TestVerifierNoLockoutOfTheDevice(t *testing.T) {
	const (
		device    = "192.0.2.10"
		elsewhere = "192.0.2.99"
	)
	type phase struct {
		attackers []string // one goroutine per address, each sending perAttacker wrong codes
		device    string   // the address the device sends its right code from ("" for none)
		want      m2m.Reason
	}
	for _, tc := range []struct {
		name   string
		phases []phase
		budget ratelimit.Limit // bounds the wrong codes that reach the comparison, over all phases
	}{
		{
			name: "one attacker elsewhere, device at a new address",
			phases: []phase{
				{attackers: []string{"198.51.100.1"}, device: device, want: ""},
			},
			budget: DefaultAddressLimit,
		},
		{
			name: "one attacker elsewhere, device accepted again and again",
			phases: []phase{
				{attackers: []string{"198.51.100.1"}, device: device, want: ""},
				{attackers: []string{"198.51.100.1"}, device: device, want: ""},
				{attackers: []string{"198.51.100.1"}, device: device, want: ""},
			},
			budget: DefaultAddressLimit,
		},
		{
			name: "attackers spread over 40 addresses: the device keeps getting in where it succeeded",
			phases: []phase{
				{device: device, want: ""},
				{attackers: spread(40), device: device, want: ""},
				{attackers: spread(40), device: device, want: ""},
			},
			// The key id's budget caps the guesses of addresses that
			// never succeeded.
			budget: ratelimit.DefaultFailureLimit,
		},
		{
			name: "attackers spread over 40 addresses: a device at a new address waits with them",
			phases: []phase{
				{device: device, want: ""},
				{attackers: spread(40), device: elsewhere, want: m2m.ReasonThrottled},
			},
			budget: ratelimit.DefaultFailureLimit,
		},
		{
			name: "attacker behind the device's address: throttled together, guesses bounded by the address budget",
			phases: []phase{
				{device: device, want: ""},
				{attackers: []string{device}, device: device, want: m2m.ReasonThrottled},
			},
			budget: DefaultAddressLimit,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newAtomicClock(time.Unix(1_700_000_000, 0))
			h := mustHMAC(t, string(testSeed), TOTP())
			v := &Verifier{Keys: []Key{{"cam-1", h}}, Now: clk.Now,
				Throttle: &ratelimit.Throttle{Limiter: &ratelimit.Memory{Now: clk.Now}}}
			send := func(addr, code string) error {
				r := httptest.NewRequest("GET", "/", nil)
				r.RemoteAddr = addr + ":5000"
				r.Header.Set("Authorization", Wire{}.Format("cam-1", code))
				_, err := v.Verify(r)
				return err
			}
			var compared atomic.Int32
			advances := 0
			for i, ph := range tc.phases {
				right, err := h.Generate(clk.Now())
				if err != nil {
					t.Fatal(err)
				}
				var wg sync.WaitGroup
				start := make(chan struct{})
				for _, a := range ph.attackers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						for j := range 20 {
							wrong := fmt.Sprintf("%06d", (j*7919+1)%1_000_000)
							if wrong == right {
								continue
							}
							switch err := send(a, wrong); m2m.ReasonOf(err) {
							case m2m.ReasonBadCredentials:
								compared.Add(1)
							case m2m.ReasonThrottled:
							default:
								t.Errorf("attacker at %s: %v", a, err)
							}
						}
					}()
				}
				close(start)
				if ph.device != "" && ph.want == "" {
					// concurrently with the attack: the device must get in
					// whichever guesses came first
					if err := send(ph.device, right); err != nil {
						t.Errorf("phase %d: device at %s refused: %v", i, ph.device, err)
					}
				}
				wg.Wait()
				if ph.device != "" {
					// and at once after the attack: with the next step's
					// code (the window accepts it) when the device must get
					// in, with this step's otherwise
					code := right
					if ph.want == "" {
						if code, err = h.Generate(clk.Now().Add(h.Period())); err != nil {
							t.Fatal(err)
						}
					}
					if got := m2m.ReasonOf(send(ph.device, code)); got != ph.want {
						t.Errorf("phase %d: device at %s after the attack: reason %q, want %q", i, ph.device, got, ph.want)
					}
				}
				clk.Add(2 * h.Period()) // past the codes used; the budgets barely refill
				advances += 2
			}
			// the burst, and what refilled while the clock advanced
			elapsed := time.Duration(advances) * h.Period()
			limit := tc.budget.Burst + int(tc.budget.Rate*elapsed.Seconds())
			if n := int(compared.Load()); n > limit {
				t.Errorf("%d wrong codes were compared, want at most %d", n, limit)
			}
		})
	}
}

func spread(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("203.0.113.%d", i+1))
	}
	return out
}

// TestVerifierAddressFromTrustedProxy checks that the address budget
// counts the client a trusted proxy names, and ignores the header from
// anyone else.
func TestVerifierAddressFromTrustedProxy(t *testing.T) {
	clk := newAtomicClock(time.Unix(1_700_000_000, 0))
	h := mustHMAC(t, string(testSeed), TOTP())
	v := &Verifier{Keys: []Key{{"cam-1", h}}, Now: clk.Now,
		Throttle: &ratelimit.Throttle{Limiter: &ratelimit.Memory{Now: clk.Now}}}
	req := func(peer, xff string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer + ":5000"
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		r.Header.Set("Authorization", Wire{}.Format("cam-1", "000000"))
		return r
	}
	// Untrusted peer: the forwarded addresses are ignored, so varying
	// them does not buy new address budgets.
	for i := range DefaultAddressLimit.Burst + 3 {
		_, err := v.Verify(req("198.51.100.1", fmt.Sprintf("203.0.113.%d", i)))
		want := m2m.ReasonBadCredentials
		if i >= DefaultAddressLimit.Burst {
			want = m2m.ReasonThrottled
		}
		if got := m2m.ReasonOf(err); got != want {
			t.Fatalf("attempt %d: %q, want %q", i, got, want)
		}
	}
}
