package hub

import (
	"context"
	"encoding/json"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// encodeEvent encodes an event frame once, into a slice of its own: the
// same bytes then go to every socket of the channel (and over the bus),
// and stay valid as long as any queue holds them.
func encodeEvent(channel, event string, seq int64, data []byte, ts int64) []byte {
	return wire.AppendEvent(make([]byte, 0, len(channel)+len(event)+len(data)+96), channel, event, seq, data, ts)
}

// feedEvent reports whether events of type t are copied into the user
// feeds ("every event of the user's orders"). Other durable types are
// those of the publish API, which go to their order channel only (API.md,
// POST /publish).
func feedEvent(t string) bool {
	switch t {
	case delivery.EventOrderCreated, delivery.EventOrderStatus, delivery.EventOrderAssigned,
		delivery.EventOrderUnassigned, delivery.EventChatMessage:
		return true
	}
	return false
}

// restaurantEvent reports whether events of type t go to the restaurant's
// feed: its new orders, status changes, and which courier is coming (or
// no longer is).
func restaurantEvent(t string) bool {
	switch t {
	case delivery.EventOrderCreated, delivery.EventOrderStatus, delivery.EventOrderAssigned, delivery.EventOrderUnassigned:
		return true
	}
	return false
}

// PublishEvent routes a committed order event to the channels of API.md:
// order:{id} always; for order events and chat messages also user:{customer},
// user:{courier} once assigned (and the courier an unassign removed, which
// gets that event and nothing later), restaurant:{rid} for creation,
// status changes, assignment and unassignment; and dispatch gets
// order.offered (the offer view) when the order became claimable and
// order.claimed when it was taken. On order:{id}, an order.unassigned
// ends the removed courier's subscriptions on every instance. It never
// blocks on sockets. Publish errors are logged: the event is in the Store,
// and subscribers that miss it get it from there on their next event or
// resume.
func (h *Hub) PublishEvent(ctx context.Context, o delivery.Order, ev delivery.Event) {
	_ = h.PublishCommitted(ctx, o, ev)
}

// PublishCommitted is PublishEvent reporting the first publish error (all
// are logged), so that the transactional outbox (internal/outbox) marks an
// event published only once the bus took every frame of it, and relays it
// through here otherwise.
func (h *Hub) PublishCommitted(ctx context.Context, o delivery.Order, ev delivery.Event) error {
	ts := ev.CreatedAt.UnixMilli()
	var removed delivery.ID
	if ev.Type == delivery.EventOrderUnassigned {
		var err error
		if removed, err = delivery.UnassignedCourier(ev); err != nil {
			return err // written by the service: cannot happen
		}
	}
	ch := wire.OrderChannel(o.ID)
	err := h.publishMsg(ctx, delivery.BusMessage{Channel: ch, Seq: ev.Seq, Revoke: removed,
		Frame: encodeEvent(ch, ev.Type, ev.Seq, ev.Data, ts)}, ev.Type)
	keep := func(e error) {
		if err == nil {
			err = e
		}
	}
	if !feedEvent(ev.Type) {
		return err
	}
	keep(h.publish(ctx, wire.UserChannel(o.CustomerID), ev.Type, ev.Seq, ev.Data, ts))
	if o.CourierID != nil {
		keep(h.publish(ctx, wire.UserChannel(*o.CourierID), ev.Type, ev.Seq, ev.Data, ts))
	}
	if removed != 0 && (o.CourierID == nil || *o.CourierID != removed) {
		keep(h.publish(ctx, wire.UserChannel(removed), ev.Type, ev.Seq, ev.Data, ts))
	}
	if restaurantEvent(ev.Type) {
		keep(h.publish(ctx, wire.RestaurantChannel(o.RestaurantID), ev.Type, ev.Seq, ev.Data, ts))
	}
	switch {
	case becameOffered(o, ev):
		// Couriers see an offered order they are no party of as its offer
		// view only (delivery.SeesOffer): no customer, address or notes.
		offer, merr := json.Marshal(delivery.Offer(o))
		if merr != nil {
			return merr // plain fields: cannot happen
		}
		keep(h.publish(ctx, wire.DispatchChannel, wire.EventOrderOffered, 0, offer, ts))
	case ev.Type == delivery.EventOrderAssigned:
		// The order is no longer theirs to see: only its id.
		data := append(append([]byte(`{"order_id":`), jsonID(o.ID)...), '}')
		keep(h.publish(ctx, wire.DispatchChannel, wire.EventOrderClaimed, 0, data, ts))
	}
	return err
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

func jsonID(id delivery.ID) []byte {
	b, _ := id.MarshalJSON() // cannot fail
	return b
}

// Publish sends an ephemeral event (no seq) to one channel: the publish
// API's durable:false, and later typing and courier location.
func (h *Hub) Publish(ctx context.Context, channel, event string, data []byte) error {
	return h.publishErr(ctx, channel, event, 0, data, time.Now().UnixMilli())
}

func (h *Hub) publish(ctx context.Context, channel, event string, seq int64, data []byte, ts int64) error {
	return h.publishMsg(ctx, delivery.BusMessage{Channel: channel, Seq: seq, Frame: encodeEvent(channel, event, seq, data, ts)}, event)
}

func (h *Hub) publishErr(ctx context.Context, channel, event string, seq int64, data []byte, ts int64) error {
	h.stats.published.Add(1)
	return h.cfg.Bus.Publish(ctx, delivery.BusMessage{Channel: channel, Seq: seq, Frame: encodeEvent(channel, event, seq, data, ts)})
}

// publishMsg publishes a message built by the caller and logs a failure.
func (h *Hub) publishMsg(ctx context.Context, msg delivery.BusMessage, event string) error {
	h.stats.published.Add(1)
	err := h.cfg.Bus.Publish(ctx, msg)
	if err != nil {
		h.log.Error().Err(err).Str("channel", msg.Channel).Str("event", event).Msg("publish")
	}
	return err
}
