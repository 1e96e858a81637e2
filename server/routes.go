package server

import (
	"context"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/gofiber/fiber/v2/middleware/recover"

	"github.com/ordercast/ordercast/web"
)

// readyTimeout bounds each readiness probe so that /readyz answers even
// when a dependency hangs.
const readyTimeout = 2 * time.Second

func (s *Server) routes() {
	s.app.Use(s.logRequests)
	s.app.Use(recover.New())

	s.app.Get("/healthz", func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"status": "ok"})
	})
	s.app.Get("/readyz", s.handleReady)
	if !s.cfg.MetricsElsewhere {
		s.app.Get("/metrics", MetricsHandler(s.cfg.Registry))
	}

	api := s.app.Group("/api/v1")
	if len(s.cfg.CORSOrigins) > 0 {
		api.Use(cors.New(cors.Config{
			AllowOrigins:  strings.Join(s.cfg.CORSOrigins, ","),
			AllowMethods:  "GET,POST,PATCH,DELETE",
			AllowHeaders:  "Authorization,Content-Type,Idempotency-Key,If-Match,X-Request-ID",
			ExposeHeaders: "ETag,Idempotent-Replayed,Retry-After,X-Request-ID",
			MaxAge:        600,
		}))
	}
	// Before authentication: a cross-site post must not even be tried.
	// It covers POST /api/v1/publish (mounted with the realtime routes).
	api.Use(requireJSON)
	api.Post("/auth/register", s.limitRegister, s.handleRegister)
	api.Post("/auth/login", s.limitLogin, s.handleLogin)
	api.Post("/auth/refresh", s.handleRefresh)
	api.Post("/auth/logout", s.requireAuth, s.handleLogout)
	api.Get("/me", s.requireAuth, s.handleMe)

	api.Get("/restaurants", s.handleListRestaurants)
	api.Patch("/restaurants/:id", s.requireAuth, s.handleUpdateRestaurant)
	api.Get("/restaurants/:id/menu", s.handleMenu)
	api.Post("/restaurants/:id/menu", s.requireAuth, s.handleAddMenuItem)
	api.Patch("/restaurants/:id/menu/:item_id", s.requireAuth, s.handleUpdateMenuItem)

	api.Post("/orders", s.requireAuth, s.limitOrders, s.handlePlaceOrder)
	api.Get("/orders", s.requireAuth, s.handleListOrders)
	api.Get("/orders/:id", s.requireAuth, s.handleGetOrder)
	api.Post("/orders/:id/status", s.requireAuth, s.handleSetStatus)
	api.Post("/orders/:id/claim", s.requireAuth, s.handleClaim)
	api.Post("/orders/:id/unassign", s.requireAuth, s.handleUnassign)
	api.Get("/orders/:id/events", s.requireAuth, s.handleEvents)
	api.Get("/orders/:id/messages", s.requireAuth, s.handleMessages)
	api.Post("/orders/:id/messages", s.requireAuth, s.handlePostMessage)
	api.Post("/orders/:id/read", s.requireAuth, s.handleMarkRead)
	api.Get("/orders/:id/location", s.requireAuth, s.handleLastLocation)
	api.Post("/couriers/me/location", s.requireAuth, s.handleUpdateLocation)
	s.mountTrack(api)
	s.mountAdmin(api)
	s.mountPush(api)

	s.mountRealtime()
	s.mountWeb()
	// Last: what no route above took.
	s.app.Use(noRoute(methodsOf(s.app)))
}

// mountWeb serves the embedded web app: the app's shell at /, the
// operator page at /ops (to anyone: its data is an admin's only), the
// tracking page at /t/{token} (to anyone: the token is checked by the
// API it calls), the service worker at /sw.js, their modules and styles
// under /app/ and the browser client under /client/.
func (s *Server) mountWeb() {
	files, err := loadStatic(web.FS)
	if err != nil {
		panic("web: embedded files unreadable: " + err.Error()) // a broken build, not a runtime condition
	}
	s.app.Get("/", serveStatic(files, "/index.html"))
	s.app.Get("/ops", serveStatic(files, "/ops.html"))
	s.app.Get(trackPagePrefix+":token", serveStatic(files, "/track.html")) // the token is the page's to read
	// The service worker's scope is the folder it is served from: at the
	// root, it is the whole app.
	s.app.Get("/sw.js", serveStatic(files, "/sw.js"))
	assets := serveStatic(files, "")
	s.app.Get("/app/*", assets)
	s.app.Get("/client/*", assets)
}

// handleReady pings the store and every other dependency; any failure
// makes the instance unready (503) and names what failed.
func (s *Server) handleReady(c *fiber.Ctx) error {
	checks := map[string]func(context.Context) error{"store": s.cfg.Store.Ping}
	for name, check := range s.cfg.ReadyChecks {
		checks[name] = check
	}
	result := make(map[string]string, len(checks))
	ready := true
	for name, check := range checks {
		ctx, cancel := context.WithTimeout(c.UserContext(), readyTimeout)
		err := check(ctx)
		cancel()
		if err != nil {
			ready = false
			result[name] = "down"
			requestLogger(c).Warn().Err(err).Str("check", name).Msg("not ready")
			continue
		}
		result[name] = "up"
	}
	status := fiber.StatusOK
	if !ready {
		status = fiber.StatusServiceUnavailable
	}
	return c.Status(status).JSON(fiber.Map{"ready": ready, "checks": result})
}
