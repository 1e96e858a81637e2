package server

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/ordercast/ordercast/internal/accounts"
	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/orders"
)

func (s *Server) handleRegister(c *fiber.Ctx) error {
	var req accounts.RegisterRequest
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	sess, err := s.cfg.Accounts.Register(c.UserContext(), req)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(sess)
}

func (s *Server) handleLogin(c *fiber.Ctx) error {
	var req struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	sess, err := s.cfg.Accounts.Login(c.UserContext(), req.Email, req.Password)
	if err != nil {
		return err
	}
	return c.JSON(sess)
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

func (s *Server) handleRefresh(c *fiber.Ctx) error {
	var req refreshRequest
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	sess, err := s.cfg.Accounts.Refresh(c.UserContext(), req.RefreshToken)
	if err != nil {
		return err
	}
	return c.JSON(sess)
}

// handleLogout ends the session of the access token used. The body is
// optional: the {refresh_token} that older clients send is checked for
// shape and not needed, since the token names its session.
func (s *Server) handleLogout(c *fiber.Ctx) error {
	if len(bytes.TrimSpace(c.Body())) > 0 {
		var req refreshRequest
		if err := decodeJSON(c.Body(), &req); err != nil {
			return err
		}
	}
	claims, _ := c.Locals(localClaims).(auth.Claims)
	if err := s.cfg.Accounts.Logout(c.UserContext(), claims.Actor(), claims.SessionID); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) handleMe(c *fiber.Ctx) error {
	u, err := s.cfg.Accounts.Me(c.UserContext(), actor(c))
	if err != nil {
		return err
	}
	return c.JSON(u)
}

func (s *Server) handleListRestaurants(c *fiber.Ctx) error {
	list, err := s.cfg.Orders.ListRestaurants(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"restaurants": list})
}

func (s *Server) handleUpdateRestaurant(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in orders.RestaurantPatchInput
	if err := decodeJSON(c.Body(), &in); err != nil {
		return err
	}
	if err := checkUTF8Fields(c.Body(), "name"); err != nil {
		return err
	}
	r, err := s.cfg.Orders.UpdateRestaurant(c.UserContext(), actor(c), id, in)
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (s *Server) handleMenu(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	items, next, err := s.cfg.Orders.Menu(c.UserContext(), id, orders.MenuRequest{Limit: int(limit), Cursor: c.Query("cursor")})
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": items, "next_cursor": next})
}

func (s *Server) handleAddMenuItem(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in orders.MenuItemInput
	if err := decodeJSON(c.Body(), &in); err != nil {
		return err
	}
	item, err := s.cfg.Orders.AddMenuItem(c.UserContext(), actor(c), id, in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(item)
}

func (s *Server) handleUpdateMenuItem(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	itemID, err := delivery.ParseID(c.Params("item_id"))
	if err != nil {
		return delivery.Errorf(delivery.ENOTFOUND, "no such menu item")
	}
	var in orders.MenuItemPatchInput
	if err := decodeJSON(c.Body(), &in); err != nil {
		return err
	}
	item, err := s.cfg.Orders.UpdateMenuItem(c.UserContext(), actor(c), id, itemID, in)
	if err != nil {
		return err
	}
	return c.JSON(item)
}

func (s *Server) handlePlaceOrder(c *fiber.Ctx) error {
	var req orders.PlaceRequest
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	o, created, err := s.cfg.Orders.Place(c.UserContext(), actor(c), req, c.Get("Idempotency-Key"))
	if err != nil {
		return err
	}
	markReplay(c, created)
	return sendOrder(c.Status(fiber.StatusCreated), o)
}

func (s *Server) handleListOrders(c *fiber.Ctx) error {
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	list, next, err := s.cfg.Orders.List(c.UserContext(), actor(c), orders.ListRequest{
		Status: delivery.Status(c.Query("status")),
		Limit:  int(limit),
		Cursor: c.Query("cursor"),
	})
	if err != nil {
		return err
	}
	listed, err := s.withUnread(c, list)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"orders": listed, "next_cursor": next})
}

func (s *Server) handleGetOrder(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	o, err := s.cfg.Orders.Get(c.UserContext(), actor(c), id)
	if err != nil {
		return err
	}
	// As in the listing: the offer view, or the order with its unread count.
	shown, err := s.withUnread(c, []delivery.Order{o})
	if err != nil {
		return err
	}
	setETag(c, o.Seq)
	return c.JSON(shown[0])
}

func (s *Server) handleSetStatus(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var req struct {
		Status delivery.Status `json:"status"`
		Reason string          `json:"reason,omitempty"`
	}
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	ifMatch, err := parseIfMatch(c.Get(fiber.HeaderIfMatch))
	if err != nil {
		return err
	}
	o, err := s.cfg.Orders.SetStatus(c.UserContext(), actor(c), id, req.Status, req.Reason, ifMatch)
	if err != nil {
		return err
	}
	return sendOrder(c, o)
}

func (s *Server) handleClaim(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	o, err := s.cfg.Orders.Claim(c.UserContext(), actor(c), id)
	if err != nil {
		return err
	}
	return sendOrder(c, o)
}

func (s *Server) handleUnassign(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var req struct {
		Reason string `json:"reason"`
	}
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	if err := checkUTF8Fields(c.Body(), "reason"); err != nil {
		return err
	}
	o, err := s.cfg.Orders.Unassign(c.UserContext(), actor(c), id, req.Reason)
	if err != nil {
		return err
	}
	return sendOrder(c, o)
}

func (s *Server) handleEvents(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	after, err := queryInt(c, "after")
	if err != nil {
		return err
	}
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	events, err := s.cfg.Orders.Events(c.UserContext(), actor(c), id, after, int(limit))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"events": events})
}

// markReplay marks the answer to a retried idempotent create: the same
// status and resource as the first answer, and a header to tell them apart.
func markReplay(c *fiber.Ctx, created bool) {
	if !created {
		c.Set("Idempotent-Replayed", "true")
	}
}

// sendOrder answers with the order and its seq as ETag, the value a client
// sends back in If-Match.
func sendOrder(c *fiber.Ctx, o delivery.Order) error {
	setETag(c, o.Seq)
	return c.JSON(o)
}

func setETag(c *fiber.Ctx, seq int64) {
	c.Set(fiber.HeaderETag, strconv.Quote(strconv.FormatInt(seq, 10)))
}

func pathID(c *fiber.Ctx) (delivery.ID, error) {
	id, err := delivery.ParseID(c.Params("id"))
	if err != nil {
		return 0, delivery.Errorf(delivery.ENOTFOUND, "no such resource")
	}
	return id, nil
}

// queryInt parses an optional integer query parameter (0 when absent).
func queryInt(c *fiber.Ctx, name string) (int64, error) {
	v := c.Query(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, delivery.Errorf(delivery.EINVALID, "%s: must be an integer", name)
	}
	return n, nil
}

// parseIfMatch reads an If-Match header holding a seq, bare (5), as the
// ETag we send ("5") or weak (W/"5"); absent or "*" (any version: the
// order exists) means no precondition.
func parseIfMatch(h string) (*int64, error) {
	h = strings.TrimPrefix(strings.TrimSpace(h), "W/")
	if h == "" || h == "*" {
		return nil, nil
	}
	seq, err := strconv.ParseInt(strings.Trim(h, `"`), 10, 64)
	if err != nil || seq < 0 {
		return nil, delivery.Errorf(delivery.EINVALID, "If-Match: must be the order's seq")
	}
	return &seq, nil
}
