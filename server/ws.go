package server

import (
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
)

// mountRealtime mounts GET /ws and GET /sse (the hub) and POST
// /api/v1/publish (when a HUB_API_KEY is set).
func (s *Server) mountRealtime() {
	if s.cfg.Hub == nil {
		return
	}
	// Upgraded connections belong to the hub, which closes them; fasthttp
	// then frees its request state as soon as the handler returns, which
	// roughly halves the memory of an idle socket (WEBSOCKET-ON-FIBER.md).
	s.app.Server().KeepHijackedConns = true
	s.app.Get("/ws", s.handleWS)
	s.app.Get("/sse", s.handleSSE)
	if s.cfg.HubAPIKey != "" {
		s.app.Post("/api/v1/publish", s.handlePublish)
	}
}

// errRestarting refuses a handshake during a shutdown, with Retry-After
// (refuseRestarting).
var errRestarting = delivery.Errorf(delivery.EUNAVAILABLE, "server restarting")

func refuseRestarting(c *fiber.Ctx) error {
	c.Set(fiber.HeaderRetryAfter, "1")
	return errRestarting
}

// handleWS checks the handshake (origin, token) while an HTTP answer is
// still possible, then hands the raw connection to the hub. A refusal is
// counted by its reason.
func (s *Server) handleWS(c *fiber.Ctx) error {
	return s.metrics.refused("websocket", s.upgradeWS(c))
}

func (s *Server) upgradeWS(c *fiber.Ctx) error {
	if s.cfg.Hub.Closing() {
		return refuseRestarting(c)
	}
	if !isUpgrade(c) {
		return delivery.Errorf(delivery.EINVALID, "websocket upgrade required")
	}
	if !s.originAllowed(c) {
		return delivery.Errorf(delivery.EFORBIDDEN, "origin not allowed")
	}
	claims, err := s.realtimeClaims(c)
	if err != nil {
		return err
	}
	held, err := s.holdSocket(c, connOwner(claims)) // the connection caps
	if err != nil {
		return err
	}

	req := new(http.Request)
	if err := fasthttpadaptor.ConvertRequest(c.Context(), req, true); err != nil {
		held.release()
		return delivery.Errorf(delivery.EINVALID, "bad handshake request")
	}
	hub, log, id := s.cfg.Hub, requestLogger(c), requestIDOf(c)
	handOver(c, held, func(conn net.Conn) {
		if err := hub.Serve(conn, req, claims, id); err != nil {
			s.metrics.refusals.WithLabelValues("websocket", "handshake_failed").Inc()
			log.Warn().Err(err).Str("user_id", claims.UserID.String()).Msg("websocket handshake")
		}
	})
	// The request line says what happened: the upgrade was handed to the
	// hub (a handshake failing there is a warning with the same request id).
	c.Status(fiber.StatusSwitchingProtocols)
	return nil
}

// handOver gives the request's connection to serve once this handler
// returned, under the socket's lease. The hijacked conn would read
// through fasthttp's buffer; it holds nothing, since a client sends
// nothing after its request (no websocket frame before the 101, nothing
// at all on an event stream), so serve gets the raw conn instead.
func handOver(c *fiber.Ctx, held *socketLease, serve func(net.Conn)) {
	c.Context().HijackSetNoResponse(true)
	c.Context().Hijack(func(conn net.Conn) {
		if u, ok := conn.(interface{ UnsafeConn() net.Conn }); ok {
			conn = u.UnsafeConn()
		}
		if conn, claimed := held.claim(conn); claimed {
			serve(conn)
		}
	})
}

// realtimeClaims verifies the token of a socket or stream, from the
// Authorization header or, for browsers, the access_token parameter: an
// access token, or a tracking link's (a viewer).
func (s *Server) realtimeClaims(c *fiber.Ctx) (auth.Claims, error) {
	token, ok := bearerToken(c.Get(fiber.HeaderAuthorization))
	if !ok {
		token = c.Query("access_token")
	}
	if token == "" {
		return auth.Claims{}, delivery.Errorf(delivery.EUNAUTHORIZED, "missing access token (Authorization: Bearer or access_token)")
	}
	if auth.LooksLikeTrackToken(token) {
		// A viewer: no user, so not kept as the request's claims (the
		// request line names no user).
		return s.viewerClaims(c, token)
	}
	claims, err := s.cfg.Tokens.Verify(token)
	if err != nil {
		return auth.Claims{}, err
	}
	c.Locals(localClaims, claims)
	return claims, nil
}

func isUpgrade(c *fiber.Ctx) bool {
	return headerHasToken(c.Get(fiber.HeaderConnection), "upgrade") &&
		headerHasToken(c.Get(fiber.HeaderUpgrade), "websocket")
}

func headerHasToken(v, token string) bool {
	for _, t := range strings.Split(v, ",") {
		if strings.EqualFold(strings.TrimSpace(t), token) {
			return true
		}
	}
	return false
}

// originAllowed checks the Origin header against AllowedOrigins: an
// entry is "*", an origin ("https://app.example.com") or a host pattern
// ("*.example.com", path.Match syntax). Without entries only the same
// origin passes. Clients that send no Origin (not browsers) are not
// subject to cross-site request forgery and pass.
func (s *Server) originAllowed(c *fiber.Ctx) bool {
	origin := c.Get(fiber.HeaderOrigin)
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if len(s.cfg.AllowedOrigins) == 0 {
		return strings.EqualFold(u.Host, string(c.Request().Host()))
	}
	for _, allowed := range s.cfg.AllowedOrigins {
		allowed = strings.ToLower(strings.TrimSpace(allowed))
		switch {
		case allowed == "*":
			return true
		case strings.Contains(allowed, "://"):
			if allowed == strings.ToLower(strings.TrimSuffix(origin, "/")) {
				return true
			}
		default:
			if ok, _ := path.Match(allowed, strings.ToLower(u.Host)); ok {
				return true
			}
		}
	}
	return false
}
