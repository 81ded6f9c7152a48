// Package console is the m2m token server's web console: an operator signs
// in with the admin token and manages clients, signing keys, trust
// policies and reads the audit trail, in server-rendered HTML pages with
// no JavaScript.
//
// Every change goes through the admin JSON API ([authserver.Server.AdminHandler])
// in-process, with the admin token and the console as the actor, so the
// console validates and audits exactly as the API does. Sessions live in
// memory: a random 256-bit id in an HttpOnly, SameSite=Strict cookie, and
// a CSRF token bound to the session in every form. Pages carry a
// Content-Security-Policy without 'unsafe-inline'.
package console

import (
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/internal/logattr"
	"github.com/m2mkit/m2m/ratelimit"
)

// Prefix is the path the console is served under.
const Prefix = "/console/"

// CookieName is the session cookie's name.
const CookieName = "m2m_console"

// ContentSecurityPolicy is sent with every console answer: nothing but
// the console's own style sheet and forms, no scripts, no framing.
const ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// maxFormBytes caps a form the console reads.
const maxFormBytes = 64 << 10

// Config configures a [Console]. The zero value of each optional field is
// documented beside it.
type Config struct {
	// Admin is the admin API handler, authserver.Server.AdminHandler (or
	// Handler). Required.
	Admin http.Handler
	// AdminToken is the admin API's bearer token: a sign-in must give it,
	// and the console sends it with every admin API call. Required.
	AdminToken m2m.Secret
	// SessionTTL is how long a session lasts after sign-in (0:
	// DefaultSessionTTL); IdleTimeout ends a session unused for that long
	// (0: DefaultIdleTimeout).
	SessionTTL, IdleTimeout time.Duration
	// MaxSessions bounds the sessions held at once (0: DefaultMaxSessions);
	// past it, signing in ends the least recently used session.
	MaxSessions int
	// SignInLimit budgets failed sign-ins per client address (zero:
	// ratelimit.DefaultFailureLimit): past it, further failures from that
	// address are answered 429 with Retry-After. The right token is never
	// refused (see the sign-in page's documentation in docs/console.md).
	SignInLimit ratelimit.Limit
	// SecureCookie makes the session cookie Secure on every answer; false
	// makes it Secure when the request came over TLS (set it behind a
	// proxy that terminates TLS).
	SecureCookie bool
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Logger receives refused sign-ins (Info) and admin API failures
	// (Error); nil discards.
	Logger *slog.Logger
}

// Console serves the web console under [Prefix]. It is safe for concurrent
// use.
type Console struct {
	admin    http.Handler
	token    m2m.Secret
	tokenSum [sha256.Size]byte
	secure   bool
	now      func() time.Time
	log      *slog.Logger
	sessions *sessions
	throttle *ratelimit.Throttle
	pages    map[string]*template.Template
	handler  http.Handler
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New returns a console for cfg.
func New(cfg Config) (*Console, error) {
	var problems []error
	if cfg.Admin == nil {
		problems = append(problems, errors.New("console: Config.Admin is required"))
	}
	if len(cfg.AdminToken) == 0 {
		problems = append(problems, errors.New("console: Config.AdminToken is required"))
	}
	if cfg.SessionTTL < 0 || cfg.IdleTimeout < 0 || cfg.MaxSessions < 0 {
		problems = append(problems, errors.New("console: Config.SessionTTL, IdleTimeout and MaxSessions must not be negative"))
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	c := &Console{admin: cfg.Admin, token: cfg.AdminToken, tokenSum: sha256.Sum256(cfg.AdminToken),
		secure: cfg.SecureCookie, now: cfg.Now, log: cfg.Logger}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	ttl, idle, max := cfg.SessionTTL, cfg.IdleTimeout, cfg.MaxSessions
	if ttl == 0 {
		ttl = DefaultSessionTTL
	}
	if idle == 0 {
		idle = DefaultIdleTimeout
	}
	if max == 0 {
		max = DefaultMaxSessions
	}
	c.sessions = newSessions(ttl, idle, max, c.now)
	c.throttle = &ratelimit.Throttle{Limiter: &ratelimit.Memory{Now: c.now}, Limit: cfg.SignInLimit}
	var err error
	if c.pages, err = parsePages(); err != nil {
		return nil, err
	}
	c.handler = http.NewCrossOriginProtection().Handler(c.routes())
	return c, nil
}

// Wrap returns a handler that serves the console under [Prefix] and
// everything else with next (the admin listener's handler).
func (c *Console) Wrap(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(Prefix, c)
	mux.Handle("/console", http.RedirectHandler(Prefix, http.StatusSeeOther))
	mux.Handle("/", next)
	return mux
}

// ServeHTTP serves the console; paths outside [Prefix] answer 404.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	c.handler.ServeHTTP(w, r)
}

var _ http.Handler = (*Console)(nil)

func (c *Console) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /console/static/console.css", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, staticFS, "static/console.css")
	})
	mux.HandleFunc("GET /console/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix+"clients", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /console/signin", c.signInPage)
	mux.HandleFunc("POST /console/signin", c.signIn)
	mux.Handle("POST /console/signout", c.action(c.signOut))

	mux.Handle("GET /console/clients", c.page(c.clientsPage))
	mux.Handle("GET /console/clients/new", c.page(c.newClientPage))
	mux.Handle("POST /console/clients", c.action(c.createClient))
	mux.Handle("GET /console/clients/{id}", c.page(c.clientPage))
	mux.Handle("POST /console/clients/{id}/disable", c.action(c.setDisabled(true)))
	mux.Handle("POST /console/clients/{id}/enable", c.action(c.setDisabled(false)))
	mux.Handle("POST /console/clients/{id}/rotate-secret", c.action(c.rotateSecret))
	mux.Handle("POST /console/clients/{id}/quotas", c.action(c.updateQuotas))
	mux.Handle("GET /console/clients/{id}/delete", c.page(c.deletePage))
	mux.Handle("POST /console/clients/{id}/delete", c.action(c.deleteClient))

	mux.Handle("GET /console/trust", c.page(c.trustPage))
	mux.Handle("POST /console/trust", c.action(c.createTrustPolicy))
	mux.Handle("GET /console/trust/{name}/delete", c.page(c.deleteTrustPage))
	mux.Handle("POST /console/trust/{name}/delete", c.action(c.deleteTrustPolicy))
	mux.Handle("GET /console/audit", c.page(c.auditPage))

	mux.Handle("GET /console/keys", c.page(c.keysPage))
	mux.Handle("POST /console/keys/rotate", c.action(c.rotateKey))

	mux.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		c.render(w, r, http.StatusNotFound, "error.html", &view{Title: "Not found", Error: "There is no such page."})
	})
	return mux
}

// handlerFunc is a console page or action: it runs with the request's
// live session.
type handlerFunc func(w http.ResponseWriter, r *http.Request, s *session) error

// page serves a GET page to a signed-in browser, and sends any other to
// the sign-in page.
func (c *Console) page(f handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := c.session(r)
		if s == nil {
			http.Redirect(w, r, Prefix+"signin", http.StatusSeeOther)
			return
		}
		if err := f(w, r, s); err != nil {
			c.fail(w, r, s, err)
		}
	})
}

// action serves a POST that changes something: it needs a live session
// and that session's CSRF token in the form's csrf field, or it changes
// nothing and answers 403.
func (c *Console) action(f handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		s := c.session(r)
		if s == nil {
			c.render(w, r, http.StatusForbidden, "error.html", &view{Title: "Signed out",
				Error: "Your session has ended, and nothing was changed. Sign in again."})
			return
		}
		if err := r.ParseForm(); err != nil {
			c.render(w, r, http.StatusBadRequest, "error.html", &view{Title: "Bad request", CSRF: s.csrf, SignedIn: true,
				Error: "The form could not be read, and nothing was changed."})
			return
		}
		if !validCSRF(s, r.PostForm.Get("csrf")) {
			c.log.LogAttrs(r.Context(), slog.LevelInfo, "console: form refused", slog.String("reason", "bad_csrf_token"),
				slog.String("remote_addr", clientAddr(r)))
			c.render(w, r, http.StatusForbidden, "error.html", &view{Title: "Form expired", CSRF: s.csrf, SignedIn: true,
				Error: "This form is not from your current session, and nothing was changed. Reload the page and try again."})
			return
		}
		if err := f(w, r, s); err != nil {
			c.fail(w, r, s, err)
		}
	})
}

// fail answers a page or action that failed: an admin API refusal with
// its status and description, anything else 500 (logged).
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	v := &view{Title: "Error", CSRF: s.csrf, SignedIn: true}
	var ae *apiError
	if errors.As(err, &ae) {
		v.Error = ae.Message()
		status := ae.Status
		if status == http.StatusNotFound {
			v.Title = "Not found"
		}
		c.render(w, r, status, "error.html", v)
		return
	}
	c.log.LogAttrs(r.Context(), slog.LevelError, "console: request failed", logattr.Error(err))
	v.Error = "Something went wrong; the server's log has the details."
	c.render(w, r, http.StatusInternalServerError, "error.html", v)
}

// session returns the request's live session, or nil.
func (c *Console) session(r *http.Request) *session {
	ck, err := r.Cookie(CookieName)
	if err != nil {
		return nil
	}
	return c.sessions.get(ck.Value)
}

func (c *Console) cookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: value, Path: Prefix, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.secure || r.TLS != nil}
}

// view is what every page template gets.
type view struct {
	Title    string
	Section  string // the navigation entry of the page
	CSRF     string
	SignedIn bool
	Flash    string
	Error    string
	Data     any
}

func (c *Console) view(s *session, title, section string, data any) *view {
	return &view{Title: title, Section: section, CSRF: s.csrf, SignedIn: true, Flash: c.sessions.takeFlash(s), Data: data}
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	t := c.pages[name]
	if t == nil {
		panic("console: no template " + name)
	}
	var b bufferWriter
	if err := t.ExecuteTemplate(&b, "layout", v); err != nil {
		c.log.LogAttrs(r.Context(), slog.LevelError, "console: rendering a page", slog.String("page", name), logattr.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.b)
}

type bufferWriter struct{ b []byte }

func (b *bufferWriter) Write(p []byte) (int, error) { b.b = append(b.b, p...); return len(p), nil }

// redirect sends the browser to path after a change, with a message for
// the next page.
func (c *Console) redirect(w http.ResponseWriter, r *http.Request, s *session, path, flash string) {
	if flash != "" {
		c.sessions.setFlash(s, flash)
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// clientAddr is the address sign-in failures are counted under.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	if c.session(r) != nil {
		http.Redirect(w, r, Prefix+"clients", http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "signin.html", &view{Title: "Sign in"})
}

// signIn checks the admin token in constant time and starts a session.
// As on the admin API, the right token is never refused: it is a random
// 256-bit value no one can guess online, so a lockout by address would
// only let a failing caller behind the same NAT or proxy lock the
// operator out. Failures are counted per address; past the budget, they
// are answered 429 with Retry-After instead of 403.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	ctx := r.Context()
	addr := clientAddr(r)
	if err := r.ParseForm(); err != nil {
		c.render(w, r, http.StatusBadRequest, "signin.html", &view{Title: "Sign in", Error: "The form could not be read."})
		return
	}
	sum := sha256.Sum256([]byte(r.PostForm.Get("token")))
	if subtle.ConstantTimeCompare(sum[:], c.tokenSum[:]) != 1 {
		c.log.LogAttrs(ctx, slog.LevelInfo, "console: sign-in refused", slog.String("reason", "bad_admin_token"),
			slog.String("remote_addr", addr))
		ok, retry, err := c.throttle.Check(ctx, addr)
		if err == nil && ok {
			err = c.throttle.Fail(ctx, addr)
		}
		if err != nil {
			c.log.LogAttrs(ctx, slog.LevelWarn, "console: recording a failed sign-in", logattr.Error(err))
		}
		if err == nil && !ok {
			secs := int(retry/time.Second) + 1
			w.Header().Set("Retry-After", fmt.Sprint(secs))
			c.render(w, r, http.StatusTooManyRequests, "signin.html", &view{Title: "Sign in",
				Error: fmt.Sprintf("Too many failed sign-ins from your address; try again in %d seconds.", secs)})
			return
		}
		c.render(w, r, http.StatusForbidden, "signin.html", &view{Title: "Sign in", Error: "That is not the admin token."})
		return
	}
	id, _ := c.sessions.create()
	http.SetCookie(w, c.cookie(r, id, 0))
	c.log.LogAttrs(ctx, slog.LevelInfo, "console: signed in", slog.String("remote_addr", addr))
	http.Redirect(w, r, Prefix+"clients", http.StatusSeeOther)
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request, s *session) error {
	if ck, err := r.Cookie(CookieName); err == nil {
		c.sessions.delete(ck.Value)
	}
	http.SetCookie(w, c.cookie(r, "", -1))
	http.Redirect(w, r, Prefix+"signin", http.StatusSeeOther)
	return nil
}
