package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/basic"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/jwtauth"
	"github.com/m2mkit/m2m/ratelimit"
	"github.com/m2mkit/m2m/secretfile"
)

// Files in the data directory.
const (
	secretName   = "secret.bin" // the HMAC signing secret, as in the recipe
	htpasswdName = "htpasswd"   // user:bcrypt-hash lines
	adminUser    = "admin"      // the user created on first boot
	maxAckBytes  = 4 << 10      // cap on the /api/ack body
	maxAckCount  = 1 << 31      // largest count accepted in one ack
)

// config is what newDevice needs; the flags of main fill it.
type config struct {
	Dir      string           // data directory; created (0700) if missing
	Htpasswd string           // password file; "" means Dir/htpasswd, created on first boot
	Out      io.Writer        // first-boot messages (the initial password); nil discards
	Logger   *slog.Logger     // nil discards
	Now      func() time.Time // nil means time.Now
	// BcryptCost is the cost of the first-boot password hash; 0 means
	// basic.DefaultBcryptCost. Tests lower it.
	BcryptCost int
}

// device is the camera: it signs device tokens with the secret in
// Dir/secret.bin, trades a password for a token at POST /api/login,
// accepts acks with a Bearer token at POST /api/ack, and shows its admin
// page to Basic auth at GET /admin.
type device struct {
	tokens *jwtauth.DeviceTokens
	users  *basic.Htpasswd
	logger *slog.Logger
	acks   atomic.Int64
}

// newDevice boots the device: it creates the data directory, the signing
// secret and (unless cfg.Htpasswd names a file) a password file with a
// random password for "admin", printed once to cfg.Out.
func newDevice(cfg config) (*device, error) {
	out, logger := cfg.Out, cfg.Logger
	if out == nil {
		out = io.Discard
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Dir == "" {
		return nil, errors.New("device: no data directory")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("device: %w", err)
	}

	secretPath := filepath.Join(cfg.Dir, secretName)
	_, statErr := os.Stat(secretPath)
	keys, err := secretfile.LoadOrCreate(secretPath, secretfile.DefaultSize)
	if err != nil {
		return nil, err
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		fmt.Fprintf(out, "device: first boot: created the signing secret %s (sha256 %s…)\n",
			secretPath, secretfile.Fingerprint(keys.Current)[:16])
	}

	htpath := cfg.Htpasswd
	if htpath == "" {
		htpath = filepath.Join(cfg.Dir, htpasswdName)
		cost := cfg.BcryptCost
		if cost == 0 {
			cost = basic.DefaultBcryptCost
		}
		if err := createAdmin(htpath, cost, out); err != nil {
			return nil, err
		}
	}
	users, err := basic.LoadHtpasswd(htpath)
	if err != nil {
		return nil, fmt.Errorf("device: %w", err)
	}
	if users.Len() == 0 {
		return nil, fmt.Errorf("device: %s has no users; add one with: m2m basic hash --user NAME", htpath)
	}
	return &device{
		tokens: &jwtauth.DeviceTokens{Keys: keys.All(), Now: cfg.Now},
		users:  users,
		logger: logger,
	}, nil
}

// createAdmin writes a password file with the user "admin" and a random
// password, unless the file exists. The password is printed once to out;
// only its bcrypt hash is stored. The file appears complete or not at all
// (written aside, then linked into place), so two devices booting from
// the same directory at once cannot see half a file.
func createAdmin(path string, cost int, out io.Writer) error {
	if _, err := os.Lstat(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return nil // exists (or cannot be checked: LoadHtpasswd will report it)
	}
	raw := make([]byte, 15)
	if _, err := rand.Read(raw); err != nil {
		return fmt.Errorf("device: %w", err)
	}
	password := base64.RawURLEncoding.EncodeToString(raw) // 120 bits, 20 characters
	hash, err := basic.HashBcrypt(password, cost)
	if err != nil {
		return fmt.Errorf("device: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".htpasswd-*")
	if err != nil {
		return fmt.Errorf("device: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = fmt.Fprintf(tmp, "%s:%s\n", adminUser, hash)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("device: writing %s: %w", tmp.Name(), err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil // another process created it first
		}
		return fmt.Errorf("device: %w", err)
	}
	fmt.Fprintf(out, "device: first boot: created user %q in %s with the password\n\n    %s\n\n"+
		"device: it is shown only this once and stored only as a bcrypt hash. To choose your own:\n"+
		"    read -rs PW && printf '%%s\\n' \"$PW\" | go run ./cmd/m2m basic hash --user %s > %s\n",
		adminUser, path, password, adminUser, path)
	return nil
}

// handler returns the device's HTTP API.
func (d *device) handler() http.Handler {
	// One failure throttle for both password checks, so guesses at
	// /api/login and /admin count together (per user name and per address).
	throttle := &ratelimit.Throttle{}
	// At most two bcrypt checks at a time, so a flood of guesses cannot
	// take every core.
	users := basic.Bounded(d.users, 2)
	login := &jwtauth.LoginHandler{Users: users, Tokens: d.tokens, Throttle: throttle, Logger: d.logger}
	bearer := &httpauth.Middleware{
		Verifiers: []m2m.Verifier{&jwtauth.TokenAuth{Realm: "camera", Check: d.tokens.CheckToken}},
		Logger:    d.logger,
	}
	admin := &httpauth.Middleware{
		Verifiers: []m2m.Verifier{&basic.Verifier{Realm: "camera admin", Users: users, Throttle: throttle, Logger: d.logger}},
		Logger:    d.logger,
	}
	mux := http.NewServeMux()
	mux.Handle("/api/login", login)
	mux.Handle("POST /api/ack", bearer.Handler(http.HandlerFunc(d.ack)))
	mux.Handle("GET /admin", admin.Handler(http.HandlerFunc(d.admin)))
	return mux
}

// ackResponse is the body of a successful POST /api/ack.
type ackResponse struct {
	User  string `json:"user"`
	Acked int64  `json:"acked"` // the count of this request
	Total int64  `json:"total"` // all acks since boot
}

// ack records that the phone's owner has seen count motion notifications.
func (d *device) ack(w http.ResponseWriter, r *http.Request) {
	p, _ := m2m.FromContext(r.Context())
	count, status, msg := parseAck(w, r)
	if msg != "" {
		httpauth.WriteJSON(w, status, httpauth.ErrorBody{Error: "invalid_request", ErrorDescription: msg})
		return
	}
	total := d.acks.Add(count)
	httpauth.WriteJSON(w, http.StatusOK, ackResponse{User: p.Subject, Acked: count, Total: total})
}

// parseAck reads {"count": N} and returns N, or a status and message for
// the refusal.
func parseAck(w http.ResponseWriter, r *http.Request) (count int64, status int, msg string) {
	bad := func(msg string) (int64, int, string) { return 0, http.StatusBadRequest, msg }
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return 0, http.StatusUnsupportedMediaType, "the body must be JSON (Content-Type: application/json)"
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAckBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return 0, http.StatusRequestEntityTooLarge, "the request body is too large"
		}
		return bad("the request body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return bad("missing count")
	}
	var req struct {
		Count json.RawMessage `json:"count"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		return bad(`the body must be a JSON object {"count": N}`)
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("trailing data after the JSON object")
	}
	if req.Count == nil || string(req.Count) == "null" {
		return bad("missing count")
	}
	n, err := strconv.ParseInt(string(req.Count), 10, 64)
	if err != nil || n < 0 || n > maxAckCount {
		return bad(fmt.Sprintf("count must be an integer from 0 to %d", int64(maxAckCount)))
	}
	return n, 0, ""
}

// adminResponse is the body of GET /admin.
type adminResponse struct {
	User        string `json:"user"`
	Acks        int64  `json:"acks"`
	Users       int    `json:"users"`
	SecretFP    string `json:"secret_sha256_prefix"`
	TokenTTLSec int64  `json:"token_ttl_seconds"`
}

// admin shows the device's state to an administrator.
func (d *device) admin(w http.ResponseWriter, r *http.Request) {
	p, _ := m2m.FromContext(r.Context())
	httpauth.WriteJSON(w, http.StatusOK, adminResponse{
		User:        p.Subject,
		Acks:        d.acks.Load(),
		Users:       d.users.Len(),
		SecretFP:    secretfile.Fingerprint(d.tokens.Keys[0])[:16],
		TokenTTLSec: int64(jwtauth.DefaultTTL / time.Second),
	})
}
