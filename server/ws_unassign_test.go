package server_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/app"
	"github.com/ordercast/ordercast/internal/bus/memory"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// unsubscribedAt returns the index in frames of the end of channel's
// subscription, or -1; it fails the test on one with another code. A
// socket is sent an unsubscribed frame, a stream the error event the hub
// writes in its place (sseClient reads it as a frame of type "error"; a
// socket's error frames answer the client's and name no channel).
func unsubscribedAt(t *testing.T, frames []frame, channel string) int {
	t.Helper()
	at := -1
	for i, f := range frames {
		if (f.Type == wire.TypeUnsubscribed || f.Type == "error") && f.Channel == channel {
			if f.Code != wire.CodeForbidden || at >= 0 {
				t.Errorf("unsubscribed frame %+v (second: %v)", f, at >= 0)
			}
			at = i
		}
	}
	return at
}

func (c *wsClient) waitUnsubscribed(channel string) []frame {
	c.t.Helper()
	return c.waitUntil("unsubscribed from "+channel, func(fs []frame) bool {
		return slices.ContainsFunc(fs, func(f frame) bool { return f.Type == wire.TypeUnsubscribed && f.Channel == channel })
	})
}

// expectEndedAfterUnassign fails unless c's frames on channel end with
// the order.unassigned event of seq then the end of the subscription,
// nothing of channel after it.
func expectEndedAfterUnassign(t *testing.T, c subscriber, channel string, seq int64) {
	t.Helper()
	frames := c.received()
	at := unsubscribedAt(t, frames, channel)
	if at < 0 {
		t.Fatalf("%s: no end of %s: %s", c.label(), channel, dump(frames))
	}
	var before, after []frame
	for i, f := range frames {
		if f.Type == "event" && f.Channel == channel {
			if i < at {
				before = append(before, f)
			} else {
				after = append(after, f)
			}
		}
	}
	if n := len(before); n == 0 || before[n-1].Event != delivery.EventOrderUnassigned || before[n-1].Seq != seq {
		t.Errorf("%s on %s before its end: %v, want it to end with order.unassigned#%d", c.label(), channel, eventNames(before), seq)
	}
	if len(after) != 0 {
		t.Errorf("%s on %s after its end: %s", c.label(), channel, dump(after))
	}
}

// TestWSUnassignEndsTheCourierSubscription: when the restaurant takes the
// courier off an order, the courier's subscription to order:{id} gets the
// order.unassigned event, then {"type":"unsubscribed","code":"forbidden"},
// and then nothing of that order, on the order channel or its feed,
// whatever happens to the order next (status, chat, typing, read marks, a
// new courier's positions). The restaurant's feed gets the unassign, the
// dispatch channel the offer again.
func TestWSUnassignEndsTheCourierSubscription(t *testing.T) {
	e := newRealtimeEnv(t)
	w := e.newWorld()
	o := e.claimed(w) // seq 3
	ch := wire.OrderChannel(o.ID)
	rest := wire.RestaurantChannel(w.Restaurant.User.RestaurantID)
	courierFeed := wire.UserChannel(w.Courier.User.ID)

	courier, cust, staff, c2 := e.dial(w.Courier), e.dial(w.Customer), e.dial(w.Restaurant), e.dial(w.Courier2)
	courier.subscribe(ch, 0)
	cust.subscribe(ch)
	staff.subscribe(rest)
	c2.subscribe(wire.DispatchChannel)
	courier.waitEvents(ch, 3)

	e.must(200, "POST", orderPath(o.ID)+"/unassign", w.Restaurant.Token, map[string]any{"reason": "courier fell ill"})
	courier.waitUnsubscribed(ch)
	expectEndedAfterUnassign(t, courier, ch, 4)
	offers := c2.waitNamed(wire.DispatchChannel, wire.EventOrderOffered, 1)
	expectOfferView(t, offers[0].Data, o.ID)
	staff.waitNamed(rest, delivery.EventOrderUnassigned, 1)

	// The order goes on without the courier.
	e.setStatus(200, o, w.Restaurant, delivery.StatusPreparing, "")      // 5
	msg := e.mustPost(o, w.Customer, "where is my food?", "m-1")         // 6
	e.must(200, "POST", orderPath(o.ID)+"/claim", w.Courier2.Token, nil) // 7
	cust.ok(map[string]any{"type": "typing", "order_id": o.ID})
	cust.ok(map[string]any{"type": "read", "order_id": o.ID, "seq": msg.Seq})
	c2.ok(locationFrame(52.5, 13.4, time.Now().UnixMilli()+1))
	cust.waitNamed(ch, delivery.EventCourierLocation, 1)
	e.barrier(courier, cust, staff, c2)

	expectEndedAfterUnassign(t, courier, ch, 4)
	if got := eventNames(courier.events(courierFeed)); !slices.Equal(got, []string{"order.unassigned#4"}) {
		t.Errorf("removed courier's feed: %v, want the unassign and nothing after", got)
	}
	for _, f := range courier.allEvents() {
		if f.Channel != ch && f.Channel != courierFeed {
			t.Errorf("removed courier got %s on %s", f.Event, f.Channel)
		}
	}
	if got := eventNames(cust.events(ch)); !slices.Contains(got, "order.assigned#7") {
		t.Errorf("customer on %s: %v", ch, got)
	}
	if got := eventNames(staff.named(rest, delivery.EventOrderUnassigned)); !slices.Equal(got, []string{"order.unassigned#4"}) {
		t.Errorf("restaurant feed: %v", got)
	}
	// The channel is no longer the courier's to subscribe to.
	courier.mustFail(wire.CodeForbidden, map[string]any{"type": "subscribe", "channel": ch})
	if s := e.Hub.Stats(); s.Subscriptions < 0 {
		t.Errorf("hub subscriptions %d", s.Subscriptions)
	}
}

// TestWSUnassignedCourierClaimsAgain: a courier unassigned and then
// assigned again subscribes anew on the same connection; its replay
// passes the old unassign and the subscription stays.
func TestWSUnassignedCourierClaimsAgain(t *testing.T) {
	e := newRealtimeEnv(t)
	w := e.newWorld()
	o := e.claimed(w)
	ch := wire.OrderChannel(o.ID)
	courier := e.dial(w.Courier)
	courier.subscribe(ch)
	e.must(200, "POST", orderPath(o.ID)+"/unassign", w.Restaurant.Token, map[string]any{"reason": "swap"}) // 4
	courier.waitUnsubscribed(ch)
	e.must(200, "POST", orderPath(o.ID)+"/claim", w.Courier.Token, nil) // 5
	courier.subscribe(ch, 0)
	e.setStatus(200, o, w.Restaurant, delivery.StatusPreparing, "") // 6
	e.barrier(courier)
	var replayed []int64
	for _, f := range withoutETA(courier.events(ch)) {
		replayed = append(replayed, f.Seq)
	}
	// seq 4 live (then ended), then 1..6 replayed and live.
	if want := []int64{4, 1, 2, 3, 4, 5, 6}; !slices.Equal(replayed, want) {
		t.Errorf("courier on %s: seqs %v, want %v", ch, replayed, want)
	}
	unsubscribedAt(t, courier.received(), ch) // exactly one
}

// dropEvents is a bus that loses every message of one event: subscribers
// must find it in the Store.
type dropEvents struct {
	delivery.Bus
	drop string
}

func (d dropEvents) Publish(ctx context.Context, msgs ...delivery.BusMessage) error {
	var kept []delivery.BusMessage
	for _, msg := range msgs {
		if _, ev, _ := wire.EventNames(msg.Frame); string(ev) != d.drop {
			kept = append(kept, msg)
		}
	}
	return d.Bus.Publish(ctx, kept...)
}

// TestWSUnassignFoundInTheStore: when the courier's subscription misses
// the live order.unassigned (lost by the bus) and learns of it from the
// gap the next event leaves, the repair from the Store ends the
// subscription at the unassign: the later event is never given.
func TestWSUnassignFoundInTheStore(t *testing.T) {
	e := newRealtimeEnv(t, func(cfg *app.Config) { cfg.Bus = dropEvents{cfg.Bus, delivery.EventOrderUnassigned} })
	w := e.newWorld()
	o := e.claimed(w)
	ch := wire.OrderChannel(o.ID)
	courier, cust := e.dial(w.Courier), e.dial(w.Customer)
	courier.subscribe(ch)
	cust.subscribe(ch)
	e.must(200, "POST", orderPath(o.ID)+"/unassign", w.Restaurant.Token, map[string]any{"reason": "swap"}) // 4, not published
	e.setStatus(200, o, w.Restaurant, delivery.StatusPreparing, "")                                        // 5
	courier.waitUnsubscribed(ch)
	cust.waitEvents(ch, 2)
	e.barrier(courier, cust)
	expectEndedAfterUnassign(t, courier, ch, 4)
	if got := seqs(withoutETA(cust.events(ch))); !slices.Equal(got, []int64{4, 5}) {
		t.Errorf("customer on %s: %v, want the repair to give 4 then 5", ch, got)
	}
}

// TestWSPositionsAfterAssignmentOnly: a subscriber of an order newly
// assigned is not given a position the courier sent before the
// assignment (on subscribe or live), and no one is given a position
// older than 10 minutes.
func TestWSPositionsAfterAssignmentOnly(t *testing.T) {
	e := newRealtimeEnv(t)
	w := e.newWorld()
	a := e.claimed(w)
	chA := wire.OrderChannel(a.ID)
	courier, cust := e.dial(w.Courier), e.dial(w.Customer)
	cust.subscribe(chA)
	courier.ok(locationFrame(1, 1, time.Now().UnixMilli()+1))
	cust.waitNamed(chA, delivery.EventCourierLocation, 1)

	b := e.claimed(w)
	chB := wire.OrderChannel(b.ID)
	late := e.dial(w.Customer)
	late.subscribeSettled(chB) // settled: the last position, if any, is queued
	late.subscribeSettled(chA)
	e.barrier(late)
	if got := lats(positions(t, late.named(chB, delivery.EventCourierLocation))); len(got) != 0 {
		t.Errorf("subscriber of the order assigned after it got position %v", got)
	}
	if got := lats(positions(t, late.named(chA, delivery.EventCourierLocation))); !slices.Equal(got, []float64{1}) {
		t.Errorf("subscriber of the order assigned before: %v, want the last position", got)
	}
	courier.ok(locationFrame(2, 1, time.Now().UnixMilli()+2))
	late.waitNamed(chB, delivery.EventCourierLocation, 1)

	// Another courier's first position, taken 11 minutes ago: accepted,
	// and shown to no one, live or on subscribe.
	c := e.claimedBy(w, w.Courier2)
	chC := wire.OrderChannel(c.ID)
	watcher := e.dial(w.Customer)
	watcher.subscribe(chC)
	e.dial(w.Courier2).ok(locationFrame(3, 1, time.Now().Add(-11*time.Minute).UnixMilli()))
	again := e.dial(w.Customer)
	again.subscribeSettled(chC)
	e.barrier(watcher, again)
	for _, cl := range []*wsClient{watcher, again} {
		if got := lats(positions(t, cl.named(chC, delivery.EventCourierLocation))); len(got) != 0 {
			t.Errorf("%s got a position older than 10 minutes: %v", cl.name, got)
		}
	}
}

// claimedBy places an order, accepted and claimed by courier p.
func (e *testEnv) claimedBy(w world, p party) delivery.Order {
	e.t.Helper()
	o := e.accepted(w)
	e.must(200, "POST", orderPath(o.ID)+"/claim", p.Token, nil)
	return o
}

// TestWSPositionOfAnotherCourier: a position carries its courier; of the
// subscribers of the order that are couriers, only that one gets it (the
// others may be still waiting for the unassign that removed them).
func TestWSPositionOfAnotherCourier(t *testing.T) {
	bus := memory.New()
	e := newRealtimeEnv(t, func(cfg *app.Config) { cfg.Bus = bus })
	w := e.newWorld()
	o := e.claimed(w) // seq 3: the claim
	ch := wire.OrderChannel(o.ID)
	courier, cust := e.dial(w.Courier), e.dial(w.Customer)
	courier.subscribe(ch)
	cust.subscribe(ch)
	position := func(lat string) []byte {
		return []byte(`{"type":"event","channel":"` + ch + `","event":"courier.location","data":{"lat":` + lat + `},"ts":1}`)
	}
	for _, m := range []delivery.BusMessage{
		{Channel: ch, AsOf: 3, Courier: w.Courier2.User.ID, Frame: position("2")},
		{Channel: ch, AsOf: 3, Courier: w.Courier.User.ID, Frame: position("1")},
	} {
		if err := bus.Publish(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	e.barrier(courier, cust)
	if got := lats(positions(t, courier.named(ch, delivery.EventCourierLocation))); !slices.Equal(got, []float64{1}) {
		t.Errorf("courier got positions %v, want only its own", got)
	}
	if got := lats(positions(t, cust.named(ch, delivery.EventCourierLocation))); !slices.Equal(got, []float64{2, 1}) {
		t.Errorf("customer got positions %v, want both", got)
	}
}
