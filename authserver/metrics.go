package authserver

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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
			Help: "Token requests refused, by OAuth error code and reason.",
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
	m.reg.MustRegister(m.issued, m.refused, m.rateLimited, m.latency, m.introspected, m.revoked,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
