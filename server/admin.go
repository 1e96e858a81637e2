package server

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/ops"
)

// Ops is the fleet's view for GET /api/v1/ops/stats; *ops.Monitor is one.
type Ops interface {
	Stats(ctx context.Context) ops.Stats
}

// mountAdmin mounts the operator's routes: the fleet's figures and the
// actions of the operator page. Every one is for admins only (403).
func (s *Server) mountAdmin(api fiber.Router) {
	if s.cfg.Ops != nil {
		api.Get("/ops/stats", s.requireAuth, s.handleOpsStats)
	}
	api.Get("/admin/users", s.requireAuth, s.handleFindUser)
	api.Post("/admin/users/:id/revoke", s.requireAuth, s.handleRevokeUser)
}

// handleOpsStats is GET /api/v1/ops/stats: every live instance, the
// health of the store and Redis, the outbox's lag, the last errors.
func (s *Server) handleOpsStats(c *fiber.Ctx) error {
	if actor(c).Role != delivery.RoleAdmin {
		return delivery.Errorf(delivery.EFORBIDDEN, "admins only")
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(s.cfg.Ops.Stats(c.UserContext()))
}

// handleFindUser is GET /api/v1/admin/users?email=E.
func (s *Server) handleFindUser(c *fiber.Ctx) error {
	u, err := s.cfg.Accounts.FindUser(c.UserContext(), actor(c), c.Query("email"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"user": u})
}

// handleRevokeUser is POST /api/v1/admin/users/{id}/revoke: ends every
// session of the user, as ordercast admin revoke does.
func (s *Server) handleRevokeUser(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	n, err := s.cfg.Accounts.RevokeUser(c.UserContext(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"sessions_revoked": n})
}
