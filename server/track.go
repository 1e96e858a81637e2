package server

import (
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
)

// Tracking links (API.md, "Tracking links"): the customer creates and
// deletes them; their tokens open GET /track/{token} and, as a viewer,
// the track:{order_id} channel over /ws and /sse, and nothing else.

// The paths that carry a token, logged by their pattern only
// (loggedPath).
const (
	trackAPIPrefix  = "/api/v1/track/"
	trackPagePrefix = "/t/"
)

func (s *Server) mountTrack(api fiber.Router) {
	api.Post("/orders/:id/track-links", s.requireAuth, s.handleCreateTrackLink)
	api.Get("/orders/:id/track-links", s.requireAuth, s.handleListTrackLinks)
	api.Delete("/orders/:id/track-links/:link_id", s.requireAuth, s.handleDeleteTrackLink)
	api.Get("/track/:token", s.handleTrack)
}

func (s *Server) handleCreateTrackLink(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	made, err := s.cfg.Orders.CreateTrackLink(c.UserContext(), actor(c), id)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{
		"id": made.Link.ID, "token": made.Token, "url": c.BaseURL() + trackPagePrefix + made.Token, "expires_at": expiresAt(made.ExpiresAt),
	})
}

// expiresAt is a link's expires_at: null while its order is active.
func expiresAt(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format("2006-01-02T15:04:05.999999Z07:00")
	return &s
}

type listedTrackLink struct {
	ID        delivery.ID `json:"id"`
	CreatedAt time.Time   `json:"created_at"`
	ExpiresAt *string     `json:"expires_at"`
}

func (s *Server) handleListTrackLinks(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	links, exp, err := s.cfg.Orders.TrackLinks(c.UserContext(), actor(c), id)
	if err != nil {
		return err
	}
	out := make([]listedTrackLink, len(links))
	for i, l := range links {
		out[i] = listedTrackLink{ID: l.ID, CreatedAt: l.CreatedAt, ExpiresAt: expiresAt(exp)}
	}
	return c.JSON(fiber.Map{"links": out})
}

func (s *Server) handleDeleteTrackLink(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	link, err := delivery.ParseID(c.Params("link_id"))
	if err != nil {
		return delivery.Errorf(delivery.ENOTFOUND, "no such tracking link")
	}
	if err := s.cfg.Orders.DeleteTrackLink(c.UserContext(), actor(c), id, link); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// handleTrack needs no account: the token is the authorization. Unknown,
// deleted and expired tokens are 404 alike.
func (s *Server) handleTrack(c *fiber.Ctx) error {
	view, err := s.cfg.Orders.Track(c.UserContext(), c.Params("token"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(view)
}

// viewerClaims are the claims of a tracking link's holder on /ws and
// /sse: the viewer role, the link's order, its session
// (delivery.TrackSession, which the link's deletion ends) and, once the
// order ended, the link's expiry. A link that opens nothing is 401, as
// any other bad token of a handshake.
func (s *Server) viewerClaims(c *fiber.Ctx, token string) (auth.Claims, error) {
	link, o, err := s.cfg.Orders.Viewer(c.UserContext(), token)
	if err != nil {
		if delivery.ErrorCode(err) == delivery.ENOTFOUND {
			return auth.Claims{}, delivery.Errorf(delivery.EUNAUTHORIZED, "invalid token")
		}
		return auth.Claims{}, err
	}
	return auth.Claims{
		Role: delivery.RoleViewer, Order: o.ID, SessionID: delivery.TrackSession(link.ID),
		ExpiresAt: delivery.TrackExpiry(o),
	}, nil
}

// connOwner is whom the connection caps count a socket or stream
// against: its user, or for a viewer the tracked order (negated, so that
// no user id is one), whose viewers together hold as many as a user does.
func connOwner(claims auth.Claims) delivery.ID {
	if claims.Role == delivery.RoleViewer {
		return -claims.Order
	}
	return claims.UserID
}

// loggedPath is the path a request line names: the route's pattern for
// the paths that carry a tracking token, the path itself for the others.
// Routing ignores case, and a path that matches no route is logged too,
// so the prefixes are looked for in the path as a client may spell it:
// any case, escaped, with repeated slashes.
func loggedPath(path string) string {
	norm := strings.ToLower(path)
	if unescaped, err := url.PathUnescape(norm); err == nil {
		norm = unescaped
	}
	for strings.Contains(norm, "//") {
		norm = strings.ReplaceAll(norm, "//", "/")
	}
	switch {
	case strings.HasPrefix(norm, trackAPIPrefix):
		return trackAPIPrefix + "{token}"
	case strings.HasPrefix(norm, trackPagePrefix):
		return trackPagePrefix + "{token}"
	}
	return path
}
