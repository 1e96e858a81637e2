package hub

import (
	"strconv"
	"sync/atomic"

	"github.com/ordercast/ordercast/internal/wire"
)

// counters are the hub's metric hooks: plain atomics, read by Stats, so
// that the caller can export them (Prometheus collectors registered by
// internal/app) without the hub depending on a metrics library; the send
// queues' histogram too, in buckets of its own. The sizes of replays go
// to the Observers of Config.
type counters struct {
	accepted, closed                 atomic.Uint64
	opened                           [numTransports]atomic.Uint64
	closes                           [numTransports][len(CloseCodes)]atomic.Uint64
	subscriptions                    [wire.NumKinds]atomic.Int64 // by channel kind
	received, delivered, written     atomic.Uint64
	writtenAtOnce, writers           atomic.Uint64
	replayed, repairs                atomic.Uint64
	slowClosed, rateLimited, expired atomic.Uint64
	typingCoalesced                  atomic.Uint64
	locationsStale                   atomic.Uint64
	feedDuplicates                   atomic.Uint64
	shed                             [numShedClasses]atomic.Uint64
	// queueDepth counts the sweeper's samples of send queues by bucket of
	// SendQueueBuckets (the last: above them all), queueFrames their sum.
	queueDepth  [len(SendQueueBuckets) + 1]atomic.Uint64
	queueFrames atomic.Uint64
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
	// WrittenAtOnce counts the frames of Written that their sender wrote
	// (client.writeNowLocked), Writers the writer goroutines started for
	// the others (each writes one burst or more).
	WrittenAtOnce, Writers uint64
	Replayed               uint64 // durable events queued from the Store (since, gap repair)
	Repairs                uint64 // gaps found in live order channels
	SlowClosed             uint64 // connections closed with 4009
	RateLimited            uint64 // connections closed with 4008
	Expired                uint64 // connections closed with 4001
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
	// Opened counts the connections accepted by transport, Closed those
	// ended by transport and close code, in the order of Transports and
	// CloseCodes.
	Opened [numTransports]uint64
	Closed [numTransports][len(CloseCodes)]uint64
	// SendQueue is the histogram of every open connection's queued
	// frames, sampled by the sweeper every SweepInterval.
	SendQueue QueueHistogram
}

// SendQueueBuckets are the upper bounds, in frames, of the buckets of
// Stats.SendQueue: up to the default cap of 512 queued frames, past which
// a durable frame closes its connection with 4009.
var SendQueueBuckets = [...]int{0, 1, 4, 16, 64, 128, 256, 384, 512}

// QueueHistogram is a histogram of queue lengths: Counts[i] samples were
// at most SendQueueBuckets[i] and above the bucket before (the last
// count: above them all), Sum frames in all.
type QueueHistogram struct {
	Counts [len(SendQueueBuckets) + 1]uint64
	Sum    uint64
}

// queueSamples gathers one sweep's samples, off the atomics: the sweep
// adds them up once, not once per connection.
type queueSamples QueueHistogram

func (q *queueSamples) add(frames int) {
	i := 0
	for i < len(SendQueueBuckets) && frames > SendQueueBuckets[i] {
		i++
	}
	q.Counts[i]++
	q.Sum += uint64(frames)
}

func (s *counters) addQueueSamples(q *queueSamples) {
	for i, n := range q.Counts {
		if n > 0 {
			s.queueDepth[i].Add(n)
		}
	}
	s.queueFrames.Add(q.Sum)
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
	st := Stats{
		Connections:         int64(acc) - int64(cl),
		Accepted:            acc,
		Subscriptions:       subs,
		SubscriptionsByKind: byKind,
		Received:            s.received.Load(),
		Published:           h.cfg.Publisher.published.Load(),
		Delivered:           s.delivered.Load(),
		Written:             s.written.Load(),
		WrittenAtOnce:       s.writtenAtOnce.Load(),
		Writers:             s.writers.Load(),
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
	for i := range s.queueDepth {
		st.SendQueue.Counts[i] = s.queueDepth[i].Load()
	}
	st.SendQueue.Sum = s.queueFrames.Load()
	for t := range numTransports {
		st.Opened[t] = s.opened[t].Load()
		for i := range CloseCodes {
			st.Closed[t][i] = s.closes[t][i].Load()
		}
	}
	return st
}

// Observer takes one observation of a distribution; a Prometheus
// histogram is one.
type Observer interface{ Observe(float64) }

// Observers receive the hub's distributions of events too rare to
// count apart; nil ones observe nothing.
type Observers struct {
	// Resume and Repair take the durable events one replay queued (a
	// subscribe with since; a gap repair), when it queued any.
	Resume, Repair Observer
}

type noObserver struct{}

func (noObserver) Observe(float64) {}

func (o *Observers) setDefaults() {
	for _, p := range []*Observer{&o.Resume, &o.Repair} {
		if *p == nil {
			*p = noObserver{}
		}
	}
}

// Transports name the transports, in the order of Stats.Opened.
var Transports = [numTransports]string{"websocket", "sse"}

const (
	transportWebsocket = iota
	transportSSE
	numTransports
)

func transportOf(t transport) int {
	if _, ok := t.(*sseConn); ok {
		return transportSSE
	}
	return transportWebsocket
}

// CloseCodes name what a connection ended with, in the order of
// Stats.Closed: the code the hub closed it with (or the websocket
// library, 1009 for a frame over the read limit, 1002 for a frame it
// refused), else the one the peer sent (1000 normal, 1001 going away),
// "none" when neither did (the connection was lost or a write failed; an
// event stream's client leaving) and "other" for any other code.
var CloseCodes = [...]string{"none", "1000", "1001", "1009", "1011", "1012", "4001", "4003", "4008", "4009", "other"}

// closeCodeIndex is the place of code among CloseCodes; 0 is none, as
// is 1006 (no close either way).
func closeCodeIndex(code int) int {
	if code <= 0 || code == closeAbnormal {
		return 0
	}
	name := strconv.Itoa(code)
	for i, c := range CloseCodes {
		if c == name {
			return i
		}
	}
	return len(CloseCodes) - 1
}

// endLocked is how a connection whose reader ended with readErr ended,
// for its metrics and its log line: the close the hub asked for (a write
// that failed cut it with none), else the end its transport read.
func (c *client) endLocked(readErr error) (code int, reason string) {
	if c.reason.Code != 0 {
		return c.reason.Code, c.reason.Name
	}
	return c.t.ended(readErr)
}
