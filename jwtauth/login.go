package jwtauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/clientaddr"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/internal/logattr"
	"github.com/m2mkit/m2m/ratelimit"
)

// DefaultMaxLoginBytes caps a login request body when
// LoginHandler.MaxBodyBytes is 0.
const DefaultMaxLoginBytes = 4 << 10

// MaxUserBytes is the longest user name a [LoginHandler] accepts.
const MaxUserBytes = 255

// SchemeLogin is the Scheme of the refusals a [LoginHandler] writes.
const SchemeLogin = "login"

// PasswordChecker checks user names and passwords. ok is false for an
// unknown user and for a wrong password alike; err is for technical
// failures only. Implementations compare in constant time and do the same
// work for unknown users as for known ones. *basic.Htpasswd implements it.
//
// Authenticate has this one meaning across m2m (basic.Users has the same
// method): check a user's password. Checking a raw token is CheckToken
// ([AccessTokens.CheckToken], [DeviceTokens.CheckToken]), and a
// verifier's constructor is a New… function ([NewAuth0]).
type PasswordChecker interface {
	Authenticate(ctx context.Context, user, pass string) (ok bool, err error)
}

// PasswordFunc adapts a function to [PasswordChecker].
type PasswordFunc func(ctx context.Context, user, pass string) (bool, error)

// Authenticate calls f.
func (f PasswordFunc) Authenticate(ctx context.Context, user, pass string) (bool, error) {
	return f(ctx, user, pass)
}

var _ PasswordChecker = PasswordFunc(nil)

// TokenIssuer issues a token for an authenticated subject.
// *DeviceTokens implements it.
type TokenIssuer interface {
	IssueToken(ctx context.Context, subject string) (string, error)
}

// LoginHandler trades a user name and password for a token: the device
// login of the microdot auth recipe.
//
// It answers POST with a JSON body {"user": ..., "pass": ...} (microdot's
// {"username": ..., "password": ...} is accepted too) with
// 200 {"token": ...}. Refusals are JSON error bodies (see
// httpauth.WriteRefusal): 400 malformed for a body that is not such an
// object or lacks a field, 413 too_large over MaxBodyBytes, 415 for a
// non-JSON Content-Type, 405 for other methods, 401 bad_credentials for a
// wrong user name or password, 429 throttled with Retry-After after
// repeated failures for one user name or one client address, 503 when the
// throttle cannot check or record an attempt, and 500 when Users or Tokens
// fail.
//
// A LoginHandler is safe for concurrent use once configured; it must not
// be copied after first use.
type LoginHandler struct {
	// Users checks the password (an *basic.Htpasswd, for example).
	// Required.
	Users PasswordChecker
	// Tokens issues the token (a *DeviceTokens). Required.
	Tokens TokenIssuer
	// Throttle counts failures per user name ("user:NAME") and per client
	// address ("addr:HOST") and refuses a key that failed too often, before
	// the password is checked. Nil means a private in-memory throttle with
	// ratelimit.DefaultFailureLimit.
	//
	// The user key always applies. The address key (against password
	// spraying) does not refuse a user who has logged in from that address
	// within the Throttle's SuccessMemory, so that one misbehaving client
	// behind a NAT or proxy cannot lock out the others; a user with no
	// recent success there is throttled with the address.
	//
	// Attempts for one key take turns from the throttle check to the
	// recorded failure, so a burst of concurrent guesses gets no more tries
	// than the same guesses sent one at a time; the price is that logins
	// for one user name or address (or sharing its lock stripe) wait for
	// each other's password check. Replicas sharing one Limiter each let
	// one attempt per key through at a time.
	Throttle *ratelimit.Throttle
	// TrustedProxies are the proxies whose Forwarded / X-Forwarded-For
	// headers name the client address the Throttle counts (see
	// [clientaddr.TrustedProxies.ClientAddr]); nil means the TCP peer is
	// the client and those headers are ignored.
	TrustedProxies clientaddr.TrustedProxies
	// ClientAddr, if set, returns the per-address throttle key in place of
	// clientaddr.Key of the client address (IPv4 per address, IPv6 per
	// /64); TrustedProxies is then unused.
	ClientAddr func(r *http.Request) string
	// MaxBodyBytes caps the request body; zero means
	// [DefaultMaxLoginBytes].
	MaxBodyBytes int64
	// OnError, if set, writes the response for a refused login in place of
	// the default JSON error (err is a *m2m.CredentialError whose
	// HTTPStatus is the default status, or a technical failure).
	OnError func(w http.ResponseWriter, r *http.Request, err error)
	// Logger receives an Info record per refused login (reason, remote
	// address; never the password) and an Error record per technical
	// failure. Nil discards.
	Logger *slog.Logger

	throttle ratelimit.Throttle // used when Throttle is nil

	// guesses serializes, per throttle key (striped), the throttle check,
	// the password check and the recording of a failure, so that
	// concurrent wrong passwords cannot all pass Throttle.Check before the
	// first failure is recorded (ratelimit.Throttle.Check only peeks).
	guesses ratelimit.KeyLocks
}

var _ http.Handler = (*LoginHandler)(nil)

// loginRequest is the body; pointers tell absent from empty.
type loginRequest struct {
	User     *string `json:"user"`
	Pass     *string `json:"pass"`
	Username *string `json:"username"`
	Password *string `json:"password"`
}

// LoginResponse is the body of a successful login.
type LoginResponse struct {
	Token string `json:"token"`
}

func loginError(status int, reason m2m.Reason, desc string) *m2m.CredentialError {
	return &m2m.CredentialError{Scheme: SchemeLogin, Reason: reason, Description: desc, Status: status}
}

// ServeHTTP implements http.Handler.
func (h *LoginHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.Users == nil || h.Tokens == nil {
		h.refuse(w, r, errors.New("jwtauth: LoginHandler needs Users and Tokens"))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.refuse(w, r, loginError(http.StatusMethodNotAllowed, m2m.ReasonMalformed, "use POST"))
		return
	}
	user, pass, err := h.parse(w, r)
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	ctx := r.Context()
	keys := []string{"user:" + user, "addr:" + h.clientAddr(r)}
	thr := h.Throttle
	if thr == nil {
		thr = &h.throttle
	}
	// Hold both keys' stripes from the throttle check to the recorded
	// failure: a burst of concurrent guesses then gets no more tries than
	// the same guesses sent one at a time. (Replicas sharing a Limiter
	// each let one guess per key through at a time.) Successful logins
	// release the locks before the token is issued.
	unlock := h.guesses.Lock(keys...)
	ok, err := h.checkPassword(ctx, thr, keys, user, pass)
	unlock()
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	if !ok {
		h.refuse(w, r, loginError(http.StatusUnauthorized, m2m.ReasonBadCredentials, "wrong user name or password"))
		return
	}
	token, err := h.Tokens.IssueToken(ctx, user)
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	httpauth.WriteJSON(w, http.StatusOK, LoginResponse{Token: token})
}

// checkPassword runs the throttle check, the password check and, for a
// wrong password, the recording of the failure; the caller holds the
// keys' guess locks. A throttled key is a *m2m.CredentialError; a failure
// to record a failure is returned as a technical error, so that a
// throttle that cannot count does not hand out unlimited guesses.
func (h *LoginHandler) checkPassword(ctx context.Context, thr *ratelimit.Throttle, keys []string, user, pass string) (bool, error) {
	seen := keys[1] + " " + keys[0] // the user's success mark at the address
	for i, k := range keys {
		ok, retry, err := thr.Check(ctx, k)
		if err == nil && !ok && i == 1 {
			// A throttled address does not refuse a user who succeeded from
			// it recently: others' failures behind one NAT must not lock
			// that user out.
			ok, err = thr.Succeeded(ctx, seen)
		}
		if err != nil {
			return false, errors.Join(m2m.ErrUnavailable, err)
		}
		if !ok {
			ce := loginError(http.StatusTooManyRequests, m2m.ReasonThrottled, "too many failed logins; try again later")
			ce.RetryAfter = ratelimit.Decision{RetryAfter: retry}.RetryAfterSeconds()
			return false, ce
		}
	}
	ok, err := h.Users.Authenticate(ctx, user, pass)
	if err != nil {
		return false, err
	}
	if ok {
		if err := thr.Succeed(ctx, seen); err != nil && h.Logger != nil {
			h.Logger.LogAttrs(ctx, slog.LevelError, "jwtauth: recording a login failed", logattr.Error(err))
		}
		return true, nil
	}
	var errs []error
	for _, k := range keys {
		if err := thr.Fail(ctx, k); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return false, errors.Join(m2m.ErrUnavailable, errors.Join(errs...))
	}
	return false, nil
}

func (h *LoginHandler) parse(w http.ResponseWriter, r *http.Request) (user, pass string, err error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return "", "", loginError(http.StatusUnsupportedMediaType, m2m.ReasonMalformed, "the body must be JSON (Content-Type: application/json)")
		}
	}
	limit := h.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxLoginBytes
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return "", "", loginError(http.StatusRequestEntityTooLarge, m2m.ReasonTooLarge, "the request body is too large")
		}
		return "", "", loginError(http.StatusBadRequest, m2m.ReasonMalformed, "the request body could not be read")
	}
	var req loginRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		return "", "", loginError(http.StatusBadRequest, m2m.ReasonMalformed, `the body must be a JSON object {"user": string, "pass": string}`)
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", "", loginError(http.StatusBadRequest, m2m.ReasonMalformed, "trailing data after the JSON object")
	}
	u, err := pick(req.User, req.Username, "user", "username")
	if err != nil {
		return "", "", err
	}
	p, err := pick(req.Pass, req.Password, "pass", "password")
	if err != nil {
		return "", "", err
	}
	if len(*u) > MaxUserBytes || !utf8.ValidString(*u) {
		return "", "", loginError(http.StatusBadRequest, m2m.ReasonMalformed, "the user name is too long or not UTF-8")
	}
	return *u, *p, nil
}

// pick returns the one of a and b that is set and not empty.
func pick(a, b *string, na, nb string) (*string, error) {
	switch {
	case a != nil && b != nil:
		return nil, loginError(http.StatusBadRequest, m2m.ReasonMalformed, "give "+na+" or "+nb+", not both")
	case a == nil && b == nil, a != nil && *a == "", b != nil && *b == "":
		return nil, loginError(http.StatusBadRequest, m2m.ReasonMalformed, "missing field "+na)
	case a != nil:
		return a, nil
	}
	return b, nil
}

func (h *LoginHandler) clientAddr(r *http.Request) string {
	if h.ClientAddr != nil {
		return h.ClientAddr(r)
	}
	return h.TrustedProxies.ThrottleKey(r)
}

func (h *LoginHandler) refuse(w http.ResponseWriter, r *http.Request, err error) {
	if h.Logger != nil {
		if reason := m2m.ReasonOf(err); reason != "" {
			h.Logger.LogAttrs(r.Context(), slog.LevelInfo, "jwtauth: login refused",
				slog.String("reason", string(reason)), slog.String("remote_addr", h.TrustedProxies.ClientAddr(r).String()))
		} else {
			h.logError(r, err)
		}
	}
	if h.OnError != nil {
		h.OnError(w, r, err)
		return
	}
	httpauth.WriteRefusal(w, err)
}

func (h *LoginHandler) logError(r *http.Request, err error) {
	if h.Logger != nil {
		h.Logger.LogAttrs(r.Context(), slog.LevelError, "jwtauth: login failed",
			logattr.Error(err), slog.String("remote_addr", h.TrustedProxies.ClientAddr(r).String()))
	}
}
