package server

import (
	"github.com/gofiber/fiber/v2"

	"github.com/ordercast/ordercast/internal/delivery"
)

// Chat and courier location. The websocket frames call the same service
// methods through the hub; the service spends the per-user budgets of
// both (Limits).

func (s *Server) handlePostMessage(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var req delivery.MessageInput
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	if err := checkUTF8Fields(c.Body(), "text", "client_msg_id"); err != nil {
		return err
	}
	m, created, err := s.cfg.Orders.PostMessage(c.UserContext(), actor(c), id, req)
	if err != nil {
		return err
	}
	markReplay(c, created)
	return c.Status(fiber.StatusCreated).JSON(m)
}

func (s *Server) handleMessages(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	before, err := queryInt(c, "before")
	if err != nil {
		return err
	}
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	page, err := s.cfg.Orders.Messages(c.UserContext(), actor(c), id, before, int(limit))
	if err != nil {
		return err
	}
	return c.JSON(page)
}

// handleMarkRead is POST /orders/{id}/read {seq}, the REST twin of the
// websocket read frame (an addition to API.md).
func (s *Server) handleMarkRead(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var req struct {
		Seq int64 `json:"seq"`
	}
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	mark, moved, err := s.cfg.Orders.MarkRead(c.UserContext(), actor(c), id, req.Seq)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"read": mark, "moved": moved})
}

func (s *Server) handleUpdateLocation(c *fiber.Ctx) error {
	var req delivery.LocationUpdate
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	loc, err := s.cfg.Orders.UpdateLocation(c.UserContext(), actor(c), req)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(loc)
}

// handleLastLocation is GET /orders/{id}/location (an addition to
// API.md): what a subscriber of order:{id} gets first, for clients
// without a socket. location is null when there is nothing to show.
func (s *Server) handleLastLocation(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	loc, ok, err := s.cfg.Orders.LastLocation(c.UserContext(), actor(c), id)
	if err != nil {
		return err
	}
	if !ok {
		return c.JSON(fiber.Map{"location": nil})
	}
	return c.JSON(fiber.Map{"location": loc})
}

// listedOrder is an order of GET /orders with the caller's unread count
// and the places its current courier has arrived at.
type listedOrder struct {
	delivery.Order
	Unread  int                        `json:"unread"`
	Arrived map[delivery.Arrival]int64 `json:"arrived,omitempty"`
}

// arrivedOf gives, by place, the ts of the courier.arrived of the order's
// current courier: what a page loaded after the event shows ("the
// courier is here") without replaying the order's log. A stay whose
// arrival was another courier's has no Last (the store starts a new
// courier's record afresh, keeping only the flag), so it is left out.
func arrivedOf(o delivery.Order) map[delivery.Arrival]int64 {
	var out map[delivery.Arrival]int64
	for _, at := range []delivery.Arrival{delivery.AtPickup, delivery.AtDropoff} {
		if st := o.StayAt(at); st.Arrived && st.Last > 0 {
			if out == nil {
				out = map[delivery.Arrival]int64{}
			}
			out[at] = st.Last
		}
	}
	return out
}

// withUnread adds the caller's unread counts to a page of orders, with
// one store query for the page; an order the caller sees only as an offer
// is listed as its offer view (delivery.SeesOffer), with no unread count.
func (s *Server) withUnread(c *fiber.Ctx, list []delivery.Order) ([]any, error) {
	a := actor(c)
	unread, err := s.cfg.Orders.Unread(c.UserContext(), a, list)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(list))
	for i, o := range list {
		if delivery.SeesOffer(o, a) {
			out[i] = delivery.Offer(o)
		} else {
			out[i] = listedOrder{Order: o, Unread: unread[o.ID], Arrived: arrivedOf(o)}
		}
	}
	return out, nil
}
