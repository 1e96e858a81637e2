package server_test

import (
	"slices"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// TestClusterLocation: a courier on one instance, the parties on
// another. Positions reach the parties of the courier's active order
// across Redis, throttled with the newest held back; the last position,
// kept in Redis, is what a party subscribing on the other instance gets
// first; nothing reaches outsiders, and nothing the order after its
// delivery.
func TestClusterLocation(t *testing.T) {
	c := newCluster(t, 2)
	clock := newStepClock()
	opts := instanceOpts{edit: withHubClock(clock)}
	a, b := c.start(0, opts), c.start(1, opts)
	w, other := a.newWorld(), a.newWorld()
	o := a.claimed(w)
	theirs := a.claimed(other)
	ch := orderChannel(o)
	courier := a.dial(w.Courier)
	cust, staff := b.dial(w.Customer), b.dial(w.Restaurant)
	otherCust, courier2 := b.dial(other.Customer), b.dial(w.Courier2)
	cust.subscribeSettled(ch)
	staff.subscribeSettled(ch)
	otherCust.subscribeSettled(orderChannel(theirs))
	courier2.subscribe(wire.DispatchChannel)
	everyone := []*wsClient{courier, cust, staff, otherCust, courier2}
	expect := func(cl *wsClient, channel string, want ...float64) {
		t.Helper()
		if got := lats(positions(t, cl.named(channel, delivery.EventCourierLocation))); !slices.Equal(got, want) {
			t.Errorf("%s on %s: positions %v, want %v", cl.name, channel, got, want)
		}
	}

	ts := time.Now().UnixMilli() + 1 // after the assignments above
	courier.ok(locationFrame(1, 10, ts))
	courier.ok(locationFrame(2, 10, ts+100)) // held back
	courier.ok(locationFrame(3, 10, ts+200)) // replaces it
	cust.waitNamed(ch, delivery.EventCourierLocation, 1)
	clock.Advance(time.Second)
	cust.waitNamed(ch, delivery.EventCourierLocation, 2)
	staff.waitNamed(ch, delivery.EventCourierLocation, 2)
	a.barrier(everyone...)
	expect(cust, ch, 1, 3)
	expect(staff, ch, 1, 3)

	// The last position was stored by instance a, in Redis.
	late := b.dial(w.Customer)
	late.subscribe(ch, 0)
	late.waitNamed(ch, delivery.EventCourierLocation, 1)
	expect(late, ch, 3)

	// Through REST on instance b, then the delivery, then another frame.
	clock.Advance(time.Second)
	b.must(202, "POST", locationPath, w.Courier.Token, map[string]any{"lat": 4, "lng": 10, "ts": ts + 300})
	cust.waitNamed(ch, delivery.EventCourierLocation, 3)
	b.deliver(o, w)
	clock.Advance(time.Second)
	courier.ok(locationFrame(5, 10, ts+400))
	cust.waitEvents(ch, 7) // four positions... and the delivery's four status events
	a.barrier(everyone...)
	b.barrier(everyone...)
	expect(cust, ch, 1, 3, 4)
	noPositionAfterDelivery(t, cust, ch)
	after := b.dial(w.Customer)
	after.subscribe(ch, 0)
	b.barrier(after)
	expect(after, ch)
	for _, cl := range []*wsClient{otherCust, courier2} {
		for _, f := range cl.allEvents() {
			if f.Event == delivery.EventCourierLocation {
				t.Errorf("%s, no party, got a position on %s", cl.name, f.Channel)
			}
		}
	}
}
