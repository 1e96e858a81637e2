package orders

import (
	"context"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// MaySubscribe decides whether a may subscribe to channel (API.md,
// "Channels") and returns, for an order channel, the order's current seq.
// It reads the order afresh, so that a courier assigned a moment ago is a
// party. A malformed name is EINVALID, a missing order ENOTFOUND, anything
// else a may not hold EFORBIDDEN.
func (s *Service) MaySubscribe(ctx context.Context, a delivery.Actor, channel string) (int64, error) {
	ch, err := wire.ParseChannel(channel)
	if err != nil {
		return 0, err
	}
	if a.Role == delivery.RoleViewer || ch.Kind == wire.KindTrack {
		// A tracking link opens its order's track channel, and a track
		// channel nobody else.
		_, err := s.viewerOrder(ctx, a, ch)
		return 0, err
	}
	admin := a.Role == delivery.RoleAdmin
	switch ch.Kind {
	case wire.KindOrder:
		o, err := s.store.OrderByID(ctx, ch.ID)
		if err != nil {
			return 0, err
		}
		if !delivery.IsParty(o, a) {
			return 0, forbiddenChannel(ch)
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
	case wire.KindOps:
		if admin {
			return 0, nil
		}
	}
	return 0, forbiddenChannel(ch)
}

// viewerOrder reads the order of track channel ch for the viewer a of
// it; any other actor or channel is EFORBIDDEN, and so is an order whose
// links expired meanwhile.
func (s *Service) viewerOrder(ctx context.Context, a delivery.Actor, ch wire.Channel) (delivery.Order, error) {
	if a.Role != delivery.RoleViewer || ch.Kind != wire.KindTrack || a.Order != ch.ID {
		return delivery.Order{}, forbiddenChannel(ch)
	}
	o, err := s.store.OrderByID(ctx, ch.ID)
	if err != nil {
		return delivery.Order{}, err
	}
	if exp := delivery.TrackExpiry(o); !exp.IsZero() && !s.now().Before(exp) {
		return delivery.Order{}, forbiddenChannel(ch)
	}
	return o, nil
}

func forbiddenChannel(ch wire.Channel) error {
	return delivery.Errorf(delivery.EFORBIDDEN, "not allowed to subscribe to %s", ch)
}
