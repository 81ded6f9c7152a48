package dynamic

import (
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
)

func TestBaseEncode(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		base int
		want string
	}{
		{"timestamp", []byte{0, 0, 0x01, 0x8e, 0x2a, 0x39, 0x15, 0x3c}, 36, "00ltm0kyt8"},
		{"four zero bytes", []byte{0, 0, 0, 0}, 36, "0000"},
		{"eight zero bytes", make([]byte, 8), 36, "000000000"},
		{"976", []byte{0, 0, 3, 0xd0}, 36, "00r4"},
		{"hex odd", []byte{0x0a, 0xbc}, 16, "abc"},
		{"hex leading zero byte", []byte{0, 0xab}, 16, "0ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := baseEncode(tt.in, tt.base); got != tt.want {
				t.Errorf("baseEncode(%x, %d) = %q; want %q", tt.in, tt.base, got, tt.want)
			}
		})
	}
}

func TestCrateU64(t *testing.T) {
	tests := []struct {
		in             string
		ascii          bool
		want           uint64
		ok, overflowed bool
	}{
		{"00r4", true, 976, true, false},
		{"ltm0kyt8", true, 1710105367868, true, false},
		{"", true, 0, false, false},
		{"XYZ", false, 0, false, false},
		{"\u2665", false, 14, true, false}, // low byte 0x65 is 'e'
		{"\u2665", true, 0, false, false},
		{"zzzzzzzzzzzzzz", false, 0, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			v, ok, of := crateU64(tt.in, tt.ascii)
			if ok != tt.ok || of != tt.overflowed || (tt.want != 0 && v != tt.want) {
				t.Errorf("crateU64(%q, %v) = %d, %v, %v; want %d, %v, %v", tt.in, tt.ascii, v, ok, of, tt.want, tt.ok, tt.overflowed)
			}
		})
	}
}

func TestCompatConfig(t *testing.T) {
	tests := []struct {
		name string
		c    Compat
		ok   bool
	}{
		{"defaults", Compat{APIKey: m2m.Secret("k;ey")}, true},
		{"empty key", Compat{}, false},
		{"custom chars", Compat{APIKey: m2m.Secret("k;ey"), RandChars: "∑㌀◐"}, true},
		{"alphanumeric chars", Compat{APIKey: m2m.Secret("k;ey"), RandChars: "a#!"}, false},
		{"underscore", Compat{APIKey: m2m.Secret("k;ey"), RandChars: "_#"}, false},
		{"alphanumeric chars quirks", Compat{APIKey: m2m.Secret("k;ey"), RandChars: "a#!", Quirks: true}, true},
		{"negative tolerance means none", Compat{APIKey: m2m.Secret("k;ey"), Tolerance: -time.Second}, true},
		{"no tolerance", Compat{APIKey: m2m.Secret("k;ey"), Tolerance: NoTolerance}, true},
		{"tolerance over u32", Compat{APIKey: m2m.Secret("k;ey"), Tolerance: 50 * 24 * time.Hour}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.c.Encode("")
			if (err == nil) != tt.ok {
				t.Errorf("Encode() error = %v; want ok %v", err, tt.ok)
			}
		})
	}
}

// TestCompatNoTolerance checks that NoTolerance allows no age at all
// (the crate's set_tolerance(0)) instead of the default five minutes.
func TestCompatNoTolerance(t *testing.T) {
	start := time.UnixMilli(1710105367868)
	for _, tt := range []struct {
		name      string
		tolerance time.Duration
		skew      time.Duration
		valid     bool
	}{
		{"default, 3m old", 0, 3 * time.Minute, true},
		{"none, same millisecond", NoTolerance, 0, true},
		{"none, 1ms old", NoTolerance, time.Millisecond, false},
		{"none, 3m old", NoTolerance, 3 * time.Minute, false},
		{"none, 1ms ahead", NoTolerance, -time.Millisecond, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			now := start
			c := &Compat{APIKey: m2m.Secret("k;ey"), Tolerance: tt.tolerance, Now: func() time.Time { return now }}
			tok, err := c.Encode("")
			if err != nil {
				t.Fatal(err)
			}
			now = start.Add(tt.skew)
			if r := c.Decode(tok); r.Valid != tt.valid {
				t.Errorf("Decode(token %v old) with Tolerance %v = %+v; want valid %v", tt.skew, tt.tolerance, r, tt.valid)
			}
		})
	}
}

func TestCompatRoundTrip(t *testing.T) {
	now := time.UnixMilli(1710105367868)
	clock := func() time.Time { return now }
	tests := []struct {
		name      string
		c         Compat
		uuid      string
		wantUUID  string
		encodeErr bool
	}{
		{"no uuid", Compat{APIKey: m2m.Secret("Opus;Magna-897")}, "", "", false},
		{"uuid", Compat{APIKey: m2m.Secret("Opus;Magna-897"), CheckUUID: true}, "6061f78686f34f52da3ef464", "6061f78686f34f52da3ef464", false},
		{"hyphenated upper uuid", Compat{APIKey: m2m.Secret("KrYpt0_δ"), CheckUUID: true, RandChars: "∑㌀◐"}, "ACDE070D-8C4C-4F0D-9D8A-162843C10333", "acde070d8c4c4f0d9d8a162843c10333", false},
		{"short uuid", Compat{APIKey: m2m.Secret("Opus;Magna-897")}, "abcdef0123", "", true},
		{"non-hex uuid", Compat{APIKey: m2m.Secret("Opus;Magna-897")}, "zzzzzzzzzzzzzzzzzzzzzzzzzzzz", "", true},
		{"colliding key", Compat{APIKey: m2m.Secret("a1")}, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.Now = clock
			tok, err := tt.c.Encode(tt.uuid)
			if tt.encodeErr {
				if err == nil {
					t.Fatalf("Encode(%q) = %q; want an error", tt.uuid, tok)
				}
				return
			}
			if err != nil {
				// A key made of base-36 characters may collide with the
				// timestamp; Encode says so instead of issuing a dud.
				if string(tt.c.APIKey) == "a1" {
					return
				}
				t.Fatalf("Encode(%q): %v", tt.uuid, err)
			}
			r := tt.c.Decode(tok)
			if !r.Valid || r.UUID != tt.wantUUID || !r.AgeKnown || r.AgeMS != 0 || r.Status != StatusOK {
				t.Errorf("Decode(Encode(%q)) = %+v; want valid, uuid %q, age 0", tt.uuid, r, tt.wantUUID)
			}
			later := tt.c
			later.Now = func() time.Time { return now.Add(DefaultTolerance + time.Millisecond) }
			if r := later.Decode(tok); r.Valid || r.Status != StatusTimedOut || r.Reason != m2m.ReasonExpired {
				t.Errorf("Decode after tolerance = %+v; want timed_out", r)
			}
		})
	}
}

func TestCompatStrictRefusesBypasses(t *testing.T) {
	c := &Compat{APIKey: m2m.Secret("Opus;Magna-897"), Now: fixedMS(99999999999999)}
	q := *c
	q.Quirks = true
	for _, plain := range []string{"0bOpus;Magna-897cdef%", "0bOpus;Magna-897cdef%XYZ", "8tykOpus;Magna-8970mtl00%zzzzzzzzzzzzzz"} {
		tok := EncodeBase64(plain)
		if r := q.Decode(tok); !r.Valid && plain != "8tykOpus;Magna-8970mtl00%zzzzzzzzzzzzzz" {
			t.Errorf("quirks Decode(%q) = %+v; want valid (the crate's bypass)", plain, r)
		}
		if r := c.Decode(tok); r.Valid {
			t.Errorf("strict Decode(%q) = %+v; want refused", plain, r)
		}
	}
	if r := c.Decode(strings.Repeat("A", MaxCompatTokenBytes+4)); r.Valid || r.Reason != m2m.ReasonTooLarge {
		t.Errorf("Decode(oversized) = %+v; want too_large", r)
	}
}

func TestBase64Helpers(t *testing.T) {
	tests := []struct{ in, want string }{
		{"OHR5a2s/Pn4wbXRsMDAlMDAwMA==", "8tykk?>~0mtl00%0000"},
		{"OHR5a2s_Pn4wbXRsMDAlMDAwMA==", ""},
		{"OHR5a2s/Pn4wbXRs\nMDAlMDAwMA==", ""},
		{"//79", ""},
		{"YQ", ""},
	}
	for _, tt := range tests {
		if got := DecodeBase64(tt.in); got != tt.want {
			t.Errorf("DecodeBase64(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
	if got := EncodeBase64("8tykk?>~0mtl00%0000"); got != tests[0].in {
		t.Errorf("EncodeBase64 = %q; want %q", got, tests[0].in)
	}
}

func TestRandIntUnbiased(t *testing.T) {
	tests := []struct {
		max   uint32
		draws []uint32
		want  uint32
	}{
		{1000, []uint32{0xFFFFFFFF, 1234}, 234}, // the top 296 values are redrawn
		{1000, []uint32{4294966999}, 999},       // the largest accepted value
		{3, []uint32{0xFFFFFFFF, 0xFFFFFFFE}, 2},
		{1, []uint32{0xFFFFFFFF}, 0},
	}
	for _, tt := range tests {
		got, err := randInt(&drawReader{tt.draws})(tt.max)
		if err != nil || got != tt.want {
			t.Errorf("randInt(%v)(%d) = %d, %v; want %d", tt.draws, tt.max, got, err, tt.want)
		}
	}
	if _, err := randInt(&drawReader{})(10); err == nil {
		t.Error("randInt with an empty reader succeeded; want an error")
	}
}
