package server

import (
	"github.com/gofiber/fiber/v2"

	"github.com/ordercast/ordercast/internal/push"
)

// Web Push: the VAPID public key a browser subscribes with, and the
// subscriptions of the caller (internal/push sends to them).

func (s *Server) mountPush(api fiber.Router) {
	if s.cfg.Push == nil {
		return
	}
	api.Get("/push/key", s.handlePushKey)
	api.Post("/push/subscriptions", s.requireAuth, s.handleSubscribe)
	api.Delete("/push/subscriptions", s.requireAuth, s.handleUnsubscribe)
}

func (s *Server) handlePushKey(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"public_key": s.cfg.Push.PublicKey()})
}

func (s *Server) handleSubscribe(c *fiber.Ctx) error {
	var in push.SubscriptionInput
	if err := decodeJSON(c.Body(), &in); err != nil {
		return err
	}
	if err := checkUTF8Fields(c.Body(), "endpoint"); err != nil {
		return err
	}
	sub, err := s.cfg.Push.Subscribe(c.UserContext(), actor(c), in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(sub)
}

func (s *Server) handleUnsubscribe(c *fiber.Ctx) error {
	var req struct {
		Endpoint string `json:"endpoint"`
	}
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	if err := checkUTF8Fields(c.Body(), "endpoint"); err != nil {
		return err
	}
	if err := s.cfg.Push.Unsubscribe(c.UserContext(), actor(c), req.Endpoint); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
