package hub

import (
	"context"
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
	case delivery.EventOrderCreated, delivery.EventOrderStatus, delivery.EventOrderAssigned, delivery.EventChatMessage:
		return true
	}
	return false
}

// PublishEvent routes a committed order event to the channels of API.md:
// order:{id} always; for order events and chat messages also user:{customer},
// user:{courier} once assigned, restaurant:{rid} for creation and status
// changes; and dispatch gets order.offered when the order became
// claimable and order.claimed when it was taken. It never blocks on
// sockets. Publish errors are logged: the event is in the Store, and
// subscribers that miss it get it from there on their next event or resume.
func (h *Hub) PublishEvent(ctx context.Context, o delivery.Order, ev delivery.Event) {
	_ = h.PublishCommitted(ctx, o, ev)
}

// PublishCommitted is PublishEvent reporting the first publish error (all
// are logged), so that the transactional outbox (internal/outbox) marks an
// event published only once the bus took every frame of it, and relays it
// through here otherwise.
func (h *Hub) PublishCommitted(ctx context.Context, o delivery.Order, ev delivery.Event) error {
	ts := ev.CreatedAt.UnixMilli()
	err := h.publish(ctx, wire.OrderChannel(o.ID), ev.Type, ev.Seq, ev.Data, ts)
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
	if ev.Type == delivery.EventOrderCreated || ev.Type == delivery.EventOrderStatus {
		keep(h.publish(ctx, wire.RestaurantChannel(o.RestaurantID), ev.Type, ev.Seq, ev.Data, ts))
	}
	switch {
	case becameOffered(o, ev):
		// Couriers may view an offered order (delivery.CanView): the
		// snapshot is what they decide on.
		keep(h.publish(ctx, wire.DispatchChannel, wire.EventOrderOffered, 0, ev.Data, ts))
	case ev.Type == delivery.EventOrderAssigned:
		// The order is no longer theirs to see: only its id.
		data := append(append([]byte(`{"order_id":`), jsonID(o.ID)...), '}')
		keep(h.publish(ctx, wire.DispatchChannel, wire.EventOrderClaimed, 0, data, ts))
	}
	return err
}

// becameOffered reports whether ev made o claimable (delivery.IsOffered
// turned true). The only change that does is the restaurant's accept:
// preparing and ready follow accepted, and nothing unassigns a courier.
func becameOffered(o delivery.Order, ev delivery.Event) bool {
	return ev.Type == delivery.EventOrderStatus && o.Status == delivery.StatusAccepted && delivery.IsOffered(o)
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
	err := h.publishErr(ctx, channel, event, seq, data, ts)
	if err != nil {
		h.log.Error().Err(err).Str("channel", channel).Str("event", event).Msg("publish")
	}
	return err
}

func (h *Hub) publishErr(ctx context.Context, channel, event string, seq int64, data []byte, ts int64) error {
	h.stats.published.Add(1)
	return h.cfg.Bus.Publish(ctx, delivery.BusMessage{Channel: channel, Seq: seq, Frame: encodeEvent(channel, event, seq, data, ts)})
}
