package authserver

import (
	"net/http"
	"runtime"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/m2mkit/m2m/internal/version"
)

// metrics are the server's Prometheus metrics, in a registry private to
// the server (two servers in one process do not collide).
type metrics struct {
	reg         *prometheus.Registry
	issued      *prometheus.CounterVec
	refused     *prometheus.CounterVec
	rateLimited *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	// introspected counts introspections by outcome (active, or why
	// inactive); revoked counts revocation requests by outcome.
	introspected *prometheus.CounterVec
	revoked      *prometheus.CounterVec
	okLatency    prometheus.Observer
	badLatency   prometheus.Observer
	// issuedBy are issued's children for the rfc9068 and auth0 profiles,
	// resolved on first use (see issuedCounter).
	issuedBy [2]atomic.Pointer[prometheus.Counter]
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "m2m_tokens_issued_total",
			Help: "Access tokens issued, by token profile.",
		}, []string{"profile"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "m2m_token_requests_refused_total",
			Help: "Token requests refused, by OAuth error code and reason (invalid_client for an unknown client id and a wrong secret alike).",
		}, []string{"error", "reason"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "m2m_token_requests_rate_limited_total",
			Help: "Token requests refused with 429: kind is client (token bucket) or failures (authentication throttle).",
		}, []string{"kind"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "m2m_token_request_duration_seconds",
			Help:    "Token endpoint latency, by outcome (issued or refused).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"outcome"}),
	}
	m.introspected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "m2m_token_introspections_total",
		Help: "Token introspections answered, by outcome: active, or why inactive (foreign, expired, revoked, client_revoked, unknown_client).",
	}, []string{"outcome"})
	m.revoked = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "m2m_token_revocations_total",
		Help: "Token revocation requests answered 200, by outcome (revoked, not_active).",
	}, []string{"outcome"})
	m.okLatency = m.latency.WithLabelValues("issued")
	m.badLatency = m.latency.WithLabelValues("refused")
	m.reg.MustRegister(m.issued, m.refused, m.rateLimited, m.latency, m.introspected, m.revoked, newBuildInfo(),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// newBuildInfo returns the m2m_build_info gauge: always 1, its labels
// say which build answers (the Prometheus convention for build
// information, as go_build_info and prometheus_build_info).
func newBuildInfo() prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "m2m_build_info",
		Help: "Always 1; the labels name the build: version (set at build time), VCS revision, Go version.",
	}, []string{"version", "revision", "goversion"})
	g.WithLabelValues(version.String(), version.Revision(), runtime.Version()).Set(1)
	return g
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
