package server_test

import (
	"slices"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// TestClusterUnassignEndsSubscriptionsOnEveryInstance: a courier
// unassigned through one instance loses its subscriptions to the order on
// every instance (after the order.unassigned event, an unsubscribed
// frame), and nothing of the order reaches it afterwards on any of them:
// not the order's next events, not the new courier's positions, not its
// feed. The other parties go on seeing everything.
func TestClusterUnassignEndsSubscriptionsOnEveryInstance(t *testing.T) {
	c := newCluster(t, 2)
	a, b := c.start(0, instanceOpts{}), c.start(1, instanceOpts{})
	w := a.newWorld()
	o := a.claimed(w) // seq 3
	ch := orderChannel(o)
	feed := wire.UserChannel(w.Courier.User.ID)

	onA, onB := a.dial(w.Courier), b.dial(w.Courier) // the courier's phone and tablet
	onA.subscribe(ch)
	onB.subscribe(ch, 0)
	cust := b.dial(w.Customer)
	cust.subscribe(ch)
	dispatch := b.dial(w.Courier2)
	dispatch.subscribe(wire.DispatchChannel)
	onB.waitEvents(ch, 3)

	a.must(200, "POST", orderPath(o.ID)+"/unassign", w.Restaurant.Token, map[string]any{"reason": "van broke down"}) // 4
	onA.waitUnsubscribed(ch)
	onB.waitUnsubscribed(ch)
	expectOfferView(t, dispatch.waitNamed(wire.DispatchChannel, wire.EventOrderOffered, 1)[0].Data, o.ID)

	b.setStatus(200, o, w.Restaurant, delivery.StatusPreparing, "")      // 5
	a.mustPost(o, w.Customer, "any news?", "m-1")                        // 6
	a.must(200, "POST", orderPath(o.ID)+"/claim", w.Courier2.Token, nil) // 7
	a.dial(w.Courier2).ok(locationFrame(52.5, 13.4, time.Now().UnixMilli()+1))
	cust.waitNamed(ch, delivery.EventCourierLocation, 1)
	cust.waitEvents(ch, 5) // 4 to 7 and the position
	a.barrier(onA, onB, cust)
	b.barrier(onA, onB, cust)

	for _, cl := range []*wsClient{onA, onB} {
		expectEndedAfterUnassign(t, cl, ch, 4)
		if got := eventNames(cl.events(feed)); !slices.Equal(got, []string{"order.unassigned#4"}) {
			t.Errorf("%s's feed: %v, want the unassign and nothing after", cl.name, got)
		}
	}
	if got := seqs(cust.named(ch, delivery.EventOrderAssigned)); !slices.Equal(got, []int64{7}) {
		t.Errorf("customer on %s: assignments %v", ch, got)
	}
	expectFeedSeqs(t, cust, wire.UserChannel(w.Customer.User.ID), []int64{4, 5, 6, 7})
}
