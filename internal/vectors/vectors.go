// Package vectors runs the interop test vectors of ../shared/vectors (see
// SCHEMA.md there) that each scheme package copies into its testdata
// directory. A package's TestVectors… test calls [Run] with its file prefix
// and a handler that dispatches on the vector's op.
//
// Run loads testdata/<prefix>*.json and, when the environment variable
// M2M_VECTORS_DIR is set, every <prefix>*.json in that directory too. Every
// vector runs as a subtest; a handler must fail on an op or field it does
// not understand (use [Decode], which rejects unknown fields) rather than
// skip it, and must never panic, whatever a file holds: each harness has a
// fuzz target calling [Fuzz] with its handler. After each file Run logs
// "<file>: N vectors, N passed".
package vectors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// EnvDir names the environment variable with an extra directory of vector
// files.
const EnvDir = "M2M_VECTORS_DIR"

// File is one vector file.
type File struct {
	Path string
	// Top holds the file's top-level fields other than "vectors" (secrets,
	// key sets, app descriptions), to be decoded by the handler.
	Top     map[string]json.RawMessage
	Vectors []Vector
}

// Vector is one test vector. Fields beyond the common ones (such as
// expected_debug_build or intermediate) are kept in Extra.
type Vector struct {
	Name        string
	Op          string
	Description string
	Input       json.RawMessage
	Expected    json.RawMessage
	Extra       map[string]json.RawMessage
}

// Load reads the vector files for prefix: testdata/<prefix>*.json, then
// $M2M_VECTORS_DIR/<prefix>*.json. It fails the test when no file is found
// or a file cannot be parsed.
func Load(t testing.TB, prefix string) []*File {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", prefix+"*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv(EnvDir); dir != "" {
		extra, err := filepath.Glob(filepath.Join(dir, prefix+"*.json"))
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(extra)
		paths = append(paths, extra...)
	}
	if len(paths) == 0 {
		t.Fatalf("vectors: no testdata/%s*.json", prefix)
	}
	var files []*File
	for _, p := range paths {
		f, err := ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// ReadFile parses one vector file.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var top map[string]json.RawMessage
	if err := Decode(data, &top); err != nil {
		return nil, fmt.Errorf("vectors: %s: %w", path, err)
	}
	var raw []map[string]json.RawMessage
	if err := Decode(top["vectors"], &raw); err != nil {
		return nil, fmt.Errorf("vectors: %s: vectors: %w", path, err)
	}
	delete(top, "vectors")
	f := &File{Path: path, Top: top}
	for i, m := range raw {
		v := Vector{Input: m["input"], Expected: m["expected"], Extra: map[string]json.RawMessage{}}
		for k, dst := range map[string]*string{"name": &v.Name, "op": &v.Op, "description": &v.Description} {
			if m[k] != nil {
				if err := json.Unmarshal(m[k], dst); err != nil {
					return nil, fmt.Errorf("vectors: %s: vector %d: %s: %w", path, i, k, err)
				}
			}
		}
		if v.Name == "" || v.Op == "" {
			return nil, fmt.Errorf("vectors: %s: vector %d has no name or op", path, i)
		}
		for k, val := range m {
			switch k {
			case "name", "op", "description", "input", "expected":
			default:
				v.Extra[k] = val
			}
		}
		f.Vectors = append(f.Vectors, v)
	}
	return f, nil
}

// Run loads the files for prefix and runs handle for every vector as a
// subtest named after the vector. The handler reports failures through t;
// it should t.Fatalf on an op it does not know. [Fuzz] runs the same
// handler on mutated vectors.
func Run(t *testing.T, prefix string, handle Handler) {
	t.Helper()
	for _, f := range Load(t, prefix) {
		passed := 0
		for i := range f.Vectors {
			v := &f.Vectors[i]
			if t.Run(v.Name, func(t *testing.T) { handle(t, f, v) }) {
				passed++
			}
		}
		t.Logf("%s: %d vectors, %d passed", f.Path, len(f.Vectors), passed)
	}
}

// Decode unmarshals JSON strictly: numbers become json.Number when the
// destination is an interface (some vector integers exceed 2^53), and
// unknown object fields are an error, so a vector field the handler does
// not understand fails the test instead of being ignored.
func Decode(data []byte, v any) error {
	if len(data) == 0 {
		return fmt.Errorf("vectors: missing JSON value")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("vectors: trailing data after JSON value")
	}
	return nil
}

// MustDecode is Decode that fails the test on error.
func MustDecode(t testing.TB, data []byte, v any) {
	t.Helper()
	if err := Decode(data, v); err != nil {
		t.Fatalf("vectors: decoding %.200s: %v", data, err)
	}
}
