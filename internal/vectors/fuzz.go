package vectors

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Handler runs one vector and reports through t. It must not panic on any
// content of a vector file: a field of the wrong type, a missing field, a
// huge number or a malformed string fails the vector through t; a request
// that net/http would refuse is built with [NewRequest] and expected to be
// refused with 400.
type Handler func(t testing.TB, f *File, v *Vector)

// Fuzz is the fuzz target of a harness: it loads the files for prefix as
// [Run] does, and each input picks a vector, applies two mutations to its
// fields or to the file's fixtures (delete a field, replace a value with
// null, a string, a value of another type, a huge or negative number, an
// invalid percent-escape, a long string, or the fuzzer's own JSON), and runs
// handle on the result. Mismatches are expected and ignored; a panic, or a
// handler running longer than ten seconds, fails the input.
func Fuzz(f *testing.F, prefix string, handle Handler) {
	files := Load(f, prefix)
	type ref struct{ f, v int }
	var all []ref
	for i, file := range files {
		for j := range file.Vectors {
			all = append(all, ref{i, j})
		}
	}
	for i := range all {
		f.Add(uint16(i), uint16(0), uint8(255), uint16(0), uint8(255), "") // unmutated
	}
	for i := 0; i < len(all); i += 7 {
		for op := range uint8(mutations) {
			f.Add(uint16(i), uint16(i*31+int(op)), op, uint16(i*17), uint8((int(op)+5)%mutations), "/%zz")
		}
	}
	f.Fuzz(func(t *testing.T, vec, node1 uint16, op1 uint8, node2 uint16, op2 uint8, value string) {
		r := all[int(vec)%len(all)]
		file, v, err := mutate(files[r.f], &files[r.f].Vectors[r.v], []mutation{{int(node1), op1}, {int(node2), op2}}, value)
		if err != nil {
			t.Fatal(err)
		}
		if p := RunQuietly(t, 10*time.Second, func(tb testing.TB) { handle(tb, file, v) }); p != "" {
			t.Fatalf("vector %s/%s, mutated to\ninput: %.600s\nexpected: %.300s\n%s", file.Path, v.Name, v.Input, v.Expected, p)
		}
	})
}

// RunQuietly runs fn with a testing.TB whose failures and skips are
// recorded but do not fail t, and returns "" or, when fn panics or runs
// longer than timeout, a description with the stack.
func RunQuietly(t testing.TB, timeout time.Duration, fn func(testing.TB)) string {
	q := &quietTB{TB: t}
	done := make(chan string, 1)
	go func() {
		finished := false
		defer func() {
			if finished {
				done <- ""
				return
			}
			if p := recover(); p != nil {
				done <- fmt.Sprintf("panic: %v\n%s", p, debug.Stack())
				return
			}
			done <- "" // runtime.Goexit from FailNow or SkipNow
		}()
		fn(q)
		finished = true
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case p := <-done:
		return p
	case <-timer.C:
		return fmt.Sprintf("handler still running after %v", timeout)
	}
}

// quietTB records failures instead of reporting them; FailNow and SkipNow
// end the calling goroutine as testing.T's do.
type quietTB struct {
	testing.TB
	mu      sync.Mutex
	failed  bool
	skipped bool
}

func (q *quietTB) Helper()                         {}
func (q *quietTB) Log(args ...any)                 {}
func (q *quietTB) Logf(format string, args ...any) {}
func (q *quietTB) Fail()                           { q.mu.Lock(); q.failed = true; q.mu.Unlock() }
func (q *quietTB) Error(args ...any)               { q.Fail() }
func (q *quietTB) Errorf(format string, a ...any)  { q.Fail() }
func (q *quietTB) FailNow()                        { q.Fail(); runtime.Goexit() }
func (q *quietTB) Fatal(args ...any)               { q.FailNow() }
func (q *quietTB) Fatalf(format string, a ...any)  { q.FailNow() }
func (q *quietTB) SkipNow()                        { q.mu.Lock(); q.skipped = true; q.mu.Unlock(); runtime.Goexit() }
func (q *quietTB) Skip(args ...any)                { q.SkipNow() }
func (q *quietTB) Skipf(format string, a ...any)   { q.SkipNow() }
func (q *quietTB) Failed() bool                    { q.mu.Lock(); defer q.mu.Unlock(); return q.failed }
func (q *quietTB) Skipped() bool                   { q.mu.Lock(); defer q.mu.Unlock(); return q.skipped }

// mutations is the number of mutation kinds of apply.
const mutations = 18

type mutation struct {
	node int
	op   uint8 // >= mutations: none
}

// mutate returns a copy of file and v with the mutations applied. Nodes
// are numbered depth-first over {"vector": {name, op, description, input,
// expected, extras...}, "top": {the file's fixtures}}, object members in
// key order.
func mutate(file *File, v *Vector, ms []mutation, value string) (*File, *Vector, error) {
	vec := map[string]any{"name": v.Name, "op": v.Op, "description": v.Description}
	for k, raw := range map[string]json.RawMessage{"input": v.Input, "expected": v.Expected} {
		if raw != nil {
			vec[k] = generic(raw)
		}
	}
	for k, raw := range v.Extra {
		vec[k] = generic(raw)
	}
	top := map[string]any{}
	for k, raw := range file.Top {
		top[k] = generic(raw)
	}
	var root any = map[string]any{"vector": vec, "top": top}
	for _, m := range ms {
		if m.op >= mutations {
			continue
		}
		n := count(root)
		target := 1 + m.node%(n-1) // never the root itself
		i := 0
		root, _ = walk(root, &i, target, func(x any) (any, bool) { return apply(x, m.op, value) })
	}
	rm := root.(map[string]any)
	out := &Vector{Extra: map[string]json.RawMessage{}}
	nf := &File{Path: file.Path, Top: map[string]json.RawMessage{}}
	if mv, ok := rm["vector"].(map[string]any); ok {
		for k, x := range mv {
			raw, err := json.Marshal(x)
			if err != nil {
				return nil, nil, err
			}
			switch k {
			case "name":
				out.Name = fmt.Sprint(x)
			case "op":
				s, _ := x.(string)
				out.Op = s
			case "description":
				out.Description = fmt.Sprint(x)
			case "input":
				out.Input = raw
			case "expected":
				out.Expected = raw
			default:
				out.Extra[k] = raw
			}
		}
	}
	if mt, ok := rm["top"].(map[string]any); ok {
		for k, x := range mt {
			raw, err := json.Marshal(x)
			if err != nil {
				return nil, nil, err
			}
			nf.Top[k] = raw
		}
	}
	nf.Vectors = []Vector{*out}
	return nf, &nf.Vectors[0], nil
}

func generic(raw json.RawMessage) any {
	var x any
	if err := Decode(raw, &x); err != nil {
		return string(raw)
	}
	return x
}

func count(x any) int {
	n := 1
	switch x := x.(type) {
	case map[string]any:
		for _, c := range x {
			n += count(c)
		}
	case []any:
		for _, c := range x {
			n += count(c)
		}
	}
	return n
}

// walk copies x, replacing node number target (depth-first, *i counting)
// with what fn returns; keep false removes it from its parent.
func walk(x any, i *int, target int, fn func(any) (any, bool)) (any, bool) {
	idx := *i
	*i++
	if idx == target {
		return fn(x)
	}
	switch x := x.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		ks := make([]string, 0, len(x))
		for k := range x {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		for _, k := range ks {
			if c, keep := walk(x[k], i, target, fn); keep {
				out[k] = c
			}
		}
		return out, true
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			if c, keep := walk(e, i, target, fn); keep {
				out = append(out, c)
			}
		}
		return out, true
	}
	return x, true
}

// apply is mutation op on x.
func apply(x any, op uint8, value string) (any, bool) {
	switch op {
	case 0:
		return nil, false // delete the field or element
	case 1:
		return nil, true
	case 2:
		return value, true
	case 3:
		var y any
		if Decode([]byte(value), &y) == nil {
			return y, true
		}
		return value, true
	case 4:
		return json.Number("1e400"), true
	case 5:
		return json.Number("123456789012345678901234567890123456789"), true
	case 6:
		return json.Number("-9223372036854775809"), true
	case 7:
		return json.Number("-1"), true
	case 8:
		return json.Number("0"), true
	case 9:
		return json.Number("0.5"), true
	case 10:
		return true, true
	case 11:
		return map[string]any{}, true
	case 12:
		return []any{}, true
	case 13:
		return "/%zz%" + value + "%", true
	case 14:
		return strings.Repeat("a", 1<<16), true
	case 15:
		if s, ok := x.(string); ok {
			return s + value, true
		}
		return value, true
	case 16:
		return []any{x, x}, true
	case 17:
		return "", true
	}
	return x, true
}
