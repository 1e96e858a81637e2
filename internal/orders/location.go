package orders

import (
	"context"
	"encoding/json"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// UpdateLocation accepts a position of courier a (POST
// /couriers/me/location and the websocket location frame): it spends one
// of the courier's positions (Limits), validates it
// (delivery.CheckLocation, at the service's clock), keeps it as the
// courier's last position unless that is newer (then EINVALID naming ts),
// and publishes it to the channels of the courier's active orders that
// may show it (routeLocation; the orders as ActiveCache keeps them), then
// follows those deliveries (follow: arrivals and ETAs). A courier without
// an active order publishes nowhere.
func (s *Service) UpdateLocation(ctx context.Context, a delivery.Actor, u delivery.LocationUpdate) (delivery.Location, error) {
	if a.Role != delivery.RoleCourier {
		return delivery.Location{}, delivery.Errorf(delivery.EFORBIDDEN, "only couriers send their position")
	}
	if err := s.limits.Position(a.UserID); err != nil {
		return delivery.Location{}, err
	}
	now := s.now()
	loc, err := delivery.CheckLocation(a.UserID, u, now)
	if err != nil {
		return delivery.Location{}, err
	}
	prev, stored, err := s.locations.Put(ctx, loc)
	if err != nil {
		return delivery.Location{}, err
	}
	if !stored {
		return delivery.Location{}, delivery.Errorf(delivery.EINVALID, "ts: older than the last accepted position")
	}
	active, err := s.active.get(ctx, a.UserID, s.store.ActiveOrdersOfCourier)
	if err != nil {
		return delivery.Location{}, err
	}
	pubs, err := routeLocation(loc, active, now)
	if err != nil {
		return delivery.Location{}, err
	}
	s.publishEphemeral(ctx, pubs)
	s.follow(ctx, loc, prev, active, now)
	return loc, nil
}

// LastLocation returns the last position of the order's courier for a
// party of the order (GET /orders/{id}/location), and ok=false when there
// is none to show (delivery.ShowsLocation): no courier, no position yet,
// the order is not active (nothing is shown once it was delivered), the
// position was taken before the courier's assignment to this order, or it
// is older than delivery.MaxLocationAge. A non-party gets EFORBIDDEN,
// never a position.
func (s *Service) LastLocation(ctx context.Context, a delivery.Actor, orderID delivery.ID) (delivery.Location, bool, error) {
	o, err := s.partyOrder(ctx, a, orderID)
	if err != nil {
		return delivery.Location{}, false, err
	}
	return s.lastLocation(ctx, o)
}

// partyOrder reads the order for a party of it; anyone else gets
// EFORBIDDEN.
func (s *Service) partyOrder(ctx context.Context, a delivery.Actor, orderID delivery.ID) (delivery.Order, error) {
	o, err := s.store.OrderByID(ctx, orderID)
	if err != nil {
		return delivery.Order{}, err
	}
	if !delivery.IsParty(o, a) {
		return delivery.Order{}, forbidden()
	}
	return o, nil
}

// lastLocation is the courier's last position that o's parties may see.
func (s *Service) lastLocation(ctx context.Context, o delivery.Order) (delivery.Location, bool, error) {
	if !delivery.IsActiveDelivery(o) {
		return delivery.Location{}, false, nil
	}
	loc, ok, err := s.locations.Get(ctx, *o.CourierID)
	if err != nil || !ok || !delivery.ShowsLocation(o, loc, s.now()) {
		return delivery.Location{}, false, err
	}
	return loc, true, nil
}

// Latest returns the latest-value events a new subscriber of channel
// gets after its replay: on a track channel first the order's status as
// the tracking view; on it and on an order channel, the courier's last
// position while the order is an active delivery, and the order's ETA
// while it has one; each AsOf the order's seq when it was read (a
// subscriber already given a later event, which may have ended the
// delivery, does not get it). Other channels have none.
func (s *Service) Latest(ctx context.Context, a delivery.Actor, channel string) ([]delivery.Publication, error) {
	ch, err := wire.ParseChannel(channel)
	if err != nil || (ch.Kind != wire.KindOrder && ch.Kind != wire.KindTrack) {
		return nil, err
	}
	var o delivery.Order
	var pubs []delivery.Publication
	now := s.now()
	if ch.Kind == wire.KindTrack {
		if o, err = s.viewerOrder(ctx, a, ch); err != nil {
			return nil, err
		}
		// The tracking view's current state comes first: its status (and,
		// once the order ended, when the links expire).
		data, expires, err := trackStatus(o)
		if err != nil {
			return nil, err
		}
		pubs = append(pubs, delivery.Publication{Channel: channel, Event: delivery.EventOrderStatus, Data: data,
			Ts: now.UnixMilli(), AsOf: o.Seq, Expires: expires})
	} else if o, err = s.partyOrder(ctx, a, ch.ID); err != nil {
		return nil, err
	}
	loc, ok, err := s.lastLocation(ctx, o)
	if err != nil {
		return nil, err
	}
	if ok {
		data, err := loc.AppendJSON(nil)
		if err != nil {
			return nil, err // plain numbers: cannot happen
		}
		pubs = append(pubs, locationPub(channel, o.Seq, loc, data, now))
	}
	if o.ETA != nil {
		data, err := json.Marshal(o.ETA)
		if err != nil {
			return nil, err // plain fields: cannot happen
		}
		pubs = append(pubs, etaPub(channel, o.Seq, data, now.UnixMilli()))
	}
	return pubs, nil
}
