package dynamic

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
)

// seedTokens returns every token in the vector file.
func seedTokens(f *testing.F) []string {
	b, err := os.ReadFile("testdata/dynamic_token.json")
	if err != nil {
		f.Fatal(err)
	}
	var file struct {
		Vectors []struct {
			Input    struct{ Token *string }
			Expected struct{ Token *string }
		}
	}
	if err := json.Unmarshal(b, &file); err != nil {
		f.Fatal(err)
	}
	var toks []string
	for _, v := range file.Vectors {
		for _, t := range []*string{v.Input.Token, v.Expected.Token} {
			if t != nil {
				toks = append(toks, *t)
			}
		}
	}
	return toks
}

// FuzzCompatDecode decodes arbitrary tokens in quirks and strict mode: no
// panic, strict never accepts what quirks refuses, and an accepted strict
// token keeps the strict promises.
func FuzzCompatDecode(f *testing.F) {
	for _, tok := range seedTokens(f) {
		f.Add(tok, "Opus;Magna-897", true, int64(1710105367868))
		f.Add(tok, "KrYpt0", false, int64(1710105367868))
	}
	f.Add(EncodeBase64("8tykOpus;Magna-8970mtl00%0000__0000006pbsf_0000000000000000000001%0001"), "Opus;Magna-897", true, int64(1710105367868))
	f.Fuzz(func(t *testing.T, token, key string, checkUUID bool, now int64) {
		if key == "" {
			return
		}
		p := &compatParams{key: key, chars: []rune(DefaultRandChars), checkUUID: checkUUID, tolMS: 300000, quirks: true}
		q := decodeCompat(token, p, now)
		sp := *p
		sp.quirks = false
		s := decodeCompat(token, &sp, now)
		checkStrict(t, s, q, &sp, false)
		if q.Valid && q.Status != StatusOK || !q.Valid && q.Status == StatusOK {
			t.Errorf("quirks result %+v: valid and status disagree", q)
		}
	})
}

// FuzzSealedDecode decodes arbitrary sealed tokens: no panic, and nothing
// but a token made with the key is accepted.
func FuzzSealedDecode(f *testing.F) {
	start := time.UnixMilli(1710105367868)
	s := &Sealed{Keys: []Key{{ID: "k1", Secret: testSecret}}, Now: func() time.Time { return start }}
	for _, u := range []string{"", "6061f78686f34f52da3ef464", "acde070d-8c4c-4f0d-9d8a-162843c10333"} {
		tok, err := s.Encode(u)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok)
	}
	for _, tok := range seedTokens(f) {
		f.Add(tok)
	}
	f.Fuzz(func(t *testing.T, token string) {
		r := s.Decode(token)
		if r.Valid && (r.KeyID != "k1" || !r.AgeKnown) {
			t.Errorf("Decode(%q) = %+v", token, r)
		}
		if _, err := parseSealed(token); err == nil && len(token) > MaxSealedTokenBytes {
			t.Errorf("parseSealed accepted %d bytes", len(token))
		}
	})
}

// FuzzCompatEncode encodes with arbitrary keys, uuids, separators and
// clocks: no panic, and strict encoding only returns tokens that its
// strict decoder accepts with the same UUID.
func FuzzCompatEncode(f *testing.F) {
	f.Add("Opus;Magna-897", "6061f78686f34f52da3ef464", "%.,", int64(1710105367868), uint32(7))
	f.Add("KrYpt0_δࢡබi😎☀︎⎈", "acde070d-8c4c-4f0d-9d8a-162843c10333", "∑㌀◐", int64(1710105367868), uint32(99))
	f.Add("a1", "", "%", int64(1710105368158), uint32(0))
	f.Add("k", "ééééééééééééééééééééééé", "#", int64(0), uint32(1))
	f.Fuzz(func(t *testing.T, key, uuid, chars string, now int64, seed uint32) {
		vals := []uint32{seed, seed >> 3, seed >> 7, seed >> 11, seed >> 13, seed >> 17, seed >> 19, seed >> 23}
		for _, quirks := range []bool{true, false} {
			c := &Compat{APIKey: m2m.Secret(key), RandChars: chars, Quirks: quirks, CheckUUID: uuid != "", Now: fixedMS(now), Rand: &drawReader{vals: append([]uint32(nil), vals...)}}
			tok, err := c.Encode(uuid)
			if err != nil || quirks {
				continue
			}
			r := c.Decode(tok)
			if !r.Valid || r.AgeMS != 0 || uuid != "" && r.UUID == "" {
				t.Errorf("strict Encode(%q) = %q, which decodes to %+v", uuid, tok, r)
			}
		}
	})
}
