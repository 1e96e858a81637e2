package server

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/ordercast/ordercast/internal/delivery"
)

// httpMetrics counts REST traffic. Routes are labelled by their pattern
// (/api/v1/orders/:id), never the raw path, to keep cardinality bounded.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	// refusals counts the /ws and /sse handshakes answered with an error,
	// by transport and refusalReason.
	refusals *prometheus.CounterVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordercast_http_requests_total", Help: "HTTP requests answered, by route and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ordercast_http_request_duration_seconds", Help: "HTTP request latency, by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ordercast_http_requests_in_flight", Help: "HTTP requests being served now.",
		}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordercast_handshake_refusals_total",
			Help: "Websocket handshakes and event streams refused, by transport and reason.",
		}, []string{"transport", "reason"}),
	}
	reg.MustRegister(m.requests, m.duration, m.inFlight, m.refusals)
	return m
}

// refused counts a refused handshake of transport ("websocket", "sse")
// by the reason err gives, and returns err.
func (m *httpMetrics) refused(transport string, err error) error {
	if err != nil {
		m.refusals.WithLabelValues(transport, refusalReason(err)).Inc()
	}
	return err
}

// refusalReason names why a handshake was refused, from a bounded set:
// closing (the instance shuts down: 503), unavailable (the instance is
// full: 503), unauthorized (401), origin (403), too_many_connections
// (429), bad_request (400), internal (anything else). A websocket
// handshake that fails in the library, after these checks passed, is
// handshake_failed (counted where the hub reports it).
func refusalReason(err error) string {
	if errors.Is(err, errRestarting) {
		return "closing"
	}
	switch delivery.ErrorCode(err) {
	case delivery.EUNAVAILABLE:
		return "unavailable"
	case delivery.EUNAUTHORIZED, delivery.ETOKENREUSED:
		return "unauthorized"
	case delivery.EFORBIDDEN:
		return "origin"
	case delivery.ETOOMANYCONNS:
		return "too_many_connections"
	case delivery.EINVALID:
		return "bad_request"
	}
	return "internal"
}

func (m *httpMetrics) observe(c *fiber.Ctx, start time.Time) {
	route := c.Route().Path
	if c.Response().StatusCode() == fiber.StatusNotFound && route == "/" {
		route = "unmatched"
	}
	// c.Method() is a view of fasthttp's request buffer, which a hijacked
	// (websocket) request hands back for reuse: a label kept by Prometheus
	// must be a string of its own, or /metrics later holds "POS" for /ws
	// twice and fails.
	method := strings.Clone(c.Method())
	m.requests.WithLabelValues(method, route, strconv.Itoa(c.Response().StatusCode())).Inc()
	m.duration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
}

// NewRegistry returns a registry with the Go runtime and process
// collectors, for the server and the hub to share.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// MetricsHandler serves the registry in the Prometheus text format, for
// the app's /metrics or a separate METRICS_ADDR listener.
func MetricsHandler(reg *prometheus.Registry) fiber.Handler {
	h := fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return func(c *fiber.Ctx) error {
		h(c.Context())
		return nil
	}
}
