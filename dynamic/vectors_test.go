package dynamic

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/internal/vectors"
)

type debugBuild struct {
	Outcome string  `json:"outcome"`
	Panic   *string `json:"panic"`
}

type randomChoices struct {
	BaseSeparatorIndex *uint32 `json:"base_separator_index"`
	BaseInt            *uint32 `json:"base_int"`
	UUIDInt            *uint32 `json:"uuid_int"`
	UUIDSeparatorIndex *uint32 `json:"uuid_separator_index"`
}

type encodeInput struct {
	APIKey               string        `json:"api_key"`
	NowMS                int64         `json:"now_ms"`
	RandCharStrRequested *string       `json:"rand_char_str_requested"`
	RandCharStrEffective string        `json:"rand_char_str_effective"`
	UUID                 *string       `json:"uuid"`
	RandomChoices        randomChoices `json:"random_choices"`
	RNGCallOrder         []string      `json:"rng_call_order"`
}

type encodeExpected struct {
	Outcome   string  `json:"outcome"`
	Token     *string `json:"token"`
	Plaintext *string `json:"plaintext"`
	Panic     *string `json:"panic"`
}

type decodeInput struct {
	Token                     string  `json:"token"`
	PlaintextIfStandardBase64 *string `json:"plaintext_if_standard_base64"`
	APIKey                    string  `json:"api_key"`
	NowMS                     int64   `json:"now_ms"`
	RandCharStr               *string `json:"rand_char_str"`
	RandCharStrEffective      string  `json:"rand_char_str_effective"`
	CheckUUID                 bool    `json:"check_uuid"`
	ToleranceMS               int64   `json:"tolerance_ms"`
}

type decodeExpected struct {
	Outcome   string `json:"outcome"`
	Valid     bool   `json:"valid"`
	UUID      string `json:"uuid"`
	AgeMS     *int64 `json:"age_ms"`
	Status    string `json:"status"`
	StatusKey string `json:"status_key"`
	HasUser   bool   `json:"has_user"`
}

type nodeEncodeInput struct {
	APIKey              string        `json:"api_key"`
	NowMS               int64         `json:"now_ms"`
	UUID                *string       `json:"uuid"`
	RandChars           string        `json:"rand_chars"`
	RandomChoices       randomChoices `json:"random_choices"`
	MathRandomValuesFed []float64     `json:"math_random_values_fed"`
	RoundtripDecode     struct {
		NowMS       int64   `json:"now_ms"`
		RandCharStr *string `json:"rand_char_str"`
		RandChars   string  `json:"rand_chars"`
		CheckUUID   bool    `json:"check_uuid"`
		ToleranceMS int64   `json:"tolerance_ms"`
	} `json:"roundtrip_decode"`
}

type nodeDecodeResult struct {
	Outcome string `json:"outcome,omitempty"`
	Valid   bool   `json:"valid"`
	Status  string `json:"status"`
	Age     int64  `json:"age"`
	UUID    string `json:"uuid"`
	HasUser bool   `json:"hasUser"`
}

type nodeEncodeExpected struct {
	Outcome   string           `json:"outcome"`
	Token     string           `json:"token"`
	Plaintext string           `json:"plaintext"`
	Rust      decodeExpected   `json:"rust_decode_at_now_plus_100ms"`
	Node      nodeDecodeResult `json:"node_decode_at_now_plus_100ms"`
}

type nodeDecodeInput struct {
	Token       string `json:"token"`
	APIKey      string `json:"api_key"`
	NowMS       int64  `json:"now_ms"`
	CheckUUID   bool   `json:"check_uuid"`
	RandChars   string `json:"rand_chars"`
	ToleranceMS int64  `json:"tolerance_ms"`
}

type nodeDecodeExpected struct {
	Outcome string           `json:"outcome"`
	Node    nodeDecodeResult `json:"node_decode"`
}

// effectiveChars applies the crate's setter: nil means not called.
func effectiveChars(requested *string) string {
	if requested == nil {
		return DefaultRandChars
	}
	return CrateRandChars(*requested)
}

// feeder returns draws in the order the vector lists them, checking that
// the encoder asks for them with a sensible bound.
func feeder(t testing.TB, order []string, rc randomChoices) (draw func(uint32) (uint32, error), used func() int) {
	t.Helper()
	var vals []uint32
	for _, o := range order {
		_, purpose, ok := strings.Cut(o, "-> ")
		var v *uint32
		switch {
		case !ok:
		case purpose == "base separator":
			v = rc.BaseSeparatorIndex
		case purpose == "base int":
			v = rc.BaseInt
		case purpose == "uuid int":
			v = rc.UUIDInt
		case purpose == "uuid separator":
			v = rc.UUIDSeparatorIndex
		}
		if v == nil {
			t.Fatalf("rng_call_order entry %q: unknown purpose or no random choice", o)
		}
		vals = append(vals, *v)
	}
	n := 0
	return func(max uint32) (uint32, error) {
			if n >= len(vals) {
				t.Fatalf("encoder took draw %d; the vector lists %d", n+1, len(vals))
			}
			v := vals[n]
			n++
			if v >= max {
				t.Fatalf("draw %d = %d; encoder bound %d", n, v, max)
			}
			return v, nil
		}, func() int {
			return n
		}
}

// drawReader yields the big-endian u32 of each value, the bytes randInt
// reads.
type drawReader struct{ vals []uint32 }

func (d *drawReader) Read(p []byte) (int, error) {
	if len(p) != 4 || len(d.vals) == 0 {
		return 0, errTestRand
	}
	binary.BigEndian.PutUint32(p, d.vals[0])
	d.vals = d.vals[1:]
	return 4, nil
}

var errTestRand = &testRandError{}

type testRandError struct{}

func (*testRandError) Error() string { return "test: no more draws" }

func checkDecode(t testing.TB, name string, got Result, want decodeExpected) {
	t.Helper()
	if got.Valid != want.Valid || got.UUID != want.UUID || string(got.Status) != want.StatusKey ||
		got.Status.CrateName() != want.Status || got.HasUser() != want.HasUser || (want.Outcome == "accept") != got.Valid {
		t.Errorf("%s = {valid %v, uuid %q, status %s/%s, has_user %v}; want {valid %v, uuid %q, status %s/%s, has_user %v, outcome %s}",
			name, got.Valid, got.UUID, got.Status.CrateName(), got.Status, got.HasUser(),
			want.Valid, want.UUID, want.Status, want.StatusKey, want.HasUser, want.Outcome)
	}
	switch {
	case want.AgeMS == nil && got.AgeKnown:
		t.Errorf("%s age = %d; want none", name, got.AgeMS)
	case want.AgeMS != nil && (!got.AgeKnown || got.AgeMS != *want.AgeMS):
		t.Errorf("%s age = %d (known %v); want %d", name, got.AgeMS, got.AgeKnown, *want.AgeMS)
	}
}

// checkStrict asserts the strict-mode promises for a token that quirks
// mode decoded to q: an accepted token was accepted by the crate's release
// build, its age is within the tolerance, it has a UUID when one is
// required, and the debug build does not panic on it.
func checkStrict(t testing.TB, s, q Result, p *compatParams, debugPanics bool) {
	t.Helper()
	if !s.Valid {
		return
	}
	switch {
	case !q.Valid:
		t.Errorf("strict decode accepted a token the crate rejects (%s)", q.Status)
	case !s.AgeKnown || s.AgeMS < -p.tolMS || s.AgeMS > p.tolMS:
		t.Errorf("strict decode accepted age %d (known %v); tolerance %d", s.AgeMS, s.AgeKnown, p.tolMS)
	case p.checkUUID && s.UUID == "":
		t.Errorf("strict decode accepted a token without the required UUID")
	case debugPanics:
		t.Errorf("strict decode accepted a token the crate's debug build panics on")
	}
}

func TestVectorsDynamicToken(t *testing.T) {
	vectors.Run(t, "dynamic_token", dynamicTokenVector)
}

// FuzzVectorsDynamicToken runs the dynamic-token harness on mutated vectors: it must never
// panic (see [vectors.Fuzz]).
func FuzzVectorsDynamicToken(f *testing.F) {
	vectors.Fuzz(f, "dynamic_token", dynamicTokenVector)
}

func dynamicTokenVector(t testing.TB, f *vectors.File, v *vectors.Vector) {
	switch v.Op {
	case "encode":
		var in encodeInput
		var want encodeExpected
		var debug *debugBuild
		var consumed *int
		vectors.MustDecode(t, v.Input, &in)
		vectors.MustDecode(t, v.Expected, &want)
		vectors.MustDecode(t, v.Extra["expected_debug_build"], &debug)
		vectors.MustDecode(t, v.Extra["rng_draws_consumed"], &consumed)
		if got := effectiveChars(in.RandCharStrRequested); got != in.RandCharStrEffective {
			t.Errorf("CrateRandChars(%v) = %q; want %q", in.RandCharStrRequested, got, in.RandCharStrEffective)
		}
		p := &compatParams{key: in.APIKey, chars: []rune(in.RandCharStrEffective), tolMS: 300000, quirks: true}
		draw, used := feeder(t, in.RNGCallOrder, in.RandomChoices)
		uuid := ""
		if in.UUID != nil {
			uuid = *in.UUID
		}
		tok, err := encodeCompat(p, in.NowMS, uuid, in.UUID != nil, draw)
		if want.Outcome == "reject" {
			if err == nil {
				t.Fatalf("encodeCompat = %q; want an error (crate panics: %v)", tok, want.Panic)
			}
			return
		}
		if want.Token == nil {
			t.Fatalf("outcome accept without a token")
		}
		if err != nil {
			t.Fatalf("encodeCompat: %v; want %q", err, *want.Token)
		}
		if tok != *want.Token {
			t.Errorf("encodeCompat = %q; want %q", tok, *want.Token)
		}
		if got := DecodeBase64(tok); want.Plaintext != nil && got != *want.Plaintext {
			t.Errorf("DecodeBase64(token) = %q; want %q", got, *want.Plaintext)
		}
		if consumed != nil && used() != *consumed {
			t.Errorf("draws consumed = %d; want %d", used(), *consumed)
		}
		// Strict encoding refuses what its own strict verifier would not
		// accept (a key that collides with the timestamp, a dropped uuid).
		sp := *p
		sp.quirks, sp.checkUUID = false, in.UUID != nil
		selfOK := decodeCompat(tok, &sp, in.NowMS).Valid
		var vals []uint32
		for _, x := range []*uint32{in.RandomChoices.BaseSeparatorIndex, in.RandomChoices.BaseInt, in.RandomChoices.UUIDInt, in.RandomChoices.UUIDSeparatorIndex} {
			if x != nil {
				vals = append(vals, *x)
			}
		}
		c := &Compat{APIKey: m2m.Secret(in.APIKey), RandChars: in.RandCharStrEffective, Now: fixedMS(in.NowMS), Rand: &drawReader{vals}}
		stok, err := c.Encode(uuid)
		switch {
		case err == nil && !selfOK && !strings.ContainsAny(uuid, "ABCDEF"):
			t.Errorf("strict Encode = %q; want an error (its own verifier rejects the token)", stok)
		case err == nil && decodeCompat(stok, &sp, in.NowMS).Valid != true:
			t.Errorf("strict Encode = %q, which strict decode refuses", stok)
		case err != nil && selfOK:
			t.Errorf("strict Encode: %v; want %q", err, tok)
		case err == nil && selfOK && stok != tok:
			t.Errorf("strict Encode = %q; want %q", stok, tok)
		case err == nil && debug != nil && debug.Outcome == "reject":
			t.Errorf("strict Encode = %q; want an error (the crate's debug build panics: %v)", stok, debug.Panic)
		}
	case "decode":
		var in decodeInput
		var want decodeExpected
		var debug *debugBuild
		var encVec *string
		vectors.MustDecode(t, v.Input, &in)
		vectors.MustDecode(t, v.Expected, &want)
		vectors.MustDecode(t, v.Extra["expected_debug_build"], &debug)
		vectors.MustDecode(t, v.Extra["encode_vector"], &encVec)
		if n, ok := v.Extra["note"]; ok {
			var note string
			vectors.MustDecode(t, n, &note)
		}
		for k := range v.Extra {
			switch k {
			case "expected_debug_build", "encode_vector", "note":
			default:
				t.Fatalf("unknown vector field %q", k)
			}
		}
		if got := effectiveChars(in.RandCharStr); got != in.RandCharStrEffective {
			t.Errorf("CrateRandChars(%v) = %q; want %q", in.RandCharStr, got, in.RandCharStrEffective)
		}
		pt := DecodeBase64(in.Token)
		if in.PlaintextIfStandardBase64 != nil && pt != *in.PlaintextIfStandardBase64 || in.PlaintextIfStandardBase64 == nil && pt != "" {
			t.Errorf("DecodeBase64(%q) = %q; want %v", in.Token, pt, in.PlaintextIfStandardBase64)
		}
		p := &compatParams{key: in.APIKey, chars: []rune(in.RandCharStrEffective), checkUUID: in.CheckUUID, tolMS: in.ToleranceMS, quirks: true}
		q := decodeCompat(in.Token, p, in.NowMS)
		checkDecode(t, "decodeCompat(quirks)", q, want)
		// The same through the public API, where it can express the
		// options ("" means the default there; a zero tolerance is
		// NoTolerance).
		if in.RandCharStr == nil || *in.RandCharStr != "" {
			tol := time.Duration(in.ToleranceMS) * time.Millisecond
			if tol == 0 {
				tol = NoTolerance
			}
			c := &Compat{APIKey: m2m.Secret(in.APIKey), Tolerance: tol,
				CheckUUID: in.CheckUUID, Quirks: true, Now: fixedMS(in.NowMS)}
			if in.RandCharStr != nil {
				c.RandChars = *in.RandCharStr
			}
			checkDecode(t, "Compat{Quirks: true}.Decode", c.Decode(in.Token), want)
		}
		sp := *p
		sp.quirks = false
		s := decodeCompat(in.Token, &sp, in.NowMS)
		debugPanics := debug != nil && debug.Panic != nil
		checkStrict(t, s, q, &sp, debugPanics)
		// A genuine token that the crate accepts without any of its
		// bypasses is accepted in strict mode too.
		if encVec != nil && q.Valid && q.AgeKnown && (q.UUID != "" || !in.CheckUUID) && !debugPanics && !s.Valid {
			t.Errorf("strict decode refused a genuine token: %s", s.Status)
		}
	case "node_encode":
		var in nodeEncodeInput
		var want nodeEncodeExpected
		vectors.MustDecode(t, v.Input, &in)
		vectors.MustDecode(t, v.Expected, &want)
		if got := DecodeBase64(want.Token); got != want.Plaintext {
			t.Errorf("DecodeBase64(%q) = %q; want %q", want.Token, got, want.Plaintext)
		}
		rd := in.RoundtripDecode
		p := &compatParams{key: in.APIKey, chars: []rune(effectiveChars(rd.RandCharStr)), checkUUID: rd.CheckUUID, tolMS: rd.ToleranceMS, quirks: true}
		q := decodeCompat(want.Token, p, rd.NowMS)
		checkDecode(t, "decodeCompat(quirks, node token)", q, want.Rust)
		sp := *p
		sp.quirks = false
		s := decodeCompat(want.Token, &sp, rd.NowMS)
		checkStrict(t, s, q, &sp, false)
		if q.Valid && q.AgeKnown && (q.UUID != "" || !rd.CheckUUID) && !s.Valid {
			t.Errorf("strict decode refused a Node port token: %s", s.Status)
		}
	case "node_decode":
		// The Node port's verdict on a token; the crate, and so this
		// package, must reach the same verdict and age.
		var in nodeDecodeInput
		var want nodeDecodeExpected
		vectors.MustDecode(t, v.Input, &in)
		vectors.MustDecode(t, v.Expected, &want)
		p := &compatParams{key: in.APIKey, chars: []rune(CrateRandChars(in.RandChars)), checkUUID: in.CheckUUID, tolMS: in.ToleranceMS, quirks: true}
		q := decodeCompat(in.Token, p, in.NowMS)
		age := int64(-1)
		if q.AgeKnown {
			age = q.AgeMS
		}
		if q.Valid != want.Node.Valid || age != want.Node.Age || q.Valid && q.HasUser() != want.Node.HasUser || (want.Outcome == "accept") != want.Node.Valid {
			t.Errorf("decodeCompat(quirks) = {valid %v, age %d, has_user %v}; Node port {valid %v, age %d, hasUser %v}",
				q.Valid, age, q.HasUser(), want.Node.Valid, want.Node.Age, want.Node.HasUser)
		}
		sp := *p
		sp.quirks = false
		checkStrict(t, decodeCompat(in.Token, &sp, in.NowMS), q, &sp, false)
	default:
		t.Fatalf("unknown op %q", v.Op)
	}
}

// TestCompatEncodeBoundsUUID: the vector fuzzer found that encoding a
// 64 KiB uuid in quirks mode (the harness's encodeCompat, and Compat.Encode
// with Quirks) ran for many seconds in the base-36 conversion before the
// token-length check refused the result. The encoder refuses it first.
func TestCompatEncodeBoundsUUID(t *testing.T) {
	p := &compatParams{key: "Opus;Magna-897", chars: []rune("~"), tolMS: 300000, quirks: true}
	vals := []uint32{0, 1, 2, 0}
	seq := func(uint32) (uint32, error) { v := vals[0]; vals = append(vals[1:], v); return v, nil }
	if tok, err := encodeCompat(p, 1710105367868, strings.Repeat("a", 1<<16), true, seq); err == nil {
		t.Errorf("encodeCompat(64 KiB uuid) = %.40q..., nil; want an error", tok)
	}
}
