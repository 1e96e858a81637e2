package hub

import (
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// authorize decides whether a may subscribe to ch (API.md, "Channels").
// For an order channel it reads the order afresh, so that a courier
// assigned a moment ago is a party, and returns the order's current seq.
func (h *Hub) authorize(a delivery.Actor, ch wire.Channel) (int64, error) {
	admin := a.Role == delivery.RoleAdmin
	switch ch.Kind {
	case wire.KindOrder:
		ctx, cancel := h.callCtx()
		o, err := h.cfg.Store.OrderByID(ctx, ch.ID)
		cancel()
		if err != nil {
			if delivery.ErrorCode(err) == delivery.ENOTFOUND {
				return 0, delivery.Errorf(wire.CodeNotFound, "order %s not found", ch.ID)
			}
			return 0, err
		}
		if !delivery.IsParty(o, a) {
			return 0, forbidden(ch)
		}
		return o.Seq, nil
	case wire.KindUser:
		if admin || a.UserID == ch.ID {
			return 0, nil
		}
	case wire.KindRestaurant:
		if admin || (a.Role == delivery.RoleRestaurant && a.RestaurantID == ch.ID) {
			return 0, nil
		}
	case wire.KindDispatch:
		if admin || a.Role == delivery.RoleCourier {
			return 0, nil
		}
	}
	return 0, forbidden(ch)
}

func forbidden(ch wire.Channel) error {
	return delivery.Errorf(wire.CodeForbidden, "not allowed to subscribe to %s", ch)
}
