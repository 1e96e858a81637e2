package server_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/app"
	"github.com/ordercast/ordercast/internal/bus/memory"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// TestWSLocation: a courier's location frames reach the channels of its
// active orders only, at most once per second per order with the newest
// held-back position sent when the second ends; never after an order
// was delivered; and a party subscribing gets the last position after
// its replay, while the order is active.
func TestWSLocation(t *testing.T) {
	clock := newStepClock()
	bus := memory.New()
	e := newRealtimeEnv(t, withHubClock(clock), func(cfg *app.Config) { cfg.Bus = bus })
	w, other := e.newWorld(), e.newWorld()
	a, b := e.claimed(w), e.claimed(w) // w.Courier's active orders
	done := e.claimed(w)
	e.deliver(done, w)
	offered := e.place(w)
	e.setStatus(200, offered, w.Restaurant, delivery.StatusAccepted, "")
	theirs := e.claimed(other) // another courier's order
	chA, chB, chDone, chTheirs := wire.OrderChannel(a.ID), wire.OrderChannel(b.ID), wire.OrderChannel(done.ID), wire.OrderChannel(theirs.ID)

	courier, cust, staff := e.dial(w.Courier), e.dial(w.Customer), e.dial(w.Restaurant)
	courier2, otherCust, stranger := e.dial(w.Courier2), e.dial(other.Customer), e.dial(other.Customer)
	for _, sub := range []struct {
		c  *wsClient
		ch string
	}{{courier, chA}, {cust, chA}, {cust, chB}, {cust, chDone}, {staff, chA}, {staff, chB}, {staff, chDone}, {courier2, wire.DispatchChannel}, {otherCust, chTheirs}} {
		sub.c.subscribeSettled(sub.ch)
	}
	// A tracking link's holder of order a, whose channel has no replay.
	trackA := wire.TrackChannel(a.ID)
	viewer := e.dialViewer(e.share(a, w))
	viewer.subscribeSettled(trackA)
	stranger.mustFail(delivery.EFORBIDDEN, map[string]any{"type": "subscribe", "channel": chA})
	courier2.mustFail(delivery.EFORBIDDEN, map[string]any{"type": "subscribe", "channel": chA})
	everyone := []*wsClient{courier, cust, staff, courier2, otherCust, stranger}
	expect := func(c *wsClient, channel string, want ...float64) {
		t.Helper()
		if got := lats(positions(t, c.named(channel, delivery.EventCourierLocation))); !slices.Equal(got, want) {
			t.Errorf("%s on %s: positions %v, want %v", c.name, channel, got, want)
		}
	}
	outsiders := func() {
		t.Helper()
		for _, c := range []*wsClient{courier2, otherCust, stranger} {
			for _, f := range c.allEvents() {
				if f.Event == delivery.EventCourierLocation {
					t.Errorf("%s, no party of the courier's orders, got %s on %s", c.name, f.Data, f.Channel)
				}
			}
		}
		for _, c := range []*wsClient{cust, staff, courier} {
			for _, f := range c.allEvents() {
				if f.Event == delivery.EventCourierLocation && f.Channel != chA && f.Channel != chB {
					t.Errorf("%s got a position on %s", c.name, f.Channel)
				}
			}
		}
	}

	ts := time.Now().UnixMilli() + 1 // after the assignments above
	courier.ok(locationFrame(1, 10, ts))
	e.barrier(everyone...)
	for _, c := range []*wsClient{cust, staff} {
		expect(c, chA, 1)
		expect(c, chB, 1)
	}
	expect(courier, chA, 1)
	loc := positions(t, cust.named(chA, delivery.EventCourierLocation))[0]
	if loc.CourierID != w.Courier.User.ID || loc.Lng != 10 || loc.Ts != ts {
		t.Errorf("position %+v", loc)
	}

	// Within the second: held back, the newest replacing the older.
	courier.ok(locationFrame(2, 10, ts+100))
	courier.ok(locationFrame(3, 10, ts+200))
	courier.mustFail(delivery.EINVALID, locationFrame(9, 10, ts+150)) // older than the last
	cust.mustFail(delivery.EFORBIDDEN, locationFrame(9, 10, ts+300))
	e.barrier(everyone...)
	expect(cust, chA, 1)
	clock.Advance(time.Second)
	cust.waitNamed(chA, delivery.EventCourierLocation, 2)
	staff.waitNamed(chB, delivery.EventCourierLocation, 2)
	e.barrier(everyone...)
	for _, c := range []*wsClient{cust, staff} {
		expect(c, chA, 1, 3)
		expect(c, chB, 1, 3)
	}

	// A position held back when the order is delivered is never sent to
	// it; the other active order still gets it.
	clock.Advance(time.Second)
	courier.ok(locationFrame(4, 10, ts+300))
	courier.ok(locationFrame(5, 10, ts+400)) // held for a and b
	e.deliver(a, w)
	stale := e.Hub.Stats().LocationsStale
	clock.Advance(time.Second)
	staff.waitNamed(chB, delivery.EventCourierLocation, 4)
	// Dropped for each of order a's subscribers: the courier, the
	// customer, the staff on order:a, and the viewer on track:a.
	waitFor(t, "the held position for the delivered order dropped", func() bool { return e.Hub.Stats().LocationsStale >= stale+4 })
	e.barrier(everyone...)
	expect(cust, chA, 1, 3, 4)
	expect(staff, chB, 1, 3, 4, 5)
	noPositionAfterDelivery(t, cust, chA)
	noPositionAfterDelivery(t, viewer, trackA)

	// Once delivered, the order is not one of the courier's active ones.
	clock.Advance(time.Second)
	courier.ok(locationFrame(6, 10, ts+500))
	staff.waitNamed(chB, delivery.EventCourierLocation, 5)
	e.barrier(everyone...)
	expect(cust, chA, 1, 3, 4)
	expect(cust, chB, 1, 3, 4, 5, 6)
	outsiders()

	// Subscribing: the last position follows the replay on an active
	// order, and nothing on a delivered one.
	late := e.dial(w.Customer)
	late.subscribe(chB, 0)
	late.subscribe(chA, 0)
	e.barrier(late)
	evs := withoutETA(late.events(chB))
	if n := len(evs); n == 0 || evs[n-1].Event != delivery.EventCourierLocation || slices.ContainsFunc(evs[:n-1], func(f frame) bool { return f.Seq == 0 }) {
		t.Fatalf("subscriber of %s: %s, want the replay then the last position", chB, dump(evs))
	}
	expect(late, chB, 6)
	expect(late, chA)
}

// noPositionAfterDelivery fails unless every position c got on channel
// came before the event that delivered the order.
func noPositionAfterDelivery(t *testing.T, c *wsClient, channel string) {
	t.Helper()
	delivered := false
	for _, f := range c.events(channel) {
		switch {
		case f.Event == delivery.EventOrderStatus && containsStatus(f.Data, delivery.StatusDelivered):
			delivered = true
		case f.Event == delivery.EventCourierLocation && delivered:
			t.Errorf("%s got a position on %s after the delivery: %s", c.name, channel, f.Data)
		}
	}
	if !delivered {
		t.Errorf("%s never saw %s delivered", c.name, channel)
	}
}

func containsStatus(data []byte, st delivery.Status) bool {
	var o delivery.Order
	return json.Unmarshal(data, &o) == nil && o.Status == st
}

// TestWSLocationAsOf: a position checked while the order was at seq n is
// not delivered to a subscriber already given an event beyond n (the
// delivery may be that event): the race between a position accepted just
// before the delivery and the delivery's event, closed in the hub.
func TestWSLocationAsOf(t *testing.T) {
	bus := memory.New()
	e := newRealtimeEnv(t, func(cfg *app.Config) { cfg.Bus = bus })
	w := e.newWorld()
	o := e.claimed(w) // seq 3
	ch := wire.OrderChannel(o.ID)
	cust := e.dial(w.Customer)
	cust.subscribe(ch)
	e.setStatus(200, o, w.Restaurant, delivery.StatusPreparing, "") // seq 4
	cust.waitEvents(ch, 1)
	for _, m := range []delivery.BusMessage{
		{Channel: ch, AsOf: 3, Frame: []byte(`{"type":"event","channel":"` + ch + `","event":"courier.location","data":{"lat":3},"ts":1}`)},
		{Channel: ch, AsOf: 4, Frame: []byte(`{"type":"event","channel":"` + ch + `","event":"courier.location","data":{"lat":4},"ts":1}`)},
	} {
		if err := bus.Publish(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	e.barrier(cust)
	if got := lats(positions(t, cust.named(ch, delivery.EventCourierLocation))); !slices.Equal(got, []float64{4}) {
		t.Errorf("positions %v, want only the one checked at seq 4", got)
	}
}
