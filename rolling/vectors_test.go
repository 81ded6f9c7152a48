package rolling

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/m2mkit/m2m/internal/vectors"
)

// TestVectorsM2MToken runs testdata/m2m_token*.json: codes produced by the
// original m2m-token 0.0.2 under CPython 3.11.
func TestVectorsM2MToken(t *testing.T) {
	vectors.Run(t, "m2m_token", m2mTokenVector)
}

// FuzzVectorsM2MToken runs the m2m-token harness on mutated vectors: it must never
// panic (see [vectors.Fuzz]).
func FuzzVectorsM2MToken(f *testing.F) {
	vectors.Fuzz(f, "m2m_token", m2mTokenVector)
}

func m2mTokenVector(t testing.TB, f *vectors.File, v *vectors.Vector) {
	switch v.Op {
	case "generate":
		vectorGenerate(t, v)
	case "verify":
		vectorVerify(t, v)
	default:
		t.Fatalf("unknown op %q", v.Op)
	}
}

type pyTypes struct {
	Seed     string `json:"seed"`
	TTL      string `json:"ttl"`
	Sequence string `json:"sequence"`
	TokenLen string `json:"token_len"`
}

type generateInput struct {
	Seed                 json.RawMessage `json:"seed"`
	TTL                  any             `json:"ttl"`
	Sequence             any             `json:"sequence"`
	TokenLen             any             `json:"token_len"`
	UTCNow               string          `json:"utcnow"`
	HostTZ               string          `json:"host_TZ"`
	HostUTCOffsetSeconds int             `json:"host_utc_offset_seconds"`
	PythonTypes          pyTypes         `json:"python_types"`
}

type generateExpected struct {
	Outcome    string  `json:"outcome"`
	Token      *string `json:"token"`
	Error      *string `json:"error"`
	ConfigName *string `json:"config_name"`
}

type generateIntermediate struct {
	TrueUnixTime               float64   `json:"true_unix_time"`
	LibraryTimestamp           float64   `json:"library_timestamp"`
	EffectiveUTCOffsetSeconds  int       `json:"effective_utc_offset_seconds"`
	SecondOfMinute             int       `json:"second_of_minute"`
	BucketStartSecondInMinute  int       `json:"bucket_start_second_in_minute"`
	SeedString                 string    `json:"seed_string"`
	SeedIntSHA512FormHexPrefix string    `json:"seed_int_sha512_form_hex_prefix"`
	FirstRandomFloats          []float64 `json:"first_random_floats"`
	ChoiceIndices              []int     `json:"choice_indices"`
}

const notPassed = "default (not passed)"

// pyArgs turns the vector's Python arguments into an M2MToken. Arguments
// of a type the original refuses become the zero value, which the Go type
// refuses in the same order.
func pyArgs(t testing.TB, seed json.RawMessage, ttl, sequence, tokenLen any, types pyTypes) *M2MToken {
	t.Helper()
	m := &M2MToken{Explicit: true, Sequence: DefaultSequence, TokenLen: DefaultTokenLen}
	m.Seed = pyStr(t, seed, types.Seed)
	if types.TTL == "int" {
		m.TTL = pyInt(t, ttl)
	}
	switch types.Sequence {
	case notPassed:
	case "str":
		s, ok := sequence.(string)
		if !ok {
			t.Fatalf("sequence %v is a %s; python_types says str", sequence, pyType(sequence))
		}
		m.Sequence = s
	default:
		m.Sequence = ""
	}
	switch types.TokenLen {
	case notPassed:
	case "int":
		m.TokenLen = pyInt(t, tokenLen)
	default:
		m.TokenLen = 0
	}
	return m
}

// pyStr is Python's str(v) for the JSON value raw of Python type typ, or
// "" when v is falsy (None, "", 0, 0.0, False, [], {}).
func pyStr(t testing.TB, raw json.RawMessage, typ string) string {
	t.Helper()
	var v any
	if err := vectors.Decode(raw, &v); err != nil {
		t.Fatalf("seed %s: %v", raw, err)
	}
	if got := pyType(v); got != typ {
		t.Fatalf("seed %s is a %s; python_types says %s", raw, got, typ)
	}
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		if !v {
			return ""
		}
	case json.Number:
		if f, err := v.Float64(); err == nil && f == 0 {
			return ""
		}
	case []any:
		if len(v) == 0 {
			return ""
		}
	case map[string]any:
		if len(v) == 0 {
			return ""
		}
	}
	s, err := pyReprJSON(raw, true)
	if err != nil {
		t.Fatalf("seed %s: %v", raw, err)
	}
	return s
}

// pyFloatRepr is Python's repr(float): the shortest round-trip digits, in
// exponent form below 1e-4 and from 1e16.
func pyFloatRepr(f float64) string {
	e := strconv.FormatFloat(f, 'e', -1, 64)
	mant, expS, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expS)
	if exp < -4 || exp >= 16 {
		sign := "+"
		if exp < 0 {
			sign, exp = "-", -exp
		}
		return mant + "e" + sign + strconv.Itoa(exp/10) + strconv.Itoa(exp%10)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

func pyInt(t testing.TB, v any) int {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("int argument %v is a %T", v, v)
	}
	i, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		// Beyond int64: only the sign matters to the original's checks and
		// to the bucket arithmetic (any TTL above 59 is the whole minute).
		if strings.HasPrefix(n.String(), "-") {
			return math.MinInt
		}
		return math.MaxInt
	}
	return int(i)
}

func parseUTCNow(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse("2006-01-02T15:04:05.999999", s)
	if err != nil {
		t.Fatalf("utcnow %q: %v", s, err)
	}
	return tm
}

func vectorGenerate(t testing.TB, v *vectors.Vector) {
	var in generateInput
	var want generateExpected
	vectors.MustDecode(t, v.Input, &in)
	vectors.MustDecode(t, v.Expected, &want)
	var inter *generateIntermediate
	if raw, ok := v.Extra["intermediate"]; ok && string(raw) != "null" {
		inter = new(generateIntermediate)
		vectors.MustDecode(t, raw, inter)
	}
	for k := range v.Extra {
		if k != "intermediate" {
			t.Fatalf("unknown vector field %q", k)
		}
	}
	m := pyArgs(t, in.Seed, in.TTL, in.Sequence, in.TokenLen, in.PythonTypes)
	m.UTCOffset = in.HostUTCOffsetSeconds
	now := parseUTCNow(t, in.UTCNow)

	got, err := m.Generate(now)
	switch want.Outcome {
	case "accept":
		if err != nil || want.Token == nil || got != *want.Token {
			t.Fatalf("Generate(%s) = %q, %v; want %q", in.UTCNow, got, err, deref(want.Token))
		}
	case "reject":
		var ce *ConfigError
		if !errors.As(err, &ce) || want.ConfigName == nil || ce.Name != *want.ConfigName {
			t.Fatalf("Generate(%s) = %q, %v; want ConfigError for %s", in.UTCNow, got, err, deref(want.ConfigName))
		}
		return
	default:
		t.Fatalf("unknown outcome %q", want.Outcome)
	}
	if inter == nil {
		return
	}
	// The debugging aids must agree too.
	seedString := m.Seed + strconv.FormatInt(m.SeedTime(now), 10) + ".0"
	if seedString != inter.SeedString {
		t.Errorf("seed string = %q; want %q", seedString, inter.SeedString)
	}
	var r mt19937
	r.seedBytes([]byte(seedString), nil)
	for i, wf := range inter.FirstRandomFloats {
		if f := r.float64(); f != wf {
			t.Errorf("random() #%d = %v; want %v", i, f, wf)
		}
	}
	// Every code (including the checked one) must verify at its own time.
	if _, err := m.Match(got, now, 0); err != nil {
		t.Errorf("Match(Generate(now), now, 0) = %v; want a match", err)
	}
}

type verifyInput struct {
	Seed                    json.RawMessage `json:"seed"`
	TTL                     any             `json:"ttl"`
	Sequence                any             `json:"sequence"`
	TokenLen                any             `json:"token_len"`
	SenderUTCNow            string          `json:"sender_utcnow"`
	SenderTZ                string          `json:"sender_TZ"`
	SenderUTCOffsetSeconds  int             `json:"sender_utc_offset_seconds"`
	ReceiverUTCNow          string          `json:"receiver_utcnow"`
	ReceiverTZ              string          `json:"receiver_TZ"`
	ReceiverUTCOffsetSecond int             `json:"receiver_utc_offset_seconds"`
	ReceiverSeed            json.RawMessage `json:"receiver_seed"`
	PresentedToken          string          `json:"presented_token"`
}

type verifyExpected struct {
	Outcome                      string `json:"outcome"`
	ReceiverToken                string `json:"receiver_token"`
	AcceptedByNaiveEqualityCheck bool   `json:"accepted_by_naive_equality_check"`
}

func vectorVerify(t testing.TB, v *vectors.Vector) {
	var in verifyInput
	var want verifyExpected
	vectors.MustDecode(t, v.Input, &in)
	vectors.MustDecode(t, v.Expected, &want)
	if len(v.Extra) != 0 {
		t.Fatalf("unknown vector fields %v", v.Extra)
	}
	// The schema has sequence and token_len always null (the defaults on
	// both sides); a value is passed to both sides as in generate.
	types := pyTypes{Seed: rawType(t, in.Seed), TTL: pyType(in.TTL), Sequence: notPassed, TokenLen: notPassed}
	if in.Sequence != nil {
		types.Sequence = pyType(in.Sequence)
	}
	if in.TokenLen != nil {
		types.TokenLen = pyType(in.TokenLen)
	}
	sender := pyArgs(t, in.Seed, in.TTL, in.Sequence, in.TokenLen, types)
	sender.UTCOffset = in.SenderUTCOffsetSeconds
	receiver := *sender
	if rawType(t, in.ReceiverSeed) != "NoneType" {
		receiver.Seed = pyStr(t, in.ReceiverSeed, rawType(t, in.ReceiverSeed))
	}
	receiver.UTCOffset = in.ReceiverUTCOffsetSecond
	sentAt, recvAt := parseUTCNow(t, in.SenderUTCNow), parseUTCNow(t, in.ReceiverUTCNow)

	presented, err := sender.Generate(sentAt)
	if err != nil || presented != in.PresentedToken {
		t.Fatalf("sender Generate(%s) = %q, %v; want %q", in.SenderUTCNow, presented, err, in.PresentedToken)
	}
	got, err := receiver.Generate(recvAt)
	if err != nil || got != want.ReceiverToken {
		t.Fatalf("receiver Generate(%s) = %q, %v; want %q", in.ReceiverUTCNow, got, err, want.ReceiverToken)
	}
	naive := in.PresentedToken == got
	if naive != want.AcceptedByNaiveEqualityCheck || naive != (want.Outcome == "accept") {
		t.Fatalf("naive check = %v; want %v (%s)", naive, want.AcceptedByNaiveEqualityCheck, want.Outcome)
	}
	// The tolerant verifier accepts a superset of the naive check.
	if _, err := receiver.Match(in.PresentedToken, recvAt, 1); naive && err != nil {
		t.Fatalf("Match(%q, %s, 1) = %v; want a match", in.PresentedToken, in.ReceiverUTCNow, err)
	}
}

// rawType is pyType of a JSON text.
func rawType(t testing.TB, raw json.RawMessage) string {
	t.Helper()
	if len(raw) == 0 {
		return "NoneType"
	}
	var v any
	if err := vectors.Decode(raw, &v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return pyType(v)
}

// pyType names the Python type a JSON value decodes to.
func pyType(v any) string {
	switch v := v.(type) {
	case nil:
		return "NoneType"
	case string:
		return "str"
	case bool:
		return "bool"
	case json.Number:
		if strings.ContainsAny(v.String(), ".eE") {
			return "float"
		}
		return "int"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	}
	return "unknown"
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
