package server_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/ordercast/ordercast/internal/app"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// unmarked is a store whose committer's marks never land, as an instance
// killed after it published a burst and before it marked it: every event
// it publishes is published again by a relay.
type unmarked struct {
	app.Store
	refused atomic.Int64
}

func (u *unmarked) MarkPublished(context.Context, []delivery.Event) error {
	u.refused.Add(1)
	return errors.New("instance died before marking")
}

// TestClusterFeedGetsARelayedEventOnce: events instance B published but
// never marked are relayed a second time; the feeds of the parties on
// instance A get each of them once (issue 14), as the order channel does.
func TestClusterFeedGetsARelayedEventOnce(t *testing.T) {
	c := newCluster(t, 2)
	var store *unmarked
	a := c.start(0, instanceOpts{})
	b := c.start(1, instanceOpts{edit: func(cfg *app.Config) {
		store = &unmarked{Store: cfg.Store}
		cfg.Store = store
	}})
	w := a.newWorld()
	rid := w.Restaurant.User.RestaurantID
	customerFeed, restaurantFeed := wire.UserChannel(w.Customer.User.ID), wire.RestaurantChannel(rid)
	cust, rest := a.dial(w.Customer), a.dial(w.Restaurant)
	rest.subscribe(restaurantFeed)
	o := a.place(w) // seq 1, published and marked by A
	order := orderChannel(o)
	cust.subscribe(order, 0)

	// Published by B, never marked: each relayed once more after the grace.
	b.setStatus(200, o, w.Restaurant, delivery.StatusAccepted, "")  // 2
	b.setStatus(200, o, w.Restaurant, delivery.StatusPreparing, "") // 3
	b.setStatus(200, o, w.Restaurant, delivery.StatusReady, "")     // 4
	b.setStatus(200, o, w.Restaurant, delivery.StatusCancelled, "no courier")
	const relayed = 4
	waitFor(t, "B's events relayed", func() bool {
		return a.Outbox.Stats().Relayed+b.Outbox.Stats().Relayed >= relayed
	})
	// Each relayed event reached both feeds (and the order channel, whose
	// copy is dropped by seq): the copies on the feeds were dropped too.
	waitFor(t, "the relayed copies dropped on the feeds", func() bool { return a.Hub.Stats().FeedDuplicates >= 2*relayed })
	a.barrier(cust, rest)
	all := seqRange(1, 5)
	expectSeqs(t, cust, order, all)
	expectFeedSeqs(t, cust, customerFeed, all)
	expectFeedSeqs(t, rest, restaurantFeed, all)
	if store.refused.Load() == 0 {
		t.Fatal("B marked its events: nothing was relayed twice")
	}
}
