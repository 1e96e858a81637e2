package orders

import (
	"context"
	"errors"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/geo"
)

// Following a delivery: what a courier's position, or a change of the
// order, implies beyond itself, decided by internal/geo from what the store
// holds (so that every instance decides alike) and written back with a
// compare and set: arrivals (courier.arrived, durable) and the ETA
// (order.eta, ephemeral, latest value).

// follow applies an accepted position loc (prev: the courier's position
// before it, as the position store had it) to each of the courier's
// active orders that may show it: the stay near the place the order heads
// for, then its ETA. The position is accepted and published already;
// what it implies that fails to be written is logged, and the next
// position tries again.
func (s *Service) follow(ctx context.Context, loc delivery.Location, prev *delivery.Location, active []delivery.ActiveOrder, now time.Time) {
	pos := delivery.Place{Lat: loc.Lat, Lng: loc.Lng}
	speed := geo.Speed(loc, prev)
	var prevTs int64
	if prev != nil {
		prevTs = prev.Ts
	}
	for _, o := range active {
		if !delivery.ShowsLocationOf(o, loc, now) {
			continue // taken before the assignment: not this delivery's
		}
		seq, stale, err := s.stay(ctx, o, loc, pos, prevTs)
		if stale {
			// This instance's copy of the order was behind the store's
			// (another instance's position wrote the stay): once more from
			// the store's, as a position that read it would have.
			fresh, ok, rerr := s.reread(ctx, loc.CourierID, o.ID)
			if rerr != nil {
				s.log.Warn().Err(rerr).Str("order_id", o.ID.String()).Msg("read the courier's active orders")
			}
			if !ok {
				continue // no longer active, or not read
			}
			o = fresh
			seq, _, err = s.stay(ctx, o, loc, pos, prevTs)
		}
		if err != nil {
			s.log.Warn().Err(err).Str("order_id", o.ID.String()).Msg("record the courier's stay")
		}
		o.Seq = seq
		s.estimate(ctx, o, geo.TripOf(o, &pos, speed), now)
	}
}

// stay records what the position does to the order's stay at the place it
// heads for, if it has one, and appends courier.arrived when that stay
// completes. It returns the order's seq afterwards, and stale when the
// stay in the store was not o's: nothing was written, and the courier's
// cached orders are forgotten.
func (s *Service) stay(ctx context.Context, o delivery.ActiveOrder, loc delivery.Location, pos delivery.Place, prevTs int64) (int64, bool, error) {
	at, ok := delivery.ArrivalOf(o.Status)
	place := o.Place(at)
	if !ok || place == nil {
		return o.Seq, false, nil
	}
	was := o.Stay(at)
	step := geo.Step(was, *place, pos, loc.Ts, prevTs)
	switch {
	case !step.Write:
		return o.Seq, false, nil
	case !step.Arrived:
		wrote, err := s.store.RecordStay(ctx, o.ID, loc.CourierID, at, was, step.Next)
		switch {
		case err != nil:
			return o.Seq, false, err
		case !wrote:
			s.active.forget(loc.CourierID)
			return o.Seq, true, nil
		}
		s.active.stayRecorded(loc.CourierID, o.ID, at, step.Next)
		return o.Seq, false, nil
	}
	after, err := s.update(ctx, o.ID, func(cur *delivery.Order) (delivery.Change, error) {
		// The arrival is decided over the stay as read: if another
		// instance changed it first, this one did not happen. The flag,
		// set in this transaction, makes it once per order and place.
		stay := cur.StayAt(at)
		if heads, _ := delivery.ArrivalOf(cur.Status); cur.CourierID == nil || *cur.CourierID != loc.CourierID || heads != at || stay.Arrived || stay != was {
			return delivery.Change{}, errStayMoved
		}
		cur.SetStayAt(at, step.Next)
		return delivery.Change{Type: delivery.EventCourierArrived, Data: delivery.Arrived{
			OrderID: o.ID, CourierID: loc.CourierID, At: at, Ts: loc.Ts,
		}}, nil
	})
	switch {
	case errors.Is(err, errStayMoved):
		s.active.forget(loc.CourierID)
		return o.Seq, true, nil
	case err != nil:
		return o.Seq, false, err
	}
	return after.Seq, false, nil
}

// reread reads the courier's active orders from the store again (the
// cache forgot them) and returns the one of them with id; ok=false when it
// is no longer among them.
func (s *Service) reread(ctx context.Context, courier, id delivery.ID) (delivery.ActiveOrder, bool, error) {
	active, err := s.active.get(ctx, courier, s.store.ActiveOrdersOfCourier)
	if err != nil {
		return delivery.ActiveOrder{}, false, err
	}
	for _, o := range active {
		if o.ID == id {
			return o, true, nil
		}
	}
	return delivery.ActiveOrder{}, false, nil
}

// errStayMoved refuses an arrival whose stay changed since it was read.
var errStayMoved = errors.New("orders: the stay moved")

// estimate stores and publishes the order's ETA on trip if it is due
// (geo.Due) and no other instance stored one first (Store.StoreETA), and
// returns it; nil when it stored none.
func (s *Service) estimate(ctx context.Context, o delivery.ActiveOrder, trip geo.Trip, now time.Time) *delivery.ETA {
	eta, ok := geo.Estimate(trip, now)
	if !ok || !geo.Due(o.ETA, eta) {
		return nil
	}
	var wasAt int64
	if o.ETA != nil {
		wasAt = o.ETA.At
	}
	stored, err := s.store.StoreETA(ctx, o.ID, o.Status, wasAt, eta)
	if err != nil {
		s.log.Warn().Err(err).Str("order_id", o.ID.String()).Msg("store the ETA")
		return nil
	}
	if !stored {
		s.active.forget(o.CourierID) // another instance's estimate is the order's
		return nil
	}
	s.active.etaStored(o.CourierID, o.ID, eta)
	pubs, err := routeETA(o, eta, now)
	if err != nil {
		s.log.Error().Err(err).Str("order_id", o.ID.String()).Msg("route the ETA")
		return &eta
	}
	s.publishEphemeral(ctx, pubs)
	return &eta
}

// reestimate gives the order, just changed, its ETA as the change leaves
// it (a first one when accepted; the pickup moving when the food is
// ready, or when a courier is assigned or taken off; the basis changing
// at the pickup), from the courier's last position if there is one to go
// by. An order without an ETA now (placed, ended) gets none. It returns
// o with the ETA it stored, if any.
func (s *Service) reestimate(ctx context.Context, o delivery.Order) delivery.Order {
	if _, ok := delivery.ArrivalOf(o.Status); !ok {
		return o
	}
	r, err := s.store.RestaurantByID(ctx, o.RestaurantID)
	if err != nil {
		s.log.Warn().Err(err).Str("order_id", o.ID.String()).Msg("read the restaurant for the ETA")
		return o
	}
	now := s.now()
	active := delivery.ActiveOf(o, r.PrepMinutes)
	var courier *delivery.Place
	var speed float64
	if o.CourierID != nil {
		loc, ok, err := s.locations.Get(ctx, *o.CourierID)
		if err != nil {
			s.log.Warn().Err(err).Str("order_id", o.ID.String()).Msg("read the courier's position for the ETA")
		}
		if ok && delivery.ShowsLocation(o, loc, now) {
			courier, speed = &delivery.Place{Lat: loc.Lat, Lng: loc.Lng}, geo.Speed(loc, nil)
		}
	}
	if eta := s.estimate(ctx, active, geo.TripOf(active, courier, speed), now); eta != nil {
		o.ETA = eta
	}
	return o
}
