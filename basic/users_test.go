package basic_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/m2mkit/m2m/basic"
)

// Published hashes: bcrypt from the OpenBSD/John the Ripper test set
// ("U*U", cost 5), argon2id from the reference implementation's test.c
// ("password", salt "somesalt", t=2, m=256 KiB, p=1).
const (
	bcryptUU     = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
	argon2idPass = "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"
)

func TestHtpasswdAuthenticate(t *testing.T) {
	h, err := basic.NewHtpasswd(map[string]string{
		"a": bcryptUU,
		"b": "$2b$" + strings.TrimPrefix(bcryptUU, "$2a$"),
		"y": "$2y$" + strings.TrimPrefix(bcryptUU, "$2a$"),
		"z": argon2idPass,
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		user, pass string
		want       bool
	}{
		{"a", "U*U", true},
		{"b", "U*U", true},
		{"y", "U*U", true},
		{"z", "password", true},
		{"a", "U*U*", false},
		{"a", "u*u", false},
		{"a", "", false},
		{"z", "passwore", false},
		{"z", "password ", false},
		{"nobody", "U*U", false},
		{"", "", false},
	}
	for _, tt := range tests {
		ok, err := h.Authenticate(context.Background(), tt.user, tt.pass)
		if err != nil || ok != tt.want {
			t.Errorf("Authenticate(%q, %q) = %v, %v; want %v, nil", tt.user, tt.pass, ok, err, tt.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if ok, err := h.Authenticate(ctx, "a", "U*U"); ok || err == nil {
		t.Errorf("Authenticate(canceled ctx) = %v, %v; want false, context.Canceled", ok, err)
	}
}

func TestHashPasswordRoundTrip(t *testing.T) {
	bc, err := basic.HashBcrypt("s3cret:with:colons", 4)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := basic.HashArgon2id("s3cret:with:colons", &basic.Argon2idParams{Memory: 64, Time: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(bc, "$2a$04$") || !strings.HasPrefix(a2, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hashes %q, %q; want $2a$04$… and $argon2id$v=19$m=64,t=1,p=1$…", bc, a2)
	}
	h, err := basic.NewHtpasswd(map[string]string{"bc": bc, "a2": a2})
	if err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"bc", "a2"} {
		if ok, _ := h.Authenticate(context.Background(), user, "s3cret:with:colons"); !ok {
			t.Errorf("Authenticate(%q, right password) = false; want true", user)
		}
		if ok, _ := h.Authenticate(context.Background(), user, "s3cret:with:colon"); ok {
			t.Errorf("Authenticate(%q, wrong password) = true; want false", user)
		}
	}
	if again, _ := basic.HashArgon2id("s3cret:with:colons", &basic.Argon2idParams{Memory: 64, Time: 1}); again == a2 {
		t.Errorf("HashArgon2id twice gave the same hash; want a fresh salt")
	}
}

func TestHashPasswordErrors(t *testing.T) {
	if _, err := basic.HashPassword(strings.Repeat("x", 73)); err == nil {
		t.Error("HashPassword(73 bytes) = nil error; want an error")
	}
	if _, err := basic.HashBcrypt("x", 3); err == nil {
		t.Error("HashBcrypt(cost 3) = nil error; want an error")
	}
	if _, err := basic.HashBcrypt("x", basic.MaxBcryptCost+1); err == nil {
		t.Error("HashBcrypt(cost too high) = nil error; want an error")
	}
	if _, err := basic.HashArgon2id("x", &basic.Argon2idParams{Memory: basic.MaxArgon2idMemory + 1}); err == nil {
		t.Error("HashArgon2id(memory too high) = nil error; want an error")
	}
	if _, err := basic.HashArgon2id("x", &basic.Argon2idParams{Memory: 64, Time: 1, KeyLen: 8}); err == nil {
		t.Error("HashArgon2id(8-byte hash) = nil error; want an error")
	}
}

func TestNewHtpasswdErrors(t *testing.T) {
	tests := map[string]map[string]string{
		"apr1":             {"u": "$apr1$abcdefgh$0123456789abcdefghijkl"},
		"sha":              {"u": "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="},
		"plain":            {"u": "password"},
		"bcrypt 2x":        {"u": "$2x$" + strings.TrimPrefix(bcryptUU, "$2a$")},
		"bcrypt truncated": {"u": bcryptUU[:59]},
		"bcrypt cost 31":   {"u": "$2a$31$" + bcryptUU[7:]},
		"argon2i":          {"u": strings.Replace(argon2idPass, "argon2id", "argon2i", 1)},
		"argon2id v=16":    {"u": strings.Replace(argon2idPass, "v=19", "v=16", 1)},
		"argon2id no v":    {"u": strings.Replace(argon2idPass, "v=19$", "", 1)},
		"argon2id order":   {"u": strings.Replace(argon2idPass, "m=256,t=2", "t=2,m=256", 1)},
		"argon2id padded":  {"u": argon2idPass + "="},
		"argon2id p=0":     {"u": strings.Replace(argon2idPass, "p=1", "p=0", 1)},
		"argon2id p=256":   {"u": strings.Replace(argon2idPass, "p=1", "p=256", 1)},
		"argon2id m=1":     {"u": strings.Replace(argon2idPass, "m=256", "m=1", 1)},
		"argon2id m huge":  {"u": strings.Replace(argon2idPass, "m=256", "m=4294967295", 1)},
		"argon2id t=0":     {"u": strings.Replace(argon2idPass, "t=2", "t=0", 1)},
		"argon2id t=02":    {"u": strings.Replace(argon2idPass, "t=2", "t=02", 1)},
		"argon2id short":   {"u": "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$AAAA"},
		"argon2id keyid":   {"u": strings.Replace(argon2idPass, "p=1", "p=1,keyid=x", 1)},
		"user with colon":  {"a:b": bcryptUU},
		"empty user":       {"": bcryptUU},
		"user control":     {"a\tb": bcryptUU},
	}
	for name, m := range tests {
		t.Run(name, func(t *testing.T) {
			if h, err := basic.NewHtpasswd(m); err == nil {
				t.Errorf("NewHtpasswd(%q) = %v, nil; want an error", m, h)
			}
		})
	}
}

func TestParseHtpasswd(t *testing.T) {
	good := "# users\n\nalice:" + bcryptUU + "\r\nbob:" + argon2idPass + "\n"
	h, err := basic.ParseHtpasswd(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if h.Len() != 2 {
		t.Fatalf("Len() = %d; want 2", h.Len())
	}
	if ok, _ := h.Authenticate(context.Background(), "bob", "password"); !ok {
		t.Error("Authenticate(bob) = false; want true")
	}
	bad := map[string]string{
		"no colon":     "alice\n",
		"duplicate":    "alice:" + bcryptUU + "\nalice:" + bcryptUU + "\n",
		"md5":          "alice:$apr1$abcdefgh$0123456789abcdefghijkl\n",
		"long line":    "alice:" + strings.Repeat("x", 5000) + "\n",
		"invalid user": "\xff:" + bcryptUU + "\n",
	}
	for name, in := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := basic.ParseHtpasswd(strings.NewReader(in)); err == nil {
				t.Errorf("ParseHtpasswd(%.40q) = nil error; want an error", in)
			} else if strings.Contains(err.Error(), "CCCCCCCC") {
				t.Errorf("ParseHtpasswd error %q contains the hash", err)
			}
		})
	}
}

func TestLoadHtpasswd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(path, []byte("alice:"+bcryptUU+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := basic.LoadHtpasswd(path)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := h.Authenticate(context.Background(), "alice", "U*U"); !ok {
		t.Error("Authenticate(alice) = false; want true")
	}
	if _, err := basic.LoadHtpasswd(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("LoadHtpasswd(missing file) = nil error; want an error")
	}
}

// TestBcryptLongPassword pins what the MaxBcryptPassword doc promises: a
// stored bcrypt hash is checked against the first 72 bytes of a longer
// password (as Apache and OpenBSD do), and the 72nd byte still counts.
func TestBcryptLongPassword(t *testing.T) {
	pw := strings.Repeat("p", basic.MaxBcryptPassword)
	hash, err := basic.HashBcrypt(pw, 4)
	if err != nil {
		t.Fatal(err)
	}
	h, err := basic.NewHtpasswd(map[string]string{"u": hash})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, pass string
		want       bool
	}{
		{"exact", pw, true},
		{"longer, same first 72 bytes", pw + "extra", true},
		{"72nd byte differs", pw[:71] + "q", false},
		{"71 bytes", pw[:71], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := h.Authenticate(context.Background(), "u", tt.pass)
			if err != nil || ok != tt.want {
				t.Errorf("Authenticate(u, %d bytes) = %v, %v; want %v, nil", len(tt.pass), ok, err, tt.want)
			}
		})
	}
}
