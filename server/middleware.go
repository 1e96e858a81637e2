package server

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
)

const (
	localRequestID        = "request_id"
	localLogger           = "logger"
	localClaims           = "claims"
	maxRequestID          = 64
	defaultRequestTimeout = 15 * time.Second
)

// requestID takes the caller's X-Request-ID when it is short and plain,
// else makes one: the next of the server's ids, which start at a random
// number (so that instances do not share them) and count up, without a
// random read per request. The id is a string of its own, not a view of
// fasthttp's buffer: a socket's log lines carry it long after the request.
func (s *Server) requestID(c *fiber.Ctx) string {
	id := c.Get(fiber.HeaderXRequestID)
	if id == "" || len(id) > maxRequestID || strings.ContainsFunc(id, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], s.requestIDs.Add(1))
		return hex.EncodeToString(b[:])
	}
	return strings.Clone(id)
}

// requestIDOf is the id logRequests gave the request.
func requestIDOf(c *fiber.Ctx) string {
	id, _ := c.Locals(localRequestID).(string)
	return id
}

// logRequests writes one line per request. Only the path is logged, never
// the query string (browsers put access tokens there) nor any header, and
// of a path that carries a tracking token only its pattern (loggedPath).
func (s *Server) logRequests(c *fiber.Ctx) error {
	start := time.Now()
	s.metrics.inFlight.Inc()
	defer s.metrics.inFlight.Dec()
	id := s.requestID(c)
	c.Set(fiber.HeaderXRequestID, id)
	// The request's logger is made only when something logs (requestLogger):
	// at LOG_LEVEL=warn most requests log nothing.
	c.Locals(localLogger, &s.cfg.Log)
	c.Locals(localRequestID, id)
	// Store and service calls of the request end with it, at the latest.
	ctx, cancel := context.WithTimeout(c.UserContext(), s.cfg.RequestTimeout)
	defer cancel()
	c.SetUserContext(ctx)
	err := c.Next()
	if err != nil {
		// Answer now so that the line below logs the real status.
		if werr := writeError(c, err); werr != nil {
			requestLogger(c).Error().Err(werr).Msg("write error response")
		}
	}
	s.metrics.observe(c, start)
	status := c.Response().StatusCode()
	if status == fiber.StatusTooManyRequests {
		s.rateLimited.Add(1)
	}
	ev := s.cfg.Log.Info()
	if status >= 500 {
		ev = s.cfg.Log.Error()
	}
	ev = ev.Str(localRequestID, id)
	if claims, ok := c.Locals(localClaims).(auth.Claims); ok {
		ev = ev.Str("user_id", claims.UserID.String())
	}
	ev.Str("method", c.Method()).
		Str("path", loggedPath(c.Path())).
		Int("status", status).
		Dur("latency_ms", time.Since(start)).
		Msg("request")
	return nil
}

// requestLogger is a logger of the request's lines (with its request id).
func requestLogger(c *fiber.Ctx) *zerolog.Logger {
	if base, ok := c.Locals(localLogger).(*zerolog.Logger); ok {
		l := base.With().Str(localRequestID, requestIDOf(c)).Logger()
		return &l
	}
	l := zerolog.Nop()
	return &l
}

// requireAuth verifies the bearer access token and keeps its claims for
// the handler; without a valid token the request ends with 401.
func (s *Server) requireAuth(c *fiber.Ctx) error {
	token, ok := bearerToken(c.Get(fiber.HeaderAuthorization))
	if !ok {
		return delivery.Errorf(delivery.EUNAUTHORIZED, "missing bearer token")
	}
	claims, err := s.cfg.Tokens.Verify(token)
	if err != nil {
		return err
	}
	c.Locals(localClaims, claims)
	return c.Next()
}

// bearerToken extracts the token of an "Authorization: Bearer …" header.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// actor is the authenticated caller; only valid behind requireAuth.
func actor(c *fiber.Ctx) delivery.Actor {
	claims, _ := c.Locals(localClaims).(auth.Claims)
	return claims.Actor()
}
