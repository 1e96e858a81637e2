package server_test

import (
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/testnet"
	"github.com/ordercast/ordercast/internal/wire"
)

// Three instances on one PostgreSQL and one Redis, the parties' sockets
// and REST calls spread over them: every party sees every event of the
// order exactly once, in order, on every channel it holds.
func TestClusterEveryPartySeesEveryEventOnceInOrder(t *testing.T) {
	c := newCluster(t, 3)
	a, b, cc := c.start(0, instanceOpts{}), c.start(1, instanceOpts{}), c.start(2, instanceOpts{})
	w := a.newWorld()
	rid := w.Restaurant.User.RestaurantID

	cust := a.dial(w.Customer)
	cust2 := cc.dial(w.Customer) // the same customer on a second device
	rest := b.dial(w.Restaurant)
	rest.subscribe(wire.RestaurantChannel(rid))
	cour := cc.dial(w.Courier)
	cour.subscribe(wire.DispatchChannel)

	o := a.place(w)
	order := orderChannel(o)
	for _, cl := range []*wsClient{cust, cust2, rest} {
		cl.subscribe(order, 0)
	}
	b.setStatus(200, o, w.Restaurant, delivery.StatusAccepted, "")
	cour.waitUntil("order.offered", func(fs []frame) bool {
		for _, f := range fs {
			if f.Event == wire.EventOrderOffered {
				return true
			}
		}
		return false
	})
	cc.claim(w.Courier)(o)
	cour.subscribe(order, 0)
	a.setStatus(200, o, w.Restaurant, delivery.StatusPreparing, "")
	b.setStatus(200, o, w.Restaurant, delivery.StatusReady, "")
	cc.setStatus(200, o, w.Courier, delivery.StatusPickedUp, "")
	a.setStatus(200, o, w.Courier, delivery.StatusDelivered, "")

	all := seqRange(1, 7)
	for _, cl := range []*wsClient{cust, cust2, rest, cour} {
		cl.waitEvents(order, len(all))
	}
	customerFeed := wire.UserChannel(w.Customer.User.ID)
	cust.waitEvents(customerFeed, len(all))
	cust2.waitEvents(customerFeed, len(all))
	// The barrier is published after every event, through another
	// instance: what a client lacks after it, it was never sent.
	b.barrier(cust, cust2, rest, cour)

	for _, cl := range []*wsClient{cust, cust2, rest, cour} {
		expectSeqs(t, cl, order, all)
	}
	expectFeedSeqs(t, cust, customerFeed, all)
	expectFeedSeqs(t, cust2, customerFeed, all)
	// The restaurant's feed has creation, status changes and the claim.
	expectFeedSeqs(t, rest, wire.RestaurantChannel(rid), all)
	// The courier's own feed starts with the assignment.
	expectFeedSeqs(t, cour, wire.UserChannel(w.Courier.User.ID), seqRange(3, 7))
	var offered, claimed int
	for _, f := range cour.events(wire.DispatchChannel) {
		switch f.Event {
		case wire.EventOrderOffered:
			offered++
		case wire.EventOrderClaimed:
			claimed++
		}
	}
	if offered != 1 || claimed != 1 {
		t.Errorf("dispatch: %d order.offered and %d order.claimed, want one each", offered, claimed)
	}
	// Each instance subscribed in Redis only what its own sockets hold,
	// and the channels of ended sessions and of couriers' orders.
	if n := b.Bus.Stats().Channels; n != 5 { // user:restaurant, restaurant:rid, order, ops.revoke, ops.couriers
		t.Errorf("instance b subscribes %d channels, want 5", n)
	}
}

// An instance that commits an event and dies before publishing it: a live
// instance's relay publishes it from the outbox, and every subscriber gets
// it once.
func TestClusterEventOfAnInstanceThatDiedIsRelayed(t *testing.T) {
	c := newCluster(t, 2)
	a := c.start(0, instanceOpts{})
	dying := c.start(1, instanceOpts{dies: true})
	w := a.newWorld()
	rid := w.Restaurant.User.RestaurantID
	o := a.place(w)
	order := orderChannel(o)

	cust := a.dial(w.Customer)
	cust.subscribe(order, 0)
	rest := a.dial(w.Restaurant)
	rest.subscribe(wire.RestaurantChannel(rid))
	cust.waitEvents(order, 1)

	// Committed by the dying instance, which never publishes it.
	dying.setStatus(200, o, w.Restaurant, delivery.StatusAccepted, "")
	// (Its ETA, ephemeral, went out at once.)
	cust.waitNamed(order, delivery.EventOrderStatus, 1)
	rest.waitNamed(wire.RestaurantChannel(rid), delivery.EventOrderStatus, 1)
	a.barrier(cust, rest)
	expectSeqs(t, cust, order, []int64{1, 2})
	expectSeqs(t, cust, wire.UserChannel(w.Customer.User.ID), []int64{2})
	expectSeqs(t, rest, wire.RestaurantChannel(rid), []int64{2})
	// Counted once the relay's transaction committed, just after publishing.
	waitFor(t, "the relay's count", func() bool { return a.Outbox.Stats().Relayed > 0 })
	if st := a.Outbox.Stats(); st.Relayed != 1 {
		t.Errorf("outbox of the live instance: %+v, want 1 relayed", st)
	}
}

// Redis cut off from every instance mid-stream: REST and each instance's
// own sockets keep working; once Redis is back, subscribers on other
// instances get every durable event they missed, once and in order.
func TestClusterRedisCutMidStreamLosesNoDurableEvent(t *testing.T) {
	c := newCluster(t, 2)
	proxyA := testnet.StartProxy(t, c.redisAddr())
	proxyB := testnet.StartProxy(t, c.redisAddr())
	a := c.start(0, instanceOpts{redisAddr: proxyA.Addr})
	b := c.start(1, instanceOpts{redisAddr: proxyB.Addr})
	w := a.newWorld()
	o := a.place(w)
	order := orderChannel(o)
	remote := a.dial(w.Customer) // events come from b through Redis
	remote.subscribe(order, 0)
	local := b.dial(w.Restaurant) // on the committing instance
	local.subscribe(order, 0)

	const before, during, after = 5, 10, 5
	for i := range before {
		b.tick(o, i)
	}
	remote.waitEvents(order, 1+before)

	proxyA.Cut()
	proxyB.Cut()
	waitFor(t, "bus down on both instances", func() bool {
		return !a.Bus.Stats().Connected && !b.Bus.Stats().Connected
	})
	for i := range during {
		b.tick(o, before+i) // REST keeps working
	}
	local.waitEvents(order, 1+before+during) // and local sockets too

	proxyA.Resume()
	proxyB.Resume()
	waitFor(t, "bus up again", func() bool { return a.Bus.Stats().Connected && b.Bus.Stats().Connected })
	for i := range after {
		b.tick(o, before+during+i)
	}
	total := 1 + before + during + after
	remote.waitEvents(order, total)
	local.waitEvents(order, total)
	a.barrier(remote, local)
	expectSeqs(t, remote, order, seqRange(1, int64(total)))
	expectSeqs(t, local, order, seqRange(1, int64(total)))
	if st := a.Bus.Stats(); st.Gaps == 0 || st.Disconnects == 0 {
		t.Errorf("bus of instance a: %+v, want a disconnect and a gap closed", st)
	}
}
