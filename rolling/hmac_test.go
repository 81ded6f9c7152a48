package rolling

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// RFC 6238 Appendix B: 8-digit TOTP with T0 = 0 and X = 30.
func TestRFC6238(t *testing.T) {
	seeds := map[Algorithm]string{
		SHA1:   "12345678901234567890",
		SHA256: "12345678901234567890123456789012",
		SHA512: "1234567890123456789012345678901234567890123456789012345678901234",
	}
	tests := []struct {
		unix int64
		alg  Algorithm
		want string
	}{
		{59, SHA1, "94287082"}, {59, SHA256, "46119246"}, {59, SHA512, "90693936"},
		{1111111109, SHA1, "07081804"}, {1111111109, SHA256, "68084774"}, {1111111109, SHA512, "25091201"},
		{1111111111, SHA1, "14050471"}, {1111111111, SHA256, "67062674"}, {1111111111, SHA512, "99943326"},
		{1234567890, SHA1, "89005924"}, {1234567890, SHA256, "91819424"}, {1234567890, SHA512, "93441116"},
		{2000000000, SHA1, "69279037"}, {2000000000, SHA256, "90698825"}, {2000000000, SHA512, "38618901"},
		{20000000000, SHA1, "65353130"}, {20000000000, SHA256, "77737706"}, {20000000000, SHA512, "47863826"},
	}
	for _, tt := range tests {
		t.Run(string(tt.alg)+"/"+time.Unix(tt.unix, 0).UTC().Format(time.RFC3339), func(t *testing.T) {
			h, err := NewHMAC([]byte(seeds[tt.alg]), Config{Algorithm: tt.alg, Alphabet: Digits, Length: 8})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Unix(tt.unix, 0)
			if got, err := h.Generate(now); err != nil || got != tt.want {
				t.Fatalf("Generate(%d) = %q, %v; want %q", tt.unix, got, err, tt.want)
			}
			m, err := h.Match(tt.want, now, 0)
			if err != nil || m.Step != tt.unix/30 || m.Offset != 0 {
				t.Fatalf("Match(%q) = %+v, %v; want step %d", tt.want, m, err, tt.unix/30)
			}
			// Six digits are the low six of the eight (RFC 4226 truncation).
			h6, _ := NewHMAC([]byte(seeds[tt.alg]), Config{Algorithm: tt.alg, Alphabet: Digits, Length: 6})
			if got, _ := h6.Generate(now); got != tt.want[2:] {
				t.Fatalf("6-digit Generate(%d) = %q; want %q", tt.unix, got, tt.want[2:])
			}
		})
	}
}

var testSeed = []byte("0123456789abcdef0123456789abcdef")

func TestNewHMACRefuses(t *testing.T) {
	tests := []struct {
		name string
		seed []byte
		cfg  Config
		want string
	}{
		{"short seed", []byte("short"), Config{}, "invalid seed: too short"},
		{"long seed", make([]byte, MaxHMACSeedBytes+1), Config{}, "invalid seed: longer than"},
		{"invalid algorithm", testSeed, Config{Algorithm: "md5"}, "invalid algorithm"},
		{"fractional period", testSeed, Config{Period: 1500 * time.Millisecond}, "whole number of seconds"},
		{"negative period", testSeed, Config{Period: -time.Second}, "whole number of seconds"},
		{"one-character alphabet", testSeed, Config{Alphabet: "x"}, "want 2.."},
		{"repeated character", testSeed, Config{Alphabet: "aab"}, "repeats"},
		{"control character", testSeed, Config{Alphabet: "ab\n"}, "control character"},
		{"invalid UTF-8", testSeed, Config{Alphabet: "ab\xff"}, "UTF-8"},
		{"huge alphabet", testSeed, Config{Alphabet: bigAlphabet(MaxAlphabet + 1)}, "want 2.."},
		{"too long", testSeed, Config{Length: MaxLength + 1}, "out of range"},
		{"negative length", testSeed, Config{Length: -1}, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewHMAC(tt.seed, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewHMAC = %v; want error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), string(testSeed)) {
				t.Fatalf("error %q contains the seed", err)
			}
		})
	}
}

func bigAlphabet(n int) string {
	var b strings.Builder
	for r := rune(0x4e00); b.Len() < 3*n; r++ {
		b.WriteRune(r)
	}
	return b.String()
}

func TestHMACAlphabets(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		length   int
		alphabet string
	}{
		{"default", Config{}, DefaultLength, Alphanumeric},
		{"digits default length", Config{Alphabet: Digits}, 6, Digits},
		{"digits unbiased 10", Config{Alphabet: Digits, Length: 10}, 10, Digits},
		{"hex sha1", Config{Alphabet: "0123456789abcdef", Length: 32, Algorithm: SHA1}, 32, "0123456789abcdef"},
		{"unicode", Config{Alphabet: "αβγδεζηθ😀", Length: 64}, 64, "αβγδεζηθ😀"},
		{"large alphabet", Config{Alphabet: bigAlphabet(1000), Length: 8}, 8, bigAlphabet(1000)},
		{"binary", Config{Alphabet: "01", Length: 64, Algorithm: SHA512}, 64, "01"},
	}
	now := time.Unix(1_700_000_000, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := NewHMAC(testSeed, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			code, err := h.Generate(now)
			if err != nil {
				t.Fatal(err)
			}
			if n := utf8.RuneCountInString(code); n != tt.length {
				t.Fatalf("Generate = %q (%d characters); want %d", code, n, tt.length)
			}
			for _, r := range code {
				if !strings.ContainsRune(tt.alphabet, r) {
					t.Fatalf("Generate = %q; %q is not in the alphabet", code, r)
				}
			}
			next, _ := h.Generate(now.Add(h.Period()))
			if next == code {
				t.Fatalf("codes of consecutive steps are equal: %q", code)
			}
			if _, err := h.Match(code, now, 0); err != nil {
				t.Fatalf("Match(Generate(now)) = %v", err)
			}
		})
	}
}

// TestHMACUnbiased checks character frequencies for alphabets whose size
// does not divide 256. Reducing a byte modulo 200 without rejection would
// give the first 56 characters twice the probability of the others; modulo
// 3 would give "a" 86/256 instead of 85/256 of the draws.
func TestHMACUnbiased(t *testing.T) {
	tests := []struct {
		name     string
		alphabet string
		maxDev   float64 // largest relative deviation of a group's mean count
	}{
		{"three", "abc", 0.004},
		{"two hundred", bigAlphabet(200), 0.05},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := NewHMAC(testSeed, Config{Alphabet: tt.alphabet, Length: 64})
			if err != nil {
				t.Fatal(err)
			}
			runes := []rune(tt.alphabet)
			index := map[rune]int{}
			for i, r := range runes {
				index[r] = i
			}
			counts := make([]int, len(runes))
			total := 0
			for step := range int64(3000) {
				code, err := h.CodeAt(step)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range code {
					counts[index[r]]++
					total++
				}
			}
			// Group the characters a modulo bias would favour (256 mod n
			// of them) against the rest.
			favoured := 256 % len(runes)
			mean := func(c []int) float64 {
				s := 0
				for _, v := range c {
					s += v
				}
				return float64(s) / float64(len(c))
			}
			want := float64(total) / float64(len(runes))
			for _, g := range [][]int{counts[:favoured], counts[favoured:]} {
				if dev := mean(g)/want - 1; dev > tt.maxDev || dev < -tt.maxDev {
					t.Errorf("mean count = %.1f; want %.1f ± %.1f%%", mean(g), want, 100*tt.maxDev)
				}
			}
		})
	}
}

func TestHMACMatchWindow(t *testing.T) {
	h, err := NewHMAC(testSeed, Config{Period: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_010, 0) // step 56666667, which starts at ...000 010? see below
	cur := h.Step(now)
	tests := []struct {
		name    string
		step    int64
		window  int
		wantOff int
		wantErr error
	}{
		{"current", cur, 1, 0, nil},
		{"previous", cur - 1, 1, -1, nil},
		{"next", cur + 1, 1, 1, nil},
		{"two back, window 1", cur - 2, 1, 0, ErrNoMatch},
		{"two back, window 2", cur - 2, 2, -2, nil},
		{"previous, window 0", cur - 1, 0, 0, ErrNoMatch},
		{"negative window is 0", cur + 1, -3, 0, ErrNoMatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, err := h.CodeAt(tt.step)
			if err != nil {
				t.Fatal(err)
			}
			m, err := h.Match(code, now, tt.window)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Match(step %d, window %d) = %v; want %v", tt.step, tt.window, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if m.Offset != tt.wantOff || m.Step != tt.step {
				t.Fatalf("Match(step %d) = %+v; want offset %d", tt.step, m, tt.wantOff)
			}
			if want := h.StepStart(tt.step + int64(max(tt.window, 0)) + 1); !m.Expires.Equal(want) {
				t.Fatalf("Match expires %v; want %v", m.Expires, want)
			}
		})
	}
	if _, err := h.Match("abcdefghijkl", now, MaxWindow+1); err == nil || errors.Is(err, ErrNoMatch) {
		t.Errorf("Match(window %d) = %v; want a window error", MaxWindow+1, err)
	}
	var zero HMAC // not made by NewHMAC: an error, not a panic
	if _, err := zero.Match("", now, 1); err == nil || errors.Is(err, ErrNoMatch) {
		t.Errorf("zero HMAC Match = %v; want an error", err)
	}
	if _, err := zero.Generate(now); err == nil {
		t.Error("zero HMAC Generate = nil error; want an error")
	}
	if got := zero.Entropy(); got != 0 {
		t.Errorf("zero HMAC Entropy() = %v; want 0", got)
	}
	for _, bad := range []string{"", "short", strings.Repeat("a", 13), strings.Repeat("é", 12), strings.Repeat("a", 1000)} {
		if _, err := h.Match(bad, now, 1); !errors.Is(err, ErrNoMatch) {
			t.Errorf("Match(%q) = %v; want ErrNoMatch", bad, err)
		}
	}
}

func TestHMACStepAndEpoch(t *testing.T) {
	epoch := time.Unix(1_000_000_000, 0)
	h, err := NewHMAC(testSeed, Config{Period: 60 * time.Second, Epoch: epoch})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		at   time.Time
		want int64
	}{
		{epoch, 0},
		{epoch.Add(59*time.Second + 999*time.Millisecond), 0},
		{epoch.Add(60 * time.Second), 1},
		{epoch.Add(-time.Nanosecond), -1},
		{epoch.Add(-60 * time.Second), -1},
		{epoch.Add(-61 * time.Second), -2},
	}
	for _, tt := range tests {
		if got := h.Step(tt.at); got != tt.want {
			t.Errorf("Step(%v) = %d; want %d", tt.at.Sub(epoch), got, tt.want)
		}
	}
}

// TestHMACReferenceVectors pins the unbiased mapping to values computed by
// an independent Python implementation of the construction (hmac, struct):
// block i = HMAC(seed, step as 8 bytes big-endian || byte(i)); draw 1 byte
// (2 bytes big-endian above 256 characters), reject values at or above
// the largest multiple of the alphabet size, index by the value modulo it.
func TestHMACReferenceVectors(t *testing.T) {
	var cjk300 strings.Builder
	for i := range 300 {
		cjk300.WriteRune(rune(0x4e00 + i))
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"default", Config{}, "305b4lLC2dTc"},
		{"two-byte draws", Config{Algorithm: SHA512, Alphabet: cjk300.String(), Length: 8}, "仲产乲仺丷乤乻份"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := mustHMAC(t, string(testSeed), tt.cfg)
			if got, err := h.Generate(time.Unix(1_700_000_000, 0)); err != nil || got != tt.want {
				t.Fatalf("Generate(1700000000) = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
