package hub

import (
	"sync/atomic"

	"github.com/ordercast/ordercast/internal/wire"
)

// counters are the hub's metric hooks: plain atomics, read by Stats, so
// that the caller can export them (Prometheus collectors registered by
// cmd/ordercast) without the hub depending on a metrics library.
type counters struct {
	accepted, closed                 atomic.Uint64
	subscriptions                    [wire.NumKinds]atomic.Int64 // by channel kind
	received, delivered, written     atomic.Uint64
	replayed, repairs                atomic.Uint64
	slowClosed, rateLimited, expired atomic.Uint64
	typingCoalesced                  atomic.Uint64
	locationsStale                   atomic.Uint64
	feedDuplicates                   atomic.Uint64
	shed                             [numShedClasses]atomic.Uint64
}

// Stats is a snapshot of the hub's counters.
type Stats struct {
	Connections   int64  // open now
	Accepted      uint64 // connections accepted since start
	Subscriptions int64  // subscriptions now
	// SubscriptionsByKind are the subscriptions now by channel kind
	// (indexed by wire.Kind; they sum to Subscriptions).
	SubscriptionsByKind [wire.NumKinds]int64
	Received            uint64 // frames read from peers (websocket messages; pings not)
	Published           uint64 // frames handed to the bus by the Publisher
	Delivered           uint64 // frames queued to sockets from the bus (and local pushes)
	Written             uint64 // frames written to sockets
	Replayed            uint64 // durable events queued from the Store (since, gap repair)
	Repairs             uint64 // gaps found in live order channels
	SlowClosed          uint64 // connections closed with 4009
	RateLimited         uint64 // connections closed with 4008
	Expired             uint64 // connections closed with 4001
	// TypingCoalesced counts typing frames dropped within the interval.
	TypingCoalesced uint64
	// LocationsSent counts courier positions (latest-value
	// publications) handed to the bus; LocationsHeld those held back by
	// the throttle (sent later unless a newer one replaced them);
	// LocationsStale deliveries of one dropped for a subscriber already
	// given a later event of the order (which may have ended the delivery).
	LocationsSent, LocationsHeld, LocationsStale uint64
	// FeedDuplicates counts second copies of a durable event dropped on a
	// feed subscription (an event relayed after its publisher died).
	FeedDuplicates uint64
	// Shed* count ephemeral frames dropped for connections whose send
	// queue was full, which stay open (a durable frame finding no room
	// closes its connection with 4009 instead), by class: courier
	// positions, typing, read marks, offers (order.offered and
	// order.claimed) and non-durable publishes.
	ShedLocations, ShedTyping, ShedReads, ShedOffers, ShedPublishes uint64
}

// Stats returns the current counters.
func (h *Hub) Stats() Stats {
	s := &h.stats
	acc, cl := s.accepted.Load(), s.closed.Load()
	var byKind [wire.NumKinds]int64
	var subs int64
	for k := range byKind {
		byKind[k] = s.subscriptions[k].Load()
		subs += byKind[k]
	}
	return Stats{
		Connections:         int64(acc) - int64(cl),
		Accepted:            acc,
		Subscriptions:       subs,
		SubscriptionsByKind: byKind,
		Received:            s.received.Load(),
		Published:           h.cfg.Publisher.published.Load(),
		Delivered:           s.delivered.Load(),
		Written:             s.written.Load(),
		Replayed:            s.replayed.Load(),
		Repairs:             s.repairs.Load(),
		SlowClosed:          s.slowClosed.Load(),
		RateLimited:         s.rateLimited.Load(),
		Expired:             s.expired.Load(),

		TypingCoalesced: s.typingCoalesced.Load(),
		LocationsSent:   h.cfg.Publisher.latestSent.Load(),
		LocationsHeld:   h.cfg.Publisher.latestHeld.Load(),
		LocationsStale:  s.locationsStale.Load(),
		FeedDuplicates:  s.feedDuplicates.Load(),

		ShedLocations: s.shed[shedLocation].Load(),
		ShedTyping:    s.shed[shedTyping].Load(),
		ShedReads:     s.shed[shedRead].Load(),
		ShedOffers:    s.shed[shedOffer].Load(),
		ShedPublishes: s.shed[shedPublish].Load(),
	}
}
