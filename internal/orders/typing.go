package orders

import (
	"context"

	"github.com/ordercast/ordercast/internal/delivery"
)

// CanType returns nil when a may tell the other parties that it is
// typing in the order's chat (the websocket typing frame): as for
// PostMessage, a party taking part in the chat while it is open. Typing
// stores nothing; the hub publishes and coalesces it.
func (s *Service) CanType(ctx context.Context, a delivery.Actor, orderID delivery.ID) error {
	o, err := s.store.OrderByID(ctx, orderID)
	if err != nil {
		return err
	}
	if err := canChat(o, a); err != nil {
		return err
	}
	if delivery.ChatClosed(o, s.now()) {
		return delivery.Errorf(delivery.ECHATCLOSED, "chat closed: the order was %s more than %s ago", o.Status, delivery.ChatCloseAfter)
	}
	return nil
}
