package dynamic

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/replay"
)

var testSecret = m2m.Secret("0123456789abcdef0123456789abcdef")

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newSealed(c *clock) *Sealed {
	return &Sealed{Keys: []Key{{Secret: testSecret}}, Now: c.Now}
}

func TestSealedRoundTrip(t *testing.T) {
	c := &clock{t: time.UnixMilli(1710105367868)}
	tests := []struct {
		name     string
		keys     []Key
		uuid     string
		wantUUID string
	}{
		{"bare", []Key{{Secret: testSecret}}, "", ""},
		{"uuid", []Key{{Secret: testSecret}}, "acde070d-8c4c-4f0d-9d8a-162843C10333", "acde070d8c4c4f0d9d8a162843c10333"},
		{"object id", []Key{{Secret: testSecret}}, "6061f78686f34f52da3ef464", "6061f78686f34f52da3ef464"},
		{"key id", []Key{{ID: "2026-11", Secret: testSecret}}, "6061f78686f34f52da3ef464", "6061f78686f34f52da3ef464"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Sealed{Keys: tt.keys, Now: c.Now}
			tok, err := s.Encode(tt.uuid)
			if err != nil {
				t.Fatalf("Encode(%q): %v", tt.uuid, err)
			}
			if len(tok) > MaxSealedTokenBytes || strings.ContainsAny(tok, "+/=") {
				t.Errorf("Encode(%q) = %q; want at most %d base64url characters", tt.uuid, tok, MaxSealedTokenBytes)
			}
			r, err := s.Accept(context.Background(), tok)
			if err != nil || !r.Valid || r.UUID != tt.wantUUID || r.KeyID != tt.keys[0].ID || r.AgeMS != 0 || !r.AgeKnown {
				t.Errorf("Accept(Encode(%q)) = %+v, %v; want valid with uuid %q", tt.uuid, r, err, tt.wantUUID)
			}
		})
	}
}

func TestSealedRefusals(t *testing.T) {
	c := &clock{t: time.UnixMilli(1710105367868)}
	s := newSealed(c)
	tok, err := s.Encode("6061f78686f34f52da3ef464")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	other := &Sealed{Keys: []Key{{Secret: m2m.Secret("another key of thirty-two bytes!")}}, Now: c.Now}
	otherTok, _ := other.Encode("")
	withID := &Sealed{Keys: []Key{{ID: "k2", Secret: testSecret}}, Now: c.Now}
	idTok, _ := withID.Encode("")
	// Swapping the UUID of a valid token: the last UUID byte sits just
	// before the tag.
	swapped := flip(len(raw) - tagBytes - 1)
	tests := []struct {
		name   string
		token  string
		status Status
		reason m2m.Reason
	}{
		{"empty", "", StatusInvalid, m2m.ReasonMalformed},
		{"garbage", "!!!", StatusInvalid, m2m.ReasonMalformed},
		{"padded", tok + "=", StatusInvalid, m2m.ReasonMalformed},
		{"too large", strings.Repeat("A", MaxSealedTokenBytes+1), StatusInvalid, m2m.ReasonTooLarge},
		{"version", flip(0), StatusInvalid, m2m.ReasonMalformed},
		{"timestamp", flip(9), StatusInvalid, m2m.ReasonBadSignature},
		{"nonce", flip(12), StatusInvalid, m2m.ReasonBadSignature},
		{"uuid swapped", swapped, StatusInvalid, m2m.ReasonBadSignature},
		{"tag", flip(len(raw) - 1), StatusInvalid, m2m.ReasonBadSignature},
		{"truncated", tok[:len(tok)-2], StatusInvalid, m2m.ReasonMalformed},
		{"other key", otherTok, StatusInvalid, m2m.ReasonBadSignature},
		{"unknown key id", idTok, StatusInvalid, m2m.ReasonUnknownKey},
		{"compat token", "OHR5a09wdXM7TWFnbmEtODk3MG10bDAwJTAwMDA=", StatusInvalid, m2m.ReasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.Decode(tt.token)
			if r.Valid || r.Status != tt.status || r.Reason != tt.reason {
				t.Errorf("Decode(%q) = %+v; want %s/%s", tt.token, r, tt.status, tt.reason)
			}
		})
	}
}

func TestSealedTimeWindow(t *testing.T) {
	start := time.UnixMilli(1710105367868)
	tests := []struct {
		name      string
		tolerance time.Duration
		skew      time.Duration // verifier clock minus issuer clock
		status    Status
		reason    m2m.Reason
	}{
		{"fresh", 0, 0, StatusOK, ""},
		{"at tolerance", 0, DefaultTolerance, StatusOK, ""},
		{"past tolerance", 0, DefaultTolerance + time.Millisecond, StatusTimedOut, m2m.ReasonExpired},
		{"slightly future", 0, -DefaultMaxFuture, StatusOK, ""},
		{"far future", 0, -DefaultMaxFuture - time.Millisecond, StatusTimedOut, m2m.ReasonNotYetValid},
		{"no tolerance, same millisecond", NoTolerance, 0, StatusOK, ""},
		{"no tolerance, 1ms old", NoTolerance, time.Millisecond, StatusTimedOut, m2m.ReasonExpired},
		{"no tolerance, minutes old", NoTolerance, 3 * time.Minute, StatusTimedOut, m2m.ReasonExpired},
		{"negative tolerance is none", -time.Hour, time.Millisecond, StatusTimedOut, m2m.ReasonExpired},
		{"15s tolerance, 15s old", 15 * time.Second, 15 * time.Second, StatusOK, ""},
		{"15s tolerance, 16s old", 15 * time.Second, 16 * time.Second, StatusTimedOut, m2m.ReasonExpired},
	}
	futures := []struct {
		name      string
		maxFuture time.Duration
		skew      time.Duration
		status    Status
	}{
		{"default future", 0, -DefaultMaxFuture, StatusOK},
		{"no future, same millisecond", NoTolerance, 0, StatusOK},
		{"no future, 1ms ahead", NoTolerance, -time.Millisecond, StatusTimedOut},
	}
	for _, tt := range futures {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: start}
			s := newSealed(c)
			s.MaxFuture = tt.maxFuture
			tok, err := s.Encode("")
			if err != nil {
				t.Fatal(err)
			}
			c.Add(tt.skew)
			if r := s.Decode(tok); r.Status != tt.status {
				t.Errorf("Decode %v ahead with MaxFuture %v = %+v; want %s", -tt.skew, tt.maxFuture, r, tt.status)
			}
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: start}
			s := newSealed(c)
			s.Tolerance = tt.tolerance
			tok, err := s.Encode("")
			if err != nil {
				t.Fatal(err)
			}
			c.Add(tt.skew)
			r, err := s.Accept(context.Background(), tok)
			if err != nil || r.Status != tt.status || r.Reason != tt.reason || r.Valid != (tt.status == StatusOK) {
				t.Errorf("Accept at %v = %+v, %v; want %s/%s", tt.skew, r, err, tt.status, tt.reason)
			}
		})
	}
}

func TestSealedRequireUUID(t *testing.T) {
	c := &clock{t: time.UnixMilli(1710105367868)}
	s := newSealed(c)
	s.RequireUUID = true
	tok, _ := s.Encode("")
	if r := s.Decode(tok); r.Valid || r.Status != StatusUUIDRequired {
		t.Errorf("Decode(no uuid) = %+v; want uuid_required", r)
	}
	for _, bad := range []string{"abc", "6061f78686f34f52da3ef46", "zz61f78686f34f52da3ef464", strings.Repeat("ab", 33)} {
		if tok, err := s.Encode(bad); err == nil {
			t.Errorf("Encode(%q) = %q; want an error", bad, tok)
		}
	}
}

func TestSealedKeyRotation(t *testing.T) {
	c := &clock{t: time.UnixMilli(1710105367868)}
	oldKey := Key{ID: "old", Secret: testSecret}
	newKey := Key{ID: "new", Secret: m2m.Secret("fedcba9876543210fedcba9876543210")}
	before := &Sealed{Keys: []Key{oldKey}, Now: c.Now}
	after := &Sealed{Keys: []Key{newKey, oldKey}, Now: c.Now}
	oldTok, _ := before.Encode("")
	newTok, _ := after.Encode("")
	if r := after.Decode(oldTok); !r.Valid || r.KeyID != "old" {
		t.Errorf("after.Decode(old token) = %+v; want valid with key old", r)
	}
	if r := after.Decode(newTok); !r.Valid || r.KeyID != "new" {
		t.Errorf("after.Decode(new token) = %+v; want valid with key new", r)
	}
	if r := before.Decode(newTok); r.Valid || r.Reason != m2m.ReasonUnknownKey {
		t.Errorf("before.Decode(new token) = %+v; want unknown_key", r)
	}
	if _, err := (&Sealed{Keys: []Key{{Secret: m2m.Secret("short")}}}).Encode(""); err == nil {
		t.Error("Encode with a 5-byte key succeeded; want an error")
	}
	if _, err := (&Sealed{}).Encode(""); err == nil {
		t.Error("Encode without keys succeeded; want an error")
	}
}

// TestSealedReplay sends the same token twice, then from two goroutines
// at once: exactly one presentation is accepted each time.
func TestSealedReplay(t *testing.T) {
	c := &clock{t: time.UnixMilli(1710105367868)}
	s := newSealed(c)
	ctx := context.Background()

	t.Run("twice", func(t *testing.T) {
		tok, _ := s.Encode("")
		r1, err1 := s.Accept(ctx, tok)
		r2, err2 := s.Accept(ctx, tok)
		if err1 != nil || err2 != nil || !r1.Valid || r2.Valid || r2.Status != StatusReplayed || r2.Reason != m2m.ReasonReplayed {
			t.Errorf("Accept twice = %+v, %v then %+v, %v; want accepted then replayed", r1, err1, r2, err2)
		}
	})
	t.Run("concurrently", func(t *testing.T) {
		for range 200 {
			tok, _ := s.Encode("6061f78686f34f52da3ef464")
			var wg sync.WaitGroup
			var accepted [2]bool
			start := make(chan struct{})
			for i := range 2 {
				wg.Go(func() {
					<-start
					r, err := s.Accept(ctx, tok)
					accepted[i] = err == nil && r.Valid
				})
			}
			close(start)
			wg.Wait()
			if accepted[0] == accepted[1] {
				t.Fatalf("concurrent Accept = %v; want exactly one accepted", accepted)
			}
		}
	})
	t.Run("shared cache", func(t *testing.T) {
		cache := &replay.Memory{Now: c.Now}
		a := &Sealed{Keys: []Key{{Secret: testSecret}}, Now: c.Now, Replay: cache}
		b := &Sealed{Keys: []Key{{Secret: testSecret}}, Now: c.Now, Replay: cache}
		tok, _ := a.Encode("")
		r1, _ := a.Accept(ctx, tok)
		r2, _ := b.Accept(ctx, tok)
		if !r1.Valid || r2.Valid {
			t.Errorf("Accept on two replicas = %v, %v; want true, false", r1.Valid, r2.Valid)
		}
	})
	t.Run("kept until expiry", func(t *testing.T) {
		tok, _ := s.Encode("")
		if r, _ := s.Accept(ctx, tok); !r.Valid {
			t.Fatalf("first Accept = %+v", r)
		}
		c.Add(DefaultTolerance)
		if r, _ := s.Accept(ctx, tok); r.Status != StatusReplayed {
			t.Errorf("Accept at the end of the window = %+v; want replayed", r)
		}
		c.Add(time.Millisecond)
		if r, _ := s.Accept(ctx, tok); r.Status != StatusTimedOut {
			t.Errorf("Accept after the window = %+v; want timed_out", r)
		}
	})
}

type failingCache struct{}

func (failingCache) Use(context.Context, string, time.Time) (bool, error) {
	return false, m2m.ErrUnavailable
}

func TestSealedReplayCacheFailure(t *testing.T) {
	c := &clock{t: time.UnixMilli(1710105367868)}
	s := newSealed(c)
	s.Replay = failingCache{}
	tok, _ := s.Encode("")
	r, err := s.Accept(context.Background(), tok)
	if r.Valid || !errors.Is(err, m2m.ErrUnavailable) {
		t.Errorf("Accept with a failing cache = %+v, %v; want refused with ErrUnavailable", r, err)
	}
}

func TestSealedLargestToken(t *testing.T) {
	c := &clock{t: time.UnixMilli(1710105367868)}
	s := &Sealed{Keys: []Key{{ID: strings.Repeat("k", maxKeyIDBytes), Secret: testSecret}}, Now: c.Now}
	uuid := strings.Repeat("ab", maxUUIDBytes)
	tok, err := s.Encode(uuid)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != 166 {
		t.Errorf("len(largest token) = %d; want 166", len(tok))
	}
	if r := s.Decode(tok); !r.Valid || r.UUID != uuid {
		t.Errorf("Decode(largest token) = %+v; want valid", r)
	}
	plain, _ := (&Sealed{Keys: []Key{{Secret: testSecret}}, Now: c.Now}).Encode("")
	withUUID, _ := (&Sealed{Keys: []Key{{Secret: testSecret}}, Now: c.Now}).Encode("acde070d-8c4c-4f0d-9d8a-162843c10333")
	if len(plain) != 78 || len(withUUID) != 100 {
		t.Errorf("token lengths = %d, %d; want 78, 100 (as documented)", len(plain), len(withUUID))
	}
}

func TestSealedTimestampRange(t *testing.T) {
	far := &Sealed{Keys: []Key{{Secret: testSecret}}, Now: func() time.Time { return time.UnixMilli(maxSealedMS + 1) }}
	if tok, err := far.Encode(""); err == nil {
		t.Errorf("Encode after year 9999 = %q; want an error", tok)
	}
	// A correctly tagged token whose timestamp is out of range is malformed.
	b := []byte{sealedVersion, 0}
	b = binary.BigEndian.AppendUint64(b, uint64(maxSealedMS+1))
	b = append(b, make([]byte, nonceBytes)...)
	m := hmac.New(sha256.New, testSecret)
	m.Write([]byte(sealedMACLabel))
	m.Write(b)
	tok := base64.RawURLEncoding.EncodeToString(m.Sum(b))
	s := &Sealed{Keys: []Key{{Secret: testSecret}}, Now: far.Now}
	if r := s.Decode(tok); r.Valid || r.Reason != m2m.ReasonMalformed {
		t.Errorf("Decode(year 10000 token) = %+v; want malformed", r)
	}
	// The same construction in range verifies, so the test builds tokens right.
	b = binary.BigEndian.AppendUint64([]byte{sealedVersion, 0}, uint64(maxSealedMS))
	b = append(b, make([]byte, nonceBytes)...)
	m.Reset()
	m.Write([]byte(sealedMACLabel))
	m.Write(b)
	if r := s.Decode(base64.RawURLEncoding.EncodeToString(m.Sum(b))); !r.Valid {
		t.Errorf("Decode(hand-made token at the last valid ms) = %+v; want valid", r)
	}
}
