package server

import (
	"net"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"github.com/ordercast/ordercast/internal/delivery"
)

// handleSSE is GET /sse, the event stream for clients that cannot hold a
// websocket: the same checks as the handshake of /ws while an HTTP answer
// is still possible (origin, token, the channels asked for, the
// connection caps), then the raw connection goes to the hub, which writes
// the response. A refusal is counted by its reason.
func (s *Server) handleSSE(c *fiber.Ctx) error {
	return s.metrics.refused("sse", s.startSSE(c))
}

func (s *Server) startSSE(c *fiber.Ctx) error {
	if s.cfg.Hub.Closing() {
		return refuseRestarting(c)
	}
	if !s.originAllowed(c) {
		return delivery.Errorf(delivery.EFORBIDDEN, "origin not allowed")
	}
	claims, err := s.realtimeClaims(c)
	if err != nil {
		return err
	}
	// Browsers resend the last id by themselves; a client that cannot set
	// headers gives it in the query.
	lastID := c.Get("Last-Event-ID")
	if lastID == "" {
		lastID = c.Query("last_event_id")
	}
	stream, err := s.cfg.Hub.ParseSSE(c.Query("channels"), lastID)
	if err != nil {
		return err
	}
	held, err := s.holdSocket(c, connOwner(claims)) // the connection caps
	if err != nil {
		return err
	}
	header := http.Header{}
	if origin := c.Get(fiber.HeaderOrigin); origin != "" {
		// EventSource is a CORS request: an allowed origin must be told so.
		header.Set(fiber.HeaderAccessControlAllowOrigin, origin)
		header.Set(fiber.HeaderVary, fiber.HeaderOrigin)
	}
	hub, log, id := s.cfg.Hub, requestLogger(c), requestIDOf(c)
	handOver(c, held, func(conn net.Conn) {
		if err := hub.ServeSSE(conn, claims, stream, header, id); err != nil {
			log.Warn().Err(err).Str("user_id", claims.UserID.String()).Msg("event stream start")
		}
	})
	return nil
}
