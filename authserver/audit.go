package authserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/m2mkit/m2m/internal/logattr"
	"github.com/m2mkit/m2m/internal/redact"
	"github.com/m2mkit/m2m/store"
)

// Audit event codes: stable, for filters and alerts.
const (
	AuditClientCreated          = "client.created"
	AuditClientUpdated          = "client.updated"
	AuditClientDisabled         = "client.disabled"
	AuditClientEnabled          = "client.enabled"
	AuditClientDeleted          = "client.deleted"
	AuditClientSecretRotated    = "client.secret_rotated"
	AuditKeyRotated             = "key.rotated"
	AuditKeyRevoked             = "key.revoked"
	AuditTrustPolicyCreated     = "trust_policy.created"
	AuditTrustPolicyUpdated     = "trust_policy.updated"
	AuditTrustPolicyDeleted     = "trust_policy.deleted"
	AuditTokenRevoked           = "token.revoked"
	AuditTokensRevokedForClient = "tokens.revoked_for_client"
	// AuditAuthFailed is a failed client authentication at the token
	// endpoint; Reason says which class (bad_secret, unknown_client,
	// wrong_auth_method, missing_credentials, auth_throttled,
	// assertion_…).
	AuditAuthFailed = "auth.failed"
	// AuditQuotaExceeded is a token request over the client's quota;
	// Reason is hourly or daily.
	AuditQuotaExceeded = "quota.exceeded"
)

// Audit defaults.
const (
	// DefaultAuditRetention is how long audit events are kept
	// (Config.AuditRetention zero).
	DefaultAuditRetention = 90 * 24 * time.Hour
	// AuditAggregateWindow bounds failure events: the first of a kind
	// (code, and client id or else client address) in a window is stored
	// at once, the rest of the window as one event whose Count says how
	// many.
	AuditAggregateWindow = time.Minute
	// MaxAuditAggregateKeys bounds the kinds tracked at once; past it,
	// failures of new kinds share one key per code.
	MaxAuditAggregateKeys = 10_000
	// MaxPendingAudit bounds the events waiting for the store; past it,
	// events are dropped and counted.
	MaxPendingAudit = 10_000
	// DefaultAuditSinkQueue is the queue of each audit sink; past it,
	// events are dropped and counted.
	DefaultAuditSinkQueue = 1024
	// MaxActorBytes bounds the name an X-M2M-Actor header gives.
	MaxActorBytes = 64
)

// ActorHeader names who acts through the admin API (a console's user),
// recorded in audit events as "admin-token:NAME". It is honoured only on
// admin API requests that carry the admin token.
const ActorHeader = "X-M2M-Actor"

// AuditSink receives audit events as they happen (a file, a webhook). A
// server calls it from one goroutine per sink, with batches; an error is
// retried with backoff, and a sink that cannot keep up loses events
// (counted) rather than slowing the server.
type AuditSink interface {
	WriteAudit(ctx context.Context, events []store.AuditEvent) error
}

// auditEventJSON is an audit event as the admin API and the sinks show it.
type auditEventJSON struct {
	ID         int64     `json:"id,omitempty"`
	Time       time.Time `json:"time"`
	Code       string    `json:"code"`
	Actor      string    `json:"actor,omitempty"`
	ClientID   string    `json:"client_id,omitempty"`
	Target     string    `json:"target,omitempty"`
	RemoteAddr string    `json:"remote_addr,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Count      int64     `json:"count"`
}

// AuditEventInfo is an audit event as the admin API shows it.
type AuditEventInfo = auditEventJSON

// NewAuditEventInfo describes e.
func NewAuditEventInfo(e store.AuditEvent) AuditEventInfo {
	return auditEventJSON{ID: e.ID, Time: e.Time.UTC(), Code: e.Code, Actor: e.Actor, ClientID: e.ClientID,
		Target: e.Target, RemoteAddr: e.RemoteAddr, Reason: e.Reason, Count: max(e.Count, 1)}
}

type aggKey struct{ code, who string }

type aggEntry struct {
	start      time.Time
	suppressed int64
	last       store.AuditEvent
}

// auditor stores audit events and feeds the sinks.
type auditor struct {
	st        store.Audit // nil: sinks only
	retention time.Duration
	now       func() time.Time
	log       *slog.Logger

	mu      sync.Mutex
	pending []store.AuditEvent
	agg     map[aggKey]*aggEntry
	dropped atomic.Int64

	sinks []*sinkQueue
}

// record stores e: at once (admin actions), or, with aggregate, through
// the failure aggregation and the next flush.
func (a *auditor) record(ctx context.Context, e store.AuditEvent, aggregate bool) {
	if e.Time.IsZero() {
		e.Time = a.now()
	}
	if e.Count <= 0 {
		e.Count = 1
	}
	if !aggregate {
		if a.st != nil {
			if err := a.st.AppendAudit(ctx, []store.AuditEvent{e}); err != nil {
				a.log.LogAttrs(ctx, slog.LevelError, "authserver: storing an audit event", slog.String("code", e.Code), logattr.Error(err))
			}
		}
		a.toSinks([]store.AuditEvent{e})
		return
	}
	who := e.ClientID
	if who == "" {
		who = "addr:" + e.RemoteAddr
	}
	k := aggKey{e.Code, who}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.agg == nil {
		a.agg = map[aggKey]*aggEntry{}
	}
	ent, ok := a.agg[k]
	if !ok && len(a.agg) >= MaxAuditAggregateKeys {
		k = aggKey{e.Code, "*"}
		e.ClientID, e.RemoteAddr = "", ""
		ent, ok = a.agg[k]
	}
	if ok && e.Time.Sub(ent.start) < AuditAggregateWindow {
		ent.suppressed++
		ent.last = e
		return
	}
	if ok && ent.suppressed > 0 {
		a.emitLocked(aggregated(ent))
	}
	a.agg[k] = &aggEntry{start: e.Time}
	a.emitLocked(e)
}

func aggregated(ent *aggEntry) store.AuditEvent {
	e := ent.last
	e.Count = ent.suppressed
	return e
}

func (a *auditor) emitLocked(e store.AuditEvent) {
	if len(a.pending) >= MaxPendingAudit {
		a.dropped.Add(1)
		return
	}
	a.pending = append(a.pending, e)
}

// flush ends the aggregation windows that are over and stores the
// pending events.
func (a *auditor) flush(ctx context.Context) error {
	now := a.now()
	a.mu.Lock()
	for k, ent := range a.agg {
		if now.Sub(ent.start) >= AuditAggregateWindow {
			if ent.suppressed > 0 {
				a.emitLocked(aggregated(ent))
			}
			delete(a.agg, k)
		}
	}
	batch := a.pending
	a.pending = nil
	a.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	a.toSinks(batch)
	if a.st == nil {
		return nil
	}
	if err := a.st.AppendAudit(ctx, batch); err != nil {
		a.mu.Lock()
		if n := MaxPendingAudit - len(a.pending); n > 0 {
			a.pending = append(batch[:min(n, len(batch))], a.pending...)
			a.dropped.Add(int64(len(batch) - min(n, len(batch))))
		} else {
			a.dropped.Add(int64(len(batch)))
		}
		a.mu.Unlock()
		return err
	}
	return nil
}

func (a *auditor) toSinks(events []store.AuditEvent) {
	for _, q := range a.sinks {
		q.enqueue(events)
	}
}

func (a *auditor) startSinks(ctx context.Context) {
	for _, q := range a.sinks {
		q.start(ctx)
	}
}

// sinkQueue is the bounded queue in front of one sink.
type sinkQueue struct {
	sink    AuditSink
	ch      chan store.AuditEvent
	dropped atomic.Int64
	sent    atomic.Int64
	once    sync.Once
	log     *slog.Logger
	// sleep waits between retries (tests replace it); it returns false
	// when ctx is done.
	sleep func(ctx context.Context, d time.Duration) bool
}

func newSinkQueue(s AuditSink, size int, log *slog.Logger) *sinkQueue {
	if size <= 0 {
		size = DefaultAuditSinkQueue
	}
	return &sinkQueue{sink: s, ch: make(chan store.AuditEvent, size), log: log, sleep: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// enqueue never blocks: an event that finds the queue full is dropped
// and counted.
func (q *sinkQueue) enqueue(events []store.AuditEvent) {
	for _, e := range events {
		select {
		case q.ch <- e:
		default:
			q.dropped.Add(1)
		}
	}
}

// sinkAttempts is how many times a batch is tried before it is dropped.
const sinkAttempts = 5

func (q *sinkQueue) start(ctx context.Context) {
	q.once.Do(func() { go q.run(ctx) })
}

func (q *sinkQueue) run(ctx context.Context) {
	for {
		var batch []store.AuditEvent
		select {
		case <-ctx.Done():
			return
		case e := <-q.ch:
			batch = append(batch, e)
		}
	drain:
		for len(batch) < 256 {
			select {
			case e := <-q.ch:
				batch = append(batch, e)
			default:
				break drain
			}
		}
		backoff := 100 * time.Millisecond
		for attempt := 1; ; attempt++ {
			err := q.sink.WriteAudit(ctx, batch)
			if err == nil {
				q.sent.Add(int64(len(batch)))
				break
			}
			if attempt == sinkAttempts || ctx.Err() != nil {
				q.dropped.Add(int64(len(batch)))
				q.log.LogAttrs(ctx, slog.LevelWarn, "authserver: audit sink failed; events dropped",
					slog.Int("events", len(batch)), logattr.Error(err))
				break
			}
			if !q.sleep(ctx, backoff) {
				q.dropped.Add(int64(len(batch)))
				return
			}
			backoff = min(2*backoff, 30*time.Second)
		}
	}
}

// FileAuditSink appends audit events to a file as JSON lines. The file
// is created with mode 0600.
type FileAuditSink struct {
	Path string

	mu sync.Mutex
	f  *os.File
}

var _ AuditSink = (*FileAuditSink)(nil)

// WriteAudit appends events, one JSON object a line.
func (s *FileAuditSink) WriteAudit(ctx context.Context, events []store.AuditEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		f, err := os.OpenFile(s.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("authserver: audit file: %w", err)
		}
		s.f = f
	}
	_, err := s.f.Write(jsonLines(events))
	if err != nil {
		s.f.Close()
		s.f = nil
		return fmt.Errorf("authserver: audit file: %w", err)
	}
	return nil
}

// Close closes the file.
func (s *FileAuditSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

func jsonLines(events []store.AuditEvent) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, e := range events {
		enc.Encode(NewAuditEventInfo(e))
	}
	return b.Bytes()
}

// WebhookAuditSink POSTs batches of audit events to URL as JSON lines
// (Content-Type application/x-ndjson); any 2xx answer accepts them. A
// redirect is a failure, not followed: a 307 or 308 would otherwise send
// the audit trail on to wherever it points.
type WebhookAuditSink struct {
	URL string
	// Client sends the requests (nil: a client with a 10-second timeout
	// that follows no redirect).
	Client *http.Client
}

var _ AuditSink = (*WebhookAuditSink)(nil)

var defaultWebhookClient = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// WriteAudit posts events.
func (s *WebhookAuditSink) WriteAudit(ctx context.Context, events []store.AuditEvent) error {
	c := s.Client
	if c == nil {
		c = defaultWebhookClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(jsonLines(events)))
	if err != nil {
		return errors.New("authserver: audit webhook: bad URL")
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("authserver: audit webhook: %w", redact.Error(err, s.URL))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("authserver: audit webhook: %s", resp.Status)
	}
	return nil
}

// recordAudit records e when the server keeps an audit log.
func (s *Server) recordAudit(ctx context.Context, e store.AuditEvent, aggregate bool) {
	if s.audit != nil {
		s.audit.record(ctx, e, aggregate)
	}
}

// adminActor is the actor of an admin API request: "admin-token", or
// "admin-token:NAME" with the X-M2M-Actor header's NAME (at most
// MaxActorBytes of visible ASCII; anything else is replaced by '_').
func adminActor(r *http.Request) string {
	v := r.Header.Get(ActorHeader)
	if v == "" {
		return "admin-token"
	}
	if len(v) > MaxActorBytes {
		v = v[:MaxActorBytes]
	}
	b := []byte(v)
	for i, c := range b {
		if c <= 0x20 || c >= 0x7f {
			b[i] = '_'
		}
	}
	return "admin-token:" + string(b)
}

// auditAdmin records an admin action.
func (s *Server) auditAdmin(r *http.Request, code, clientID, target string) {
	s.recordAudit(r.Context(), store.AuditEvent{Code: code, Actor: adminActor(r), ClientID: clientID, Target: target,
		RemoteAddr: s.clientAddr(r)}, false)
}

// AuditList is the answer of GET /admin/audit: the newest events first;
// NextBefore, when set, is the before= of the next (older) page.
type AuditList struct {
	Events     []AuditEventInfo `json:"events"`
	NextBefore int64            `json:"next_before,omitempty"`
}

// ParseAuditQuery reads the query of GET /admin/audit: client, code,
// since (RFC 3339 or a duration back from now such as 24h), before (an
// event id, for paging) and limit (1 to store.MaxAuditLimit).
func ParseAuditQuery(v map[string][]string, now time.Time) (store.AuditQuery, error) {
	get := func(k string) string {
		if len(v[k]) == 0 {
			return ""
		}
		return v[k][0]
	}
	var q store.AuditQuery
	q.ClientID, q.Code = get("client"), get("code")
	if len(q.ClientID) > maxClientIDBytes || len(q.Code) > 64 {
		return q, errors.New("client or code too long")
	}
	if s := get("since"); s != "" {
		t, err := ParseSince(s, now)
		if err != nil {
			return q, err
		}
		q.Since = t
	}
	if s := get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return q, errors.New("before: want a positive event id")
		}
		q.BeforeID = n
	}
	if s := get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > store.MaxAuditLimit {
			return q, fmt.Errorf("limit: want 1 to %d", store.MaxAuditLimit)
		}
		q.Limit = n
	}
	return q, nil
}

// ParseSince reads a point in time: RFC 3339, or a duration back from
// now ("24h", "90m"; "7d" for days).
func ParseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if n := len(s); n > 1 && s[n-1] == 'd' {
		if d, err := strconv.Atoi(s[:n-1]); err == nil && d >= 0 && d <= 3650 {
			return now.Add(-time.Duration(d) * 24 * time.Hour), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, errors.New("since: want an RFC 3339 time or a duration such as 24h or 7d")
	}
	return now.Add(-d), nil
}

// adminAudit is GET /admin/audit.
func (s *Server) adminAudit(w http.ResponseWriter, r *http.Request) error {
	if s.audit == nil || s.audit.st == nil {
		writeJSON(w, http.StatusNotImplemented, errorBody("not_implemented", "this server keeps no audit log"))
		return nil
	}
	q, err := ParseAuditQuery(r.URL.Query(), s.now())
	if err != nil {
		return &adminBadRequest{err.Error()}
	}
	if err := s.audit.flush(r.Context()); err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "authserver: flushing audit events", logattr.Error(err))
	}
	events, err := s.audit.st.ListAudit(r.Context(), q)
	if err != nil {
		return err
	}
	out := AuditList{Events: make([]AuditEventInfo, 0, len(events))}
	for _, e := range events {
		out.Events = append(out.Events, NewAuditEventInfo(e))
	}
	if len(events) == store.AuditLimit(q.Limit) {
		out.NextBefore = events[len(events)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
