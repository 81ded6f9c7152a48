package rolling

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestM2MTokenParams(t *testing.T) {
	tests := []struct {
		name string
		m    M2MToken
		want string // the ConfigError's Name; "" means valid
	}{
		{"defaults", M2MToken{Seed: "s", TTL: 1}, ""},
		{"seed first", M2MToken{TTL: 0, Sequence: "", TokenLen: -1, Explicit: true}, "seed"},
		{"ttl before sequence", M2MToken{Seed: "s", TTL: -5, Explicit: true}, "ttl"},
		{"sequence before token_len", M2MToken{Seed: "s", TTL: 5, Explicit: true}, "sequence"},
		{"token_len", M2MToken{Seed: "s", TTL: 5, Sequence: "ab", Explicit: true}, "token_len"},
		{"negative token_len without Explicit", M2MToken{Seed: "s", TTL: 5, TokenLen: -1}, "token_len"},
		{"seed too long", M2MToken{Seed: strings.Repeat("s", MaxSeedBytes+1), TTL: 5}, "seed"},
		{"sequence too long", M2MToken{Seed: "s", TTL: 5, Sequence: strings.Repeat("a", MaxSequenceRunes+1)}, "sequence"},
		{"sequence not UTF-8", M2MToken{Seed: "s", TTL: 5, Sequence: "a\xff"}, "sequence"},
		{"token_len too large", M2MToken{Seed: "s", TTL: 5, TokenLen: MaxTokenLen + 1}, "token_len"},
		{"utc offset", M2MToken{Seed: "s", TTL: 5, UTCOffset: MaxUTCOffset + 1}, "utc_offset"},
		{"repeated characters are allowed", M2MToken{Seed: "s", TTL: 5, Sequence: "aab"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.m.Validate()
			var ce *ConfigError
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v; want nil", err)
			case tt.want != "" && (!errors.As(err, &ce) || ce.Name != tt.want):
				t.Fatalf("Validate() = %v; want a ConfigError for %s", err, tt.want)
			}
			if _, gerr := tt.m.Generate(time.Unix(0, 0)); (gerr == nil) != (err == nil) {
				t.Fatalf("Generate error %v disagrees with Validate %v", gerr, err)
			}
		})
	}
}

// TestM2MTokenBuckets checks the bucket arithmetic around minute
// boundaries, odd offsets and dates before 1970, where the previous bucket
// is the last one of the previous minute.
func TestM2MTokenBuckets(t *testing.T) {
	tests := []struct {
		name       string
		at         string
		ttl        int
		offset     int
		seed, prev int64 // SeedTime and the previous bucket's start
	}{
		{"minute start", "2024-01-01T00:01:00Z", 7, 0, 1704067260, 1704067256},
		{"second half of the last short bucket", "2024-01-01T00:00:59.6Z", 7, 0, 1704067257, 1704067249},
		{"ttl 60", "2024-01-01T00:01:30Z", 60, 0, 1704067260, 1704067200},
		{"ttl above 60 is the minute", "2024-01-01T00:01:30Z", 3600, 0, 1704067260, 1704067200},
		{"offset east", "2024-01-01T00:00:10Z", 5, 3600, 1704063610, 1704063605},
		{"offset of odd seconds", "2024-01-01T00:00:10.7Z", 5, 37, 1704067174, 1704067168},
		{"before 1970", "1969-12-31T23:59:00.5Z", 3, 0, -60, -63},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, err := time.Parse(time.RFC3339Nano, tt.at)
			if err != nil {
				t.Fatal(err)
			}
			seed, _, prev := seedTime(at, tt.ttl, tt.offset)
			if seed != tt.seed || prev != tt.prev {
				t.Fatalf("seedTime(%s, %d, %d) = %d, prev %d; want %d, prev %d", tt.at, tt.ttl, tt.offset, seed, prev, tt.seed, tt.prev)
			}
		})
	}
}
