// Package server is the Fiber app: REST routes, token middleware, the
// error→status table and the websocket bridge to the hub.
package server

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/accounts"
	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/limits"
	"github.com/ordercast/ordercast/internal/orders"
	"github.com/ordercast/ordercast/internal/push"
	"github.com/ordercast/ordercast/internal/wire"
)

// DefaultBodyLimit caps request bodies; a larger one is answered 413.
const DefaultBodyLimit = 64 << 10

// Config is what the server is built from; cmd/ordercast wires it.
type Config struct {
	Store    delivery.Store
	Orders   *orders.Service
	Accounts *accounts.Service
	Tokens   *auth.Tokens
	// Hub serves GET /ws and GET /sse; nil serves REST only.
	Hub Hub
	// Publisher takes the publish API's ephemeral events (with Hub).
	Publisher delivery.Publisher
	// HubAPIKey enables POST /api/v1/publish when non-empty.
	HubAPIKey string
	// AllowedOrigins for websocket handshakes and event streams; empty
	// means same origin.
	AllowedOrigins []string
	// CORSOrigins may call the REST API from a browser (CORS_ORIGINS);
	// empty sends no CORS headers.
	CORSOrigins []string
	// ReadyChecks run on /readyz besides the store ping (e.g. Redis).
	ReadyChecks map[string]func(context.Context) error
	BodyLimit   int
	// RequestTimeout bounds the store and service calls of a request
	// (default 15 s); past it the answer is 503 unavailable.
	RequestTimeout time.Duration
	Log            zerolog.Logger
	// Registry receives the server's metrics (a fresh one when nil).
	Registry *prometheus.Registry
	// MetricsElsewhere leaves /metrics off this app (METRICS_ADDR is set).
	MetricsElsewhere bool
	// Limits are the rate limits of REST (the order service spends the
	// chat and position budgets itself, for REST and websocket alike);
	// nil limits nothing (RATE_LIMITS=off, and tests not about limits).
	Limits *limits.Limits
	// Conns caps the sockets per user and per instance; nil caps nothing.
	Conns *limits.Conns
	// Push serves the Web Push key and subscriptions (/push/...); nil
	// serves none.
	Push *push.Service
	// TrustedProxies are the proxies whose X-Forwarded-For names the
	// client address (TRUSTED_PROXIES).
	TrustedProxies []netip.Prefix
	// Ops answers GET /api/v1/ops/stats; nil leaves it off.
	Ops Ops
}

// Hub takes over upgraded connections and event streams; *hub.Hub is one.
type Hub interface {
	// Serve runs the websocket handshake on conn for r, of a user whose
	// token the server verified, and owns conn from then on; requestID is
	// the handshake's (X-Request-ID), which the connection's log lines
	// carry.
	Serve(conn net.Conn, r *http.Request, claims auth.Claims, requestID string) error
	// ParseSSE reads the channels and the cursor of GET /sse; ServeSSE
	// starts the stream on conn, writing the response head and header,
	// its log lines carrying requestID.
	ParseSSE(channels, lastEventID string) (wire.Stream, error)
	ServeSSE(conn net.Conn, claims auth.Claims, st wire.Stream, header http.Header, requestID string) error
	// Closing reports a shutdown under way: upgrades are refused 503.
	Closing() bool
}

// Server is the HTTP side of ordercast.
type Server struct {
	cfg     Config
	app     *fiber.App
	metrics *httpMetrics
	// rateLimited counts REST requests answered 429, for the operator.
	rateLimited atomic.Uint64
	requestIDs  atomic.Uint64 // the last id made (requestID)
}

// New builds the app with every route mounted.
func New(cfg Config) *Server {
	if cfg.BodyLimit == 0 {
		cfg.BodyLimit = DefaultBodyLimit
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = defaultRequestTimeout
	}
	if cfg.Registry == nil {
		cfg.Registry = NewRegistry()
	}
	s := &Server{cfg: cfg, metrics: newHTTPMetrics(cfg.Registry)}
	var start [8]byte
	_, _ = rand.Read(start[:]) // never fails (crypto/rand)
	s.requestIDs.Store(binary.BigEndian.Uint64(start[:]))
	s.app = fiber.New(fiber.Config{
		AppName:               "ordercast",
		BodyLimit:             cfg.BodyLimit,
		ReadTimeout:           15 * time.Second,
		WriteTimeout:          15 * time.Second,
		IdleTimeout:           60 * time.Second,
		DisableStartupMessage: true,
		ErrorHandler:          writeError,
		// Bodies are JSON or refused with 415 (requireJSON): a form is not
		// parsed first, whose errors would answer 400 instead.
		DisablePreParseMultipartForm: true,
	})
	s.routes()
	return s
}

// RateLimited returns how many REST requests were answered 429
// (rate_limited, too_many_connections) since the server started.
func (s *Server) RateLimited() uint64 { return s.rateLimited.Load() }

// App returns the Fiber app, for tests that drive it with app.Test.
func (s *Server) App() *fiber.App { return s.app }

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// Shutdown stops accepting, waits for in-flight requests until ctx ends,
// and closes idle keep-alive connections.
func (s *Server) Shutdown(ctx context.Context) error { return s.app.ShutdownWithContext(ctx) }
