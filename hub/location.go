package hub

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

var (
	_ delivery.ReadPublisher     = (*Hub)(nil)
	_ delivery.LocationPublisher = (*Hub)(nil)
)

// PublishRead sends a moved read mark as the ephemeral chat.read to the
// order's channel and to the feeds of its customer and courier (API.md:
// a feed carries every event of the user's orders; an order list uses it
// for unread counts). The reader's own sockets get it too, so that the
// user's other devices clear the same messages; a mark only grows, so a
// copy on two channels is harmless.
func (h *Hub) PublishRead(ctx context.Context, o delivery.Order, r delivery.ReadMark) {
	data, err := json.Marshal(r)
	if err != nil {
		return // plain fields: cannot fail
	}
	ts := time.Now().UnixMilli()
	_ = h.publish(ctx, wire.OrderChannel(o.ID), delivery.EventChatRead, 0, data, ts)
	_ = h.publish(ctx, wire.UserChannel(o.CustomerID), delivery.EventChatRead, 0, data, ts)
	if o.CourierID != nil {
		_ = h.publish(ctx, wire.UserChannel(*o.CourierID), delivery.EventChatRead, 0, data, ts)
	}
}

// PublishLocation sends an accepted position of a courier as the
// ephemeral courier.location to order:{id} of each of its active orders
// (and nowhere else: a feed would duplicate it for clients holding both,
// with no seq to drop the copy), at most once per LocationInterval per
// courier and order: a position within the interval is held back, a newer
// one replaces it, and the location loop sends the held one when the
// interval ends. It never blocks on sockets.
func (h *Hub) PublishLocation(ctx context.Context, loc delivery.Location, orderIDs []delivery.ID) {
	now := h.now().UnixNano()
	due := make([]delivery.ID, 0, len(orderIDs))
	h.locs.mu.Lock()
	for _, id := range orderIDs {
		if h.locs.offer(locationKey{courier: loc.CourierID, order: id}, loc, now, int64(h.cfg.Limits.LocationInterval)) {
			due = append(due, id)
		} else {
			h.stats.locationsHeld.Add(1)
		}
	}
	h.locs.mu.Unlock()
	for _, id := range due {
		h.sendLocation(ctx, loc, id)
	}
}

// sendLocation publishes loc to the order's channel if the order's
// parties may see it (delivery.ShowsLocation): the order is still an
// active delivery of loc's courier (the service chose the orders a moment
// ago, or a held-back position a second ago, and the order may have been
// delivered or unassigned since), loc was taken after that courier's
// assignment, and it is not too old. The message carries the seq at which
// the order was seen active (BusMessage.AsOf), so that no subscriber that
// was already given a later event (the delivery, say) gets the position,
// and its courier, so that no other courier's subscription does.
func (h *Hub) sendLocation(ctx context.Context, loc delivery.Location, orderID delivery.ID) {
	o, err := h.cfg.Store.OrderByID(ctx, orderID)
	if err != nil {
		h.log.Warn().Err(err).Str("order_id", orderID.String()).Msg("courier location: read order")
		return
	}
	if !delivery.ShowsLocation(o, loc, h.now()) {
		h.stats.locationsStale.Add(1)
		return
	}
	data, err := json.Marshal(loc)
	if err != nil {
		return // plain numbers: cannot fail
	}
	ch := wire.OrderChannel(orderID)
	frame := encodeEvent(ch, delivery.EventCourierLocation, 0, data, time.Now().UnixMilli())
	h.stats.published.Add(1)
	h.stats.locationsSent.Add(1)
	if err := h.cfg.Bus.Publish(ctx, delivery.BusMessage{Channel: ch, Frame: frame, AsOf: o.Seq, Courier: loc.CourierID}); err != nil {
		h.log.Warn().Err(err).Str("channel", ch).Msg("courier location: publish")
	}
}

type locationKey struct{ courier, order delivery.ID }

// locationSlot is the throttle state of one courier on one order.
type locationSlot struct {
	sentAt  int64 // Unix ns (hub clock) of the last send
	held    delivery.Location
	holding bool
}

// locationThrottle holds the slots of the couriers that sent a position
// within the last interval; the location loop drops the others, so it
// holds at most couriers × delivery.MaxActiveOrders slots.
type locationThrottle struct {
	mu    sync.Mutex
	slots map[locationKey]*locationSlot
}

// offer reports whether loc goes out now (the interval since the last
// send ended); otherwise it holds loc unless it holds a newer one.
// Called with mu held.
func (t *locationThrottle) offer(k locationKey, loc delivery.Location, now, window int64) bool {
	sl := t.slots[k]
	if sl == nil {
		t.slots[k] = &locationSlot{sentAt: now}
		return true
	}
	if now-sl.sentAt >= window {
		sl.sentAt, sl.holding = now, false
		return true
	}
	if !sl.holding || sl.held.Ts <= loc.Ts {
		sl.held, sl.holding = loc, true
	}
	return false
}

// due takes the held positions whose interval ended, appending them to
// out, and forgets slots that hold nothing and no longer delay anything.
func (t *locationThrottle) due(now, window, tick int64, out []heldLocation) []heldLocation {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, sl := range t.slots {
		if now-sl.sentAt < window {
			continue
		}
		if !sl.holding {
			delete(t.slots, k)
			continue
		}
		out = append(out, heldLocation{order: k.order, loc: sl.held})
		// On schedule when the tick was late by less than a tick: a
		// courier sending every second, a little early now and then,
		// would otherwise fall further behind each second (and lose
		// positions once a second behind). Two sends may so be up to one
		// tick closer than the interval; the rate stays one per interval.
		if next := sl.sentAt + window; now-next < tick {
			sl.sentAt = next
		} else {
			sl.sentAt = now
		}
		sl.holding = false
	}
	return out
}

type heldLocation struct {
	order delivery.ID
	loc   delivery.Location
}

// locationLoop sends held-back positions when their interval ends: one
// ticker for the hub instead of a timer per courier and order.
func (h *Hub) locationLoop() {
	defer h.wg.Done()
	tick := time.NewTicker(h.cfg.Limits.LocationTick)
	defer tick.Stop()
	var batch []heldLocation // reused: steady traffic allocates no slices
	for {
		select {
		case <-h.stop:
			return
		case <-tick.C:
		}
		lim := &h.cfg.Limits
		batch = h.locs.due(h.now().UnixNano(), int64(lim.LocationInterval), int64(lim.LocationTick), batch[:0])
		for _, p := range batch {
			ctx, cancel := h.callCtx()
			h.sendLocation(ctx, p.loc, p.order)
			cancel()
		}
		clear(batch)
	}
}
