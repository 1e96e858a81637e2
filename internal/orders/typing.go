package orders

import (
	"context"

	"github.com/ordercast/ordercast/internal/delivery"
)

// MayType returns the chat.typing publication of a on the order when a
// may tell the other parties that it is typing (the websocket typing
// frame): as for PostMessage, a party taking part in the chat while it is
// open. Typing stores nothing; the hub coalesces and publishes it.
func (s *Service) MayType(ctx context.Context, a delivery.Actor, orderID delivery.ID) (delivery.Publication, error) {
	o, err := s.store.OrderByID(ctx, orderID)
	if err != nil {
		return delivery.Publication{}, err
	}
	if err := canChat(o, a); err != nil {
		return delivery.Publication{}, err
	}
	now := s.now()
	if delivery.ChatClosed(o, now) {
		return delivery.Publication{}, delivery.Errorf(delivery.ECHATCLOSED, "chat closed: the order was %s more than %s ago", o.Status, delivery.ChatCloseAfter)
	}
	return typingPub(orderID, a, now), nil
}
