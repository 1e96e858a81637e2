package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// TestWSForbiddenSubscriptions tries every channel a role may not have:
// each is an error frame, nothing of the channel ever arrives, and the
// connection stays usable.
func TestWSForbiddenSubscriptions(t *testing.T) {
	e := newRealtimeEnv(t)
	w := e.newWorld()
	other := e.newWorld() // another restaurant, customer and couriers
	o := e.place(w)
	e.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusAccepted, "")

	cust, staff, courier := e.dial(w.Customer), e.dial(w.Restaurant), e.dial(w.Courier)
	stranger, otherStaff, otherCourier := e.dial(other.Customer), e.dial(other.Restaurant), e.dial(other.Courier)
	order := wire.OrderChannel(o.ID)
	rest := wire.RestaurantChannel(w.Restaurant.User.RestaurantID)
	sub := func(ch string) map[string]any { return map[string]any{"type": "subscribe", "channel": ch} }

	for _, c := range []struct {
		client *wsClient
		ch     string
		code   string
	}{
		{stranger, order, "forbidden"},                               // another customer's order
		{otherStaff, order, "forbidden"},                             // another restaurant's order
		{courier, order, "forbidden"},                                // offered, but not assigned to it
		{otherCourier, order, "forbidden"},                           //
		{cust, rest, "forbidden"},                                    // customers are not staff
		{otherStaff, rest, "forbidden"},                              // staff of another restaurant
		{courier, rest, "forbidden"},                                 //
		{cust, wire.DispatchChannel, "forbidden"},                    // dispatch is for couriers
		{staff, wire.DispatchChannel, "forbidden"},                   //
		{cust, wire.UserChannel(w.Courier.User.ID), "forbidden"},     // someone else's feed
		{courier, wire.UserChannel(w.Customer.User.ID), "forbidden"}, //
		{stranger, wire.OrderChannel(o.ID + 1000), "not_found"},      // no such order
		{cust, "orders:1", "invalid"},                                // no such channel
		{cust, "news", "invalid"},                                    //
	} {
		c.client.mustFail(c.code, sub(c.ch))
	}

	// The parties may; the order moves on; the refused see nothing of it.
	cust.subscribe(order)
	staff.subscribe(order)
	staff.subscribe(rest)
	courier.subscribe(wire.DispatchChannel)
	otherCourier.subscribe(wire.DispatchChannel)
	e.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusPreparing, "")
	e.barrier(cust, staff, courier, stranger, otherStaff, otherCourier)
	for _, c := range []*wsClient{stranger, otherStaff} {
		if got := c.allEvents(); len(got) != 0 {
			t.Errorf("%s got events: %s", c.name, dump(got))
		}
	}
	for _, c := range []*wsClient{courier, otherCourier} {
		if got := c.allEvents(); len(got) != 0 {
			t.Errorf("%s got events of an order not theirs: %s", c.name, dump(got))
		}
	}
	if got := eventNames(withoutETA(cust.events(order))); !slices.Equal(got, []string{"order.status#3"}) {
		t.Errorf("customer on %s: %v", order, got)
	}

	// Once assigned, the courier is a party and may subscribe.
	e.must(http.StatusOK, "POST", orderPath(o.ID)+"/claim", w.Courier.Token, nil)
	courier.subscribe(order, 0)
	courier.waitEvents(order, 4)
	e.barrier(courier)
	if got := seqs(withoutETA(courier.events(order))); !slices.Equal(got, []int64{1, 2, 3, 4}) {
		t.Errorf("courier replay: %v", got)
	}
	otherCourier.mustFail("forbidden", sub(order))
}

// TestWSLifecycleReachesExactlyTheParties follows one order from placed
// to delivered and checks, per socket and channel, exactly which events
// arrived (API.md, "Channels").
func TestWSLifecycleReachesExactlyTheParties(t *testing.T) {
	e := newRealtimeEnv(t)
	w := e.newWorld()
	other := e.newWorld()
	cust, staff, c1, c2 := e.dial(w.Customer), e.dial(w.Restaurant), e.dial(w.Courier), e.dial(w.Courier2)
	stranger, otherStaff := e.dial(other.Customer), e.dial(other.Restaurant)
	rest := wire.RestaurantChannel(w.Restaurant.User.RestaurantID)
	staff.subscribe(rest)
	otherStaff.subscribe(wire.RestaurantChannel(other.Restaurant.User.RestaurantID))
	c1.subscribe(wire.DispatchChannel)
	c2.subscribe(wire.DispatchChannel)

	o := e.place(w)
	order := wire.OrderChannel(o.ID)
	cust.subscribe(order, 0)
	staff.subscribe(order, 0)
	e.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusAccepted, "")
	e.must(http.StatusOK, "POST", orderPath(o.ID)+"/claim", w.Courier.Token, nil)
	c1.subscribe(order, 0)
	e.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusPreparing, "")
	e.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusReady, "")
	e.setStatus(http.StatusOK, o, w.Courier, delivery.StatusPickedUp, "")
	e.setStatus(http.StatusOK, o, w.Courier, delivery.StatusDelivered, "")
	e.barrier(cust, staff, c1, c2, stranger, otherStaff)

	all := []string{"order.created#1", "order.status#2", "order.assigned#3", "order.status#4", "order.status#5", "order.status#6", "order.status#7"}
	fromAssigned := all[2:]
	check := func(c *wsClient, channel string, want []string) {
		t.Helper()
		if got := eventNames(withoutETA(c.events(channel))); !slices.Equal(got, want) {
			t.Errorf("%s on %s:\n got %v\nwant %v", c.name, channel, got, want)
		}
	}
	check(cust, order, all)
	check(cust, wire.UserChannel(w.Customer.User.ID), all)
	check(staff, order, all)
	check(staff, rest, all) // the tablet sees which courier is coming, too
	check(c1, order, all)   // replayed from 0 after the claim
	check(c1, wire.UserChannel(w.Courier.User.ID), fromAssigned)
	for _, c := range []*wsClient{c1, c2} {
		check(c, wire.DispatchChannel, []string{"order.offered#0", "order.claimed#0"})
	}
	check(c2, wire.UserChannel(w.Courier2.User.ID), nil)
	for _, c := range []*wsClient{stranger, otherStaff} {
		if got := c.allEvents(); len(got) != 0 {
			t.Errorf("%s got events: %s", c.name, dump(got))
		}
	}

	// The payloads: order events carry the order after the change; the
	// offer carries the offer view for couriers to decide on; the claim
	// only the order's id.
	var snap delivery.Order
	evs := cust.events(order)
	if err := json.Unmarshal(evs[len(evs)-1].Data, &snap); err != nil || snap.Status != delivery.StatusDelivered || snap.Seq != 7 {
		t.Errorf("last event data: %s (%v)", evs[len(evs)-1].Data, err)
	}
	d := c2.events(wire.DispatchChannel)
	if err := json.Unmarshal(d[0].Data, &snap); err != nil || snap.ID != o.ID || snap.Status != delivery.StatusAccepted {
		t.Errorf("offer data: %s", d[0].Data)
	}
	expectOfferView(t, d[0].Data, o.ID)
	if want := `{"order_id":"` + o.ID.String() + `"}`; string(d[1].Data) != want {
		t.Errorf("claim data: %s, want %s", d[1].Data, want)
	}
	for _, f := range cust.events(order) {
		if f.Ts == 0 {
			t.Errorf("event without ts: %+v", f)
		}
	}
}

// TestWSCancelAndReject: the other ends of the lifecycle reach the feeds
// too, and a rejected order is never offered.
func TestWSCancelAndReject(t *testing.T) {
	e := newRealtimeEnv(t)
	w := e.newWorld()
	cust, staff, courier := e.dial(w.Customer), e.dial(w.Restaurant), e.dial(w.Courier)
	rest := wire.RestaurantChannel(w.Restaurant.User.RestaurantID)
	staff.subscribe(rest)
	courier.subscribe(wire.DispatchChannel)
	rejected, cancelled := e.place(w), e.place(w)
	e.setStatus(http.StatusOK, rejected, w.Restaurant, delivery.StatusRejected, "closed")
	e.setStatus(http.StatusOK, cancelled, w.Customer, delivery.StatusCancelled, "")
	e.barrier(cust, staff, courier)
	if got := len(staff.events(rest)); got != 4 {
		t.Errorf("restaurant feed: %d events, want 4: %s", got, dump(staff.events(rest)))
	}
	if got := len(cust.events(wire.UserChannel(w.Customer.User.ID))); got != 4 {
		t.Errorf("customer feed: %d events, want 4", got)
	}
	if got := courier.allEvents(); len(got) != 0 {
		t.Errorf("courier offered an order never accepted: %s", dump(got))
	}
}

// TestWSChatMessageReachesTheUserFeeds: a chat message is an event of the
// order, so it is in the parties' user feeds; the restaurant feed carries
// creations and status changes only.
func TestWSChatMessageReachesTheUserFeeds(t *testing.T) {
	e := newRealtimeEnv(t)
	w := e.newWorld()
	o := e.place(w)
	e.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusAccepted, "")
	e.must(http.StatusOK, "POST", orderPath(o.ID)+"/claim", w.Courier.Token, nil)
	cust, staff, courier := e.dial(w.Customer), e.dial(w.Restaurant), e.dial(w.Courier)
	staff.subscribe(rest(w))
	o2, ev, err := e.Store.UpdateOrder(context.Background(), o.ID, func(*delivery.Order) (delivery.Change, error) {
		return delivery.Change{Type: delivery.EventChatMessage, Data: json.RawMessage(`{"text":"at the door"}`)}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.publishEvent(o2, ev)
	e.barrier(cust, staff, courier)
	for _, c := range []struct {
		client *wsClient
		ch     string
	}{{cust, wire.UserChannel(w.Customer.User.ID)}, {courier, wire.UserChannel(w.Courier.User.ID)}} {
		if got := eventNames(c.client.events(c.ch)); !slices.Equal(got, []string{"chat.message#4"}) {
			t.Errorf("%s: %v", c.ch, got)
		}
	}
	if got := staff.allEvents(); len(got) != 0 {
		t.Errorf("restaurant feed: %s", dump(got))
	}
}
