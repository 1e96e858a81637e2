package delivery

import "context"

// BusMessage is one frame on its way to the sockets subscribed to a
// channel. Frame is the encoded server frame (internal/wire), built once by
// the publishing instance and written as it is to every socket; receivers
// never re-encode it. Seq is the per-order sequence number of a durable
// order event (so that receivers can drop duplicates and notice gaps), 0
// for ephemeral messages. Receivers must not modify Frame.
type BusMessage struct {
	Channel string
	Seq     int64
	Frame   []byte
	// Conditions of an ephemeral message (Seq 0) on an order channel,
	// checked by each receiving hub against its own subscribers; zero
	// means none. Except: not for the sockets of this user (typing is
	// not echoed to its sender). AsOf: only for subscriptions given no
	// durable event with a seq above it, so that a courier position
	// checked while the order was active at seq AsOf never follows the
	// event that ended the delivery.
	Except ID
	AsOf   int64
	// Revoke, on a durable event of an order channel (order.unassigned):
	// the courier it removed, whose subscriptions to the channel end
	// after this event, on every instance.
	Revoke ID
	// Courier, on a courier position: whose it is. Of the subscribers
	// that are couriers only that one gets it: another courier may
	// still hold the channel, waiting for the event that removed it.
	Courier ID
	// Expires is the Publication's: when the subscribers' connections
	// expire at the latest (Unix ms), 0 for no change.
	Expires int64
}

// BusHandler receives what a Bus delivers. The hub implements it.
type BusHandler interface {
	// HandleMessage is called for every message published to a channel
	// this instance is subscribed to, this instance's own publishes
	// included. It must not block: the hub only queues the frame.
	HandleMessage(msg BusMessage)
	// HandleGap is called when messages may have been lost (for example
	// after the bus reconnected to its backend). The hub then re-reads
	// durable events from the Store for its order channels, so that
	// subscribers still see every durable event; ephemeral ones stay lost.
	HandleGap()
}

// Bus fans frames out to every instance that has subscribers for a
// channel. Implementations: internal/bus/memory (one process) and
// internal/bus/redis (many), both held to internal/bus/bustest.
//
// Guarantees, and what the hub does about what is not guaranteed:
//
//   - At most once. A message may be lost (backend restart, network cut);
//     the bus then calls HandleGap once it is connected again. Durable
//     events are in the Store before they are published, so the hub closes
//     such gaps from the Store; Seq lets it drop what it already delivered.
//   - Per-publisher order per channel: messages published on one channel
//     by successive Publish calls of one instance, or in order within one
//     call, reach each subscribed instance in that order. Concurrent
//     Publish calls, and different instances, are not ordered with
//     respect to each other; the hub restores per-order seq order on order
//     channels.
//   - Delivery to the local instance too: Publish reaches this instance's
//     handler when it is subscribed, exactly once, so the hub delivers
//     only what the bus hands back and never double-delivers its own
//     publishes.
//   - Subscription is effective on return: once Subscribe returned nil,
//     every message published to channel afterwards (by any instance)
//     reaches the handler, until Unsubscribe. The hub relies on this to
//     subscribe first and then read the Store without a gap.
//
// The hub calls Subscribe on a channel's first local subscriber and
// Unsubscribe after its last, never concurrently for one channel, so an
// instance's inbound traffic is only what its own sockets want.
// HandleMessage may be called concurrently, also for one channel.
type Bus interface {
	// Start sets the handler and begins delivery. It is called once,
	// before any other method.
	Start(h BusHandler) error
	// Publish sends each of msgs to every instance subscribed to its
	// Channel. It must not wait for subscribers to process them. The
	// messages of one call (an event's copies for its channels) may share
	// one round trip to the backend; an error means that some of them may
	// not have reached the other instances, and names their channels.
	// It does not keep msgs after it returned.
	Publish(ctx context.Context, msgs ...BusMessage) error
	// Subscribe starts delivery of channel's messages to this instance.
	Subscribe(ctx context.Context, channel string) error
	// Unsubscribe stops it; messages already in flight may still arrive.
	Unsubscribe(ctx context.Context, channel string) error
	// Close stops delivery; the handler is not called after Close returns.
	Close() error
}
