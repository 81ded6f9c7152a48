package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/pflag"

	"github.com/m2mkit/m2m/internal/redact"
	"github.com/m2mkit/m2m/internal/version"
)

// The --log-format values. Auto is text when standard error is a
// terminal, JSON otherwise; either way one run writes one format.
const (
	logFormatAuto = "auto"
	logFormatJSON = "json"
	logFormatText = "text"
)

// Messages of serve's start-up records that programs look for.
const (
	// msgListening is logged once the public listener is bound and the
	// data is open; its "url" attribute is the listener's URL.
	msgListening = "m2m: listening"
	msgStopped   = "m2m: stopped"
)

// newServeLogger returns the one logger of a serve run: every record the
// process writes goes through it, to w, at level and above.
func newServeLogger(w io.Writer, format string, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == logFormatAuto {
		format = logFormatJSON
		if isTerminal(w) {
			format = logFormatText
		}
	}
	if format == logFormatText {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// redisLog is the Redis driver's logger for the whole process: its
// messages become records of the current serve run's logger, with any
// credential of the Redis URL masked.
var redisLog struct {
	once sync.Once
	cur  atomic.Pointer[redisLogger]
}

type redisLogger struct {
	log *slog.Logger
	url string
}

// redisLogAdapter implements the driver's logging interface.
type redisLogAdapter struct{}

func (redisLogAdapter) Printf(ctx context.Context, format string, v ...any) {
	msg := strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: ")
	l := redisLog.cur.Load()
	if l == nil {
		slog.Default().WarnContext(ctx, "redis: "+msg)
		return
	}
	l.log.WarnContext(ctx, "redis: "+redact.Text(msg, l.url))
}

// captureLibraryLogs sends what libraries print during a serve run
// through logger: the standard log package (database/sql drivers and
// others write there) and the Redis driver. The returned function puts
// back what was there before.
func captureLibraryLogs(logger *slog.Logger, redisURL string) (restore func()) {
	prevDefault := slog.Default()
	w, flags, prefix := log.Writer(), log.Flags(), log.Prefix()
	slog.SetDefault(logger)
	restoreRedis := routeRedisLogs(logger, redisURL)
	return func() {
		restoreRedis()
		slog.SetDefault(prevDefault)
		log.SetOutput(w)
		log.SetFlags(flags)
		log.SetPrefix(prefix)
	}
}

// routeRedisLogs sends the Redis driver's messages through logger, with
// any credential of redisURL masked, until restore is called: every
// command that opens Redis calls it first, so that the driver never prints
// its own "redis: <date> pool.go:..." lines to standard error.
func routeRedisLogs(logger *slog.Logger, redisURL string) (restore func()) {
	redisLog.once.Do(func() { redis.SetLogger(redisLogAdapter{}) })
	prev := redisLog.cur.Swap(&redisLogger{log: logger, url: redisURL})
	return func() { redisLog.cur.Store(prev) }
}

// secretSettings are the settings whose values may carry a credential
// (a password in a URL, a token in a webhook's query): they are logged
// through redact.URL and never repeated in an error. Every setting that
// takes a URL is one (TestSecretSettingsCoverURLs).
var secretSettings = []string{"database", "redis", "audit-webhook", "issuer"}

// logStart logs the version and the effective configuration: every
// setting with its value (credentials masked) and where it came from.
func logStart(logger *slog.Logger, fs *pflag.FlagSet, sources map[string]string) {
	logger.Info("m2m: starting", "version", version.String(), "revision", version.Revision(), "go_version", runtime.Version())
	var attrs []any
	for _, f := range settingFlags(fs) {
		v := f.Value.String()
		if v != "" && slices.Contains(secretSettings, f.Name) {
			v = redact.URL(v)
		}
		src := sources[f.Name]
		if src == "" {
			src = sourceDefault
		}
		attrs = append(attrs, slog.Group(strings.ReplaceAll(f.Name, "-", "_"), "value", v, "source", src))
	}
	logger.Info("m2m: configuration", slog.Group("settings", attrs...))
}

// ListeningURL reads one line of m2m serve's log (JSON or text) and
// returns the public listener's URL when the line is the record that says
// the server listens. Programs that start m2m serve wait for it.
func ListeningURL(line string) (string, bool) {
	if strings.HasPrefix(line, "{") {
		var rec struct {
			Msg string `json:"msg"`
			URL string `json:"url"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == msgListening && rec.URL != "" {
			return rec.URL, true
		}
		return "", false
	}
	if !strings.Contains(line, `msg="`+msgListening+`"`) {
		return "", false
	}
	for _, field := range strings.Fields(line) {
		if u, ok := strings.CutPrefix(field, "url="); ok {
			return u, true
		}
	}
	return "", false
}
