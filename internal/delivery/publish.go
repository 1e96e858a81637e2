package delivery

import "context"

// Publication is one event on its way to the subscribers of one channel.
// The order service decides every publication of a change (its channels,
// payloads and conditions: internal/orders' routing table); the hub
// encodes each once and fans it out by channel name, knowing no order
// rule.
type Publication struct {
	Channel string
	Event   string
	Data    []byte // JSON
	// Seq is the order's seq of a durable event, on its order channel and
	// on the feeds it is copied to; 0 for an ephemeral event.
	Seq int64
	// Order names the order of a durable event copied to a feed, which
	// carries events of many orders: the frame says it, and a receiving
	// hub drops a second copy of (Order, Seq). 0 elsewhere.
	Order ID
	// Ts is when the event happened, in milliseconds since the epoch.
	Ts int64
	// Conditions checked by every receiving hub; zero means none. Except:
	// not for the subscriptions of this user (typing is not echoed to its
	// sender). AsOf: only for subscriptions given no durable event above
	// this seq (a position checked while the order was active at AsOf must
	// not follow the event that ended the delivery). Revoke: after this
	// durable event the user's subscriptions to the channel end (the
	// courier an unassign removed). Courier: of the subscribers that are
	// couriers only this one gets it (a removed courier may hold the
	// channel until its Revoke arrives).
	Except  ID
	AsOf    int64
	Revoke  ID
	Courier ID
	// Latest marks a latest-value event (a position): the hub sends at
	// most one per interval per channel and Courier, the newest, and holds
	// back the others.
	Latest bool
	// Expires, on a track channel: when (Unix ms) its viewers' access
	// ends, the order having ended (its links expire TrackGrace later).
	// Each receiving hub brings its subscribers' connections' expiry
	// forward to it; 0: no change.
	Expires int64
}

// Publisher hands publications to every instance's subscribers. The hub's
// publisher implements it: it never blocks on sockets, and an error means
// the bus did not take every publication (the outbox then relays the
// event's again).
type Publisher interface {
	Publish(ctx context.Context, pubs ...Publication) error
}
