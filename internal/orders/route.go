package orders

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// The routing table: which channels get each event, as API.md's
// "Channels" says. It is the only place that knows; the hub fans out by
// channel name and the outbox relays what Route returns.
//
// The tracking channel track:{order_id} is one more channel of an order,
// for viewers (tracking links): it gets order.status as the tracking view
// (no names, address or notes), and courier.arrived, order.eta and
// courier.location as they are, since their payloads hold ids, places
// and times only; positions by the same rules as on the order channel
// (routeLocation decides for both). Each carries AsOf, the order's seq,
// so that the current state a new viewer is given (Latest) never follows
// a newer live event of its kind.

// feedEvent reports whether events of type t are copied into the user
// feeds ("every event of the user's orders"). Other durable types are
// those of the publish API, which go to their order channel only.
func feedEvent(t string) bool {
	switch t {
	case delivery.EventOrderCreated, delivery.EventOrderStatus, delivery.EventOrderAssigned,
		delivery.EventOrderUnassigned, delivery.EventChatMessage, delivery.EventCourierArrived:
		return true
	}
	return false
}

// restaurantEvent reports whether events of type t go to the restaurant's
// feed: its new orders, status changes, and which courier is coming (or
// no longer is) and when it is there.
func restaurantEvent(t string) bool {
	switch t {
	case delivery.EventOrderCreated, delivery.EventOrderStatus, delivery.EventOrderAssigned, delivery.EventOrderUnassigned,
		delivery.EventCourierArrived:
		return true
	}
	return false
}

// Route returns the publications of the committed event ev of order o (o
// as it was right after ev): order:{id} always; for order events, chat
// messages and arrivals also user:{customer}, user:{courier} once assigned
// (and the courier an unassign removed, which gets that event and nothing
// later), and restaurant:{rid} for creation, status changes, assignment,
// unassignment and arrivals; dispatch gets order.offered (the offer view) when the
// order became claimable and order.claimed when it was taken. On
// order:{id}, an order.unassigned revokes the removed courier's
// subscriptions.
func Route(o delivery.Order, ev delivery.Event) ([]delivery.Publication, error) {
	ts := ev.CreatedAt.UnixMilli()
	var removed delivery.ID
	if ev.Type == delivery.EventOrderUnassigned {
		var err error
		if removed, err = delivery.UnassignedCourier(ev); err != nil {
			return nil, err
		}
	}
	pubs := []delivery.Publication{{Channel: wire.OrderChannel(o.ID), Event: ev.Type, Data: ev.Data, Seq: ev.Seq, Ts: ts, Revoke: removed}}
	if !feedEvent(ev.Type) {
		return pubs, nil
	}
	feed := func(channel string) delivery.Publication {
		return delivery.Publication{Channel: channel, Event: ev.Type, Data: ev.Data, Seq: ev.Seq, Order: o.ID, Ts: ts}
	}
	pubs = append(pubs, feed(wire.UserChannel(o.CustomerID)))
	if o.CourierID != nil {
		pubs = append(pubs, feed(wire.UserChannel(*o.CourierID)))
	}
	if removed != 0 && (o.CourierID == nil || *o.CourierID != removed) {
		pubs = append(pubs, feed(wire.UserChannel(removed)))
	}
	if restaurantEvent(ev.Type) {
		pubs = append(pubs, feed(wire.RestaurantChannel(o.RestaurantID)))
	}
	if track, ok, err := trackPub(o, ev); err != nil || ok {
		if err != nil {
			return nil, err
		}
		pubs = append(pubs, track)
	}
	switch {
	case becameOffered(o, ev):
		// Couriers see an offered order they are no party of as its offer
		// view only (delivery.SeesOffer): no customer, address or notes.
		offer, err := json.Marshal(delivery.Offer(o))
		if err != nil {
			return nil, err // plain fields: cannot happen
		}
		pubs = append(pubs, delivery.Publication{Channel: wire.DispatchChannel, Event: wire.EventOrderOffered, Data: offer, Ts: ts})
	case ev.Type == delivery.EventOrderAssigned:
		// The order is no longer theirs to see: only its id.
		data := append(append([]byte(`{"order_id":`), jsonID(o.ID)...), '}')
		pubs = append(pubs, delivery.Publication{Channel: wire.DispatchChannel, Event: wire.EventOrderClaimed, Data: data, Ts: ts})
	}
	return pubs, nil
}

// trackPub is ev on the order's track channel, when it goes there: a
// status change as the tracking view, the end of the order telling the
// viewers' hubs when the links expire (Expires); an arrival as it is.
func trackPub(o delivery.Order, ev delivery.Event) (delivery.Publication, bool, error) {
	pub := delivery.Publication{
		Channel: wire.TrackChannel(o.ID), Event: ev.Type, Data: ev.Data, Seq: ev.Seq, Order: o.ID,
		Ts: ev.CreatedAt.UnixMilli(), AsOf: ev.Seq,
	}
	switch ev.Type {
	case delivery.EventCourierArrived:
		return pub, true, nil
	case delivery.EventOrderStatus:
		var err error
		pub.Data, pub.Expires, err = trackStatus(o)
		return pub, err == nil, err
	}
	return delivery.Publication{}, false, nil
}

// trackStatus is the data of order.status on a track channel, and when
// the order's links expire (Unix ms; 0 while it is active).
func trackStatus(o delivery.Order) ([]byte, int64, error) {
	data, err := json.Marshal(delivery.Track(o))
	if err != nil {
		return nil, 0, err // plain fields: cannot happen
	}
	var expires int64
	if exp := delivery.TrackExpiry(o); !exp.IsZero() {
		expires = exp.UnixMilli()
	}
	return data, expires, nil
}

// becameOffered reports whether ev made o claimable (delivery.IsOffered
// turned true): the restaurant's accept (preparing and ready follow
// accepted), or an unassign.
func becameOffered(o delivery.Order, ev delivery.Event) bool {
	switch {
	case !delivery.IsOffered(o):
		return false
	case ev.Type == delivery.EventOrderStatus:
		return o.Status == delivery.StatusAccepted
	}
	return ev.Type == delivery.EventOrderUnassigned
}

// routeRead is where a moved read mark goes, as the ephemeral chat.read:
// the order's channel and the feeds of its customer and courier (a feed
// carries every event of the user's orders; an order list uses it for
// unread counts). The reader's own sockets get it too, so that the
// user's other devices clear the same messages; a mark only grows, so a
// copy on two channels is harmless.
func routeRead(o delivery.Order, r delivery.ReadMark, ts int64) ([]delivery.Publication, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return nil, err // plain fields: cannot happen
	}
	read := func(channel string) delivery.Publication {
		return delivery.Publication{Channel: channel, Event: delivery.EventChatRead, Data: data, Ts: ts}
	}
	pubs := []delivery.Publication{read(wire.OrderChannel(o.ID)), read(wire.UserChannel(o.CustomerID))}
	if o.CourierID != nil {
		pubs = append(pubs, read(wire.UserChannel(*o.CourierID)))
	}
	return pubs, nil
}

// routeLocation is where an accepted position goes, as the ephemeral,
// latest-value courier.location: the order and track channels of each
// active order of its courier that may show it (taken after the
// assignment), and nowhere else (a feed would duplicate it for clients holding both, with
// no seq to drop the copy). AsOf is the order's seq when it was read, so
// that no subscriber given a later event (the delivery, say) gets it.
func routeLocation(loc delivery.Location, active []delivery.ActiveOrder, now time.Time) ([]delivery.Publication, error) {
	var pubs []delivery.Publication
	var data []byte
	for _, o := range active {
		if !delivery.ShowsLocationOf(o, loc, now) {
			continue
		}
		if data == nil {
			var err error
			if data, err = loc.AppendJSON(nil); err != nil {
				return nil, err // finite numbers: cannot happen
			}
		}
		pubs = append(pubs, locationPub(wire.OrderChannel(o.ID), o.Seq, loc, data, now),
			locationPub(wire.TrackChannel(o.ID), o.Seq, loc, data, now))
	}
	return pubs, nil
}

// routeETA is where an estimate goes, as the ephemeral order.eta: the
// order's channel and its track channel, AsOf the order's seq when it was read (an estimate made
// before the event that ended the delivery does not follow it), and the
// feeds of its parties (the customer's, the courier's, the restaurant's),
// whose order lists and boards show it: one estimate an order at most
// every geo.ETAInterval, so the feeds carry little of it.
func routeETA(o delivery.ActiveOrder, eta delivery.ETA, now time.Time) ([]delivery.Publication, error) {
	data, err := json.Marshal(eta)
	if err != nil {
		return nil, err // plain fields: cannot happen
	}
	ts := now.UnixMilli()
	pubs := []delivery.Publication{etaPub(wire.OrderChannel(o.ID), o.Seq, data, ts), etaPub(wire.TrackChannel(o.ID), o.Seq, data, ts)}
	feed := func(channel string) delivery.Publication {
		return delivery.Publication{Channel: channel, Event: delivery.EventOrderETA, Data: data, Ts: ts}
	}
	pubs = append(pubs, feed(wire.UserChannel(o.CustomerID)))
	if o.CourierID != 0 {
		pubs = append(pubs, feed(wire.UserChannel(o.CourierID)))
	}
	return append(pubs, feed(wire.RestaurantChannel(o.RestaurantID))), nil
}

// etaPub is order.eta on one of the order's channels (order, track), as
// of seq asOf.
func etaPub(channel string, asOf int64, data []byte, ts int64) delivery.Publication {
	return delivery.Publication{Channel: channel, Event: delivery.EventOrderETA, Data: data, Ts: ts, AsOf: asOf}
}

// locationPub is courier.location on one of the order's channels.
func locationPub(channel string, asOf int64, loc delivery.Location, data []byte, now time.Time) delivery.Publication {
	return delivery.Publication{
		Channel: channel, Event: delivery.EventCourierLocation, Data: data, Ts: now.UnixMilli(),
		AsOf: asOf, Courier: loc.CourierID, Latest: true,
	}
}

// typingPub is chat.typing of a on the order's channel, for everyone there
// but a's own sockets: {"order_id":"42","user_id":"7","role":"customer"}.
func typingPub(orderID delivery.ID, a delivery.Actor, now time.Time) delivery.Publication {
	b := make([]byte, 0, 96)
	b = append(b, `{"order_id":`...)
	b = append(b, jsonID(orderID)...)
	b = append(b, `,"user_id":`...)
	b = append(b, jsonID(a.UserID)...)
	b = append(b, `,"role":`...)
	b = wire.AppendString(b, string(a.Role))
	b = append(b, '}')
	return delivery.Publication{Channel: wire.OrderChannel(orderID), Event: wire.EventChatTyping, Data: b, Ts: now.UnixMilli(), Except: a.UserID}
}

func jsonID(id delivery.ID) []byte {
	b, _ := id.MarshalJSON() // cannot fail
	return b
}

// OrderReader reads orders; delivery.Store is one.
type OrderReader interface {
	OrderByID(ctx context.Context, id delivery.ID) (delivery.Order, error)
}

// RouteStored routes an event read back from the log (the outbox relays
// it when its committer did not publish it): by the order as it was right
// after the change, from the payload of order.* events, or as it is now
// for other events, whose routing needs only the order's id, and for
// offers, so that a late relay never offers couriers an order claimed or
// cancelled since.
func RouteStored(ctx context.Context, orders OrderReader, ev delivery.Event) ([]delivery.Publication, error) {
	var order delivery.Order
	snapshot := false
	switch ev.Type {
	case delivery.EventOrderCreated, delivery.EventOrderStatus, delivery.EventOrderAssigned:
		snapshot = json.Unmarshal(ev.Data, &order) == nil && order.ID == ev.OrderID
	}
	if !snapshot || delivery.IsOffered(order) {
		now, err := orders.OrderByID(ctx, ev.OrderID)
		if err != nil {
			return nil, err
		}
		// An offer still standing is routed by the snapshot, with the
		// restaurant's place as it is (the payload does not carry it).
		if !snapshot || !delivery.IsOffered(now) {
			order = now
		}
		order.RestaurantPlace = now.RestaurantPlace
	}
	if ev.Type != delivery.EventOrderUnassigned || order.CourierID == nil {
		return Route(order, ev)
	}
	// Claimed again since: the new courier is no party of the unassign,
	// and the order is no longer on offer.
	order.CourierID = nil
	pubs, err := Route(order, ev)
	return slices.DeleteFunc(pubs, func(p delivery.Publication) bool { return p.Channel == wire.DispatchChannel }), err
}
