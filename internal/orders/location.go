package orders

import (
	"context"

	"github.com/ordercast/ordercast/internal/delivery"
)

// UpdateLocation accepts a position of courier a (POST
// /couriers/me/location and the websocket location frame): it validates
// it (delivery.CheckLocation, at the service's clock), keeps it as the
// courier's last position unless that is newer (then EINVALID naming
// ts), and hands it with the courier's active orders to the
// LocationPublisher. A courier without an active order publishes nowhere.
func (s *Service) UpdateLocation(ctx context.Context, a delivery.Actor, u delivery.LocationUpdate) (delivery.Location, error) {
	if a.Role != delivery.RoleCourier {
		return delivery.Location{}, delivery.Errorf(delivery.EFORBIDDEN, "only couriers send their position")
	}
	loc, err := delivery.CheckLocation(a.UserID, u, s.now())
	if err != nil {
		return delivery.Location{}, err
	}
	stored, err := s.locations.Put(ctx, loc)
	if err != nil {
		return delivery.Location{}, err
	}
	if !stored {
		return delivery.Location{}, delivery.Errorf(delivery.EINVALID, "ts: older than the last accepted position")
	}
	active, err := s.store.ActiveOrdersOfCourier(ctx, a.UserID)
	if err != nil {
		return delivery.Location{}, err
	}
	if len(active) > 0 && s.locPub != nil {
		s.locPub.PublishLocation(ctx, loc, active)
	}
	return loc, nil
}

// LastLocation returns the last position of the order's courier for a
// party of the order (what the hub sends on subscribe), and ok=false when
// there is none to show (delivery.ShowsLocation): no courier, no position
// yet, the order is not active (nothing is shown once it was delivered),
// the position was taken before the courier's assignment to this order,
// or it is older than delivery.MaxLocationAge. A non-party gets
// EFORBIDDEN, never a position.
func (s *Service) LastLocation(ctx context.Context, a delivery.Actor, orderID delivery.ID) (delivery.Location, bool, error) {
	o, err := s.store.OrderByID(ctx, orderID)
	if err != nil {
		return delivery.Location{}, false, err
	}
	if !delivery.IsParty(o, a) {
		return delivery.Location{}, false, forbidden()
	}
	if !delivery.IsActiveDelivery(o) {
		return delivery.Location{}, false, nil
	}
	loc, ok, err := s.locations.Get(ctx, *o.CourierID)
	if err != nil || !ok || !delivery.ShowsLocation(o, loc, s.now()) {
		return delivery.Location{}, false, err
	}
	return loc, true, nil
}
